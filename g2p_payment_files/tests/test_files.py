"""Payment files end to end: prepare, send (files written once per batch), reconcile."""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from g2p_payment_files.models import PaymentFile, PaymentReconciliation, ReconciliationImport
from g2p_payment_files.services import reconciliation_import
from g2p_payment_files.tests.conftest import approve_and_prepare, file_config, file_program
from g2p_programs.choices import PaymentState, PaymentStatus
from g2p_programs.models import Payment, PaymentBatch
from g2p_programs.registry import registry
from g2p_programs.services import payments as payment_services
from g2p_programs.tests.fixtures_money import add_beneficiaries, bank_account
from g2p_registry_base.models import Registrant

pytestmark = pytest.mark.django_db

PEOPLE = [
    ("Ann", "Mwangi", "KE-001", "Ann Mwangi"),
    ("Bo", "Otieno", "KE-002", ""),
    ("Cy", "Njeri", "KE-003", "C. Njeri"),
]


def _cycle_with_people(*, formats=("csv", "xlsx")):
    configs = {
        "csv": file_config("Bank CSV", "csv"),
        "xlsx": file_config("Bank XLSX", "xlsx", qr="payment.name"),
    }
    chosen = [configs[f] for f in formats]
    cycle = file_program(
        "Files", config={"max_batch_size": 2, "file_config_ids": [c.pk for c in chosen]}
    )
    people = []
    for given, family, account, holder in PEOPLE:
        person = Registrant(is_group=False, given_name=given, family_name=family)
        person.save()
        acct = bank_account(person, account)
        acct.acc_holder_name = holder
        acct.save()
        people.append(person)
    add_beneficiaries(cycle, people)
    return cycle, configs


def _expected_lines(batch):
    lines = []
    for p in batch.payments.order_by("pk").select_related("entitlement__registrant"):
        family = p.entitlement.registrant.family_name
        holder = next(h for _g, f, _a, h in PEOPLE if f == family) or "-"
        lines.append(
            [
                p.name,
                family.upper(),
                p.account_number,
                holder,
                "100.00",
                "USD",
                p.issuance_date.strftime("%Y-%m-%d"),
            ]
        )
    return lines


HEADERS = ["Reference", "Beneficiary", "Account", "Holder", "Amount", "Currency", "Date"]


def _csv_bytes(rows):
    return "".join(",".join(r) + "\r\n" for r in rows).encode()


def _snapshot(cycle):
    return (
        list(Payment.objects.filter(cycle=cycle).order_by("pk").values()),
        list(PaymentReconciliation.objects.order_by("pk").values()),
        ReconciliationImport.objects.count(),
    )


def test_file_manager_is_registered_under_its_key():
    cls = registry.get("payment", "file")
    assert (cls.__name__, cls.upstream_model) == (
        "FilePaymentManager",
        "g2p.program.payment.manager.file",
    )


def test_round_trip_prepare_send_files_then_reconcile(inline):
    cycle, configs = _cycle_with_people()
    prepared = approve_and_prepare(cycle)
    assert prepared.data == {"payments": 3, "batches": 2}
    batches = list(PaymentBatch.objects.filter(cycle=cycle).order_by("pk"))
    assert [b.payments.count() for b in batches] == [2, 1]
    assert PaymentFile.objects.count() == 0  # files are written when the batch is sent

    sent = payment_services.payments_send(cycle=cycle, actor=None)
    assert sent.data == {"batches": 2, "payments": 3}
    assert PaymentFile.objects.count() == 4
    for batch in batches:
        expected = _expected_lines(batch)
        csv_file = PaymentFile.objects.get(batch=batch, config=configs["csv"])
        content = bytes(csv_file.content)
        assert content == _csv_bytes([HEADERS, *expected])
        assert csv_file.checksum == hashlib.sha256(content).hexdigest()
        assert (csv_file.row_count, csv_file.filename) == (
            len(expected),
            f"{batch.name}-bank-csv.csv",
        )

        xlsx_file = PaymentFile.objects.get(batch=batch, config=configs["xlsx"])
        data = bytes(xlsx_file.content)
        assert xlsx_file.checksum == hashlib.sha256(data).hexdigest()
        assert xlsx_file.row_count == len(expected)
        sheet = load_workbook(io.BytesIO(data)).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert rows == [[*HEADERS, "QR Code"], *[[*line, line[0]] for line in expected]]
        assert len(sheet._images) == len(expected)  # one QR code PNG per payment

    # sending again writes no second file
    payment_services.payments_send(cycle=cycle, actor=None)
    assert PaymentFile.objects.count() == 4

    ann, bo, cy = Payment.objects.filter(cycle=cycle).order_by("pk")
    result_file = _csv_bytes(
        [
            ["reference", "status", "amount_paid", "date", "reason"],
            [ann.name, "paid", "100.00", "2025-02-03", ""],
            [bo.name, "failed", "0", "2025-02-04", "Account closed"],
            [cy.name, "PAID", "99.5", "", ""],
        ]
    )
    result = reconciliation_import(filename="bank.csv", content=result_file, actor=None)
    assert (result.problems, result.rows, result.reconciled) == ([], 3, 3)
    got = list(
        Payment.objects.filter(cycle=cycle)
        .order_by("pk")
        .values_list("state", "status", "amount_paid", "status_is_final")
    )
    assert got == [
        (PaymentState.RECONCILED, PaymentStatus.PAID, Decimal("100.00"), True),
        (PaymentState.RECONCILED, PaymentStatus.FAILED, Decimal("0.00"), True),
        (PaymentState.RECONCILED, PaymentStatus.PAID, Decimal("99.50"), True),
    ]
    assert ann.__class__.objects.get(pk=ann.pk).payment_datetime.isoformat() == (
        "2025-02-03T00:00:00+00:00"
    )
    recon = list(
        PaymentReconciliation.objects.order_by("payment_id").values_list(
            "payment_id", "status", "amount_paid", "paid_on", "reason", "source__checksum"
        )
    )
    checksum = hashlib.sha256(result_file).hexdigest()
    assert [(r[0], r[1], r[2], str(r[3]), r[4], r[5]) for r in recon] == [
        (ann.pk, "paid", Decimal("100.00"), "2025-02-03", "", checksum),
        (bo.pk, "failed", Decimal("0.00"), "2025-02-04", "Account closed", checksum),
        (cy.pk, "paid", Decimal("99.50"), "None", "", checksum),
    ]

    # the same file again changes nothing; the same rows in another file neither
    before = _snapshot(cycle)
    again = reconciliation_import(filename="bank.csv", content=result_file, actor=None)
    assert (again.already_imported, again.reconciled, again.problems) == (True, 0, [])
    other = reconciliation_import(filename="b2.csv", content=result_file + b"\r\n", actor=None)
    assert (other.already_imported, other.reconciled, other.problems) == (False, 0, [])
    after = _snapshot(cycle)
    assert (after[0], after[1], after[2]) == (before[0], before[1], before[2] + 1)


def test_xlsx_result_file_reconciles(inline):
    cycle, _configs = _cycle_with_people(formats=("csv",))
    approve_and_prepare(cycle)
    payment_services.payments_send(cycle=cycle, actor=None)
    ann, bo, cy = Payment.objects.filter(cycle=cycle).order_by("pk")
    import datetime

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Reference", "Status", "Amount_Paid", "Date", "Reason"])
    sheet.append([ann.name, "paid", 100, datetime.datetime(2025, 2, 3), None])
    sheet.append([bo.name, "failed", None, None, "Unknown account"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = reconciliation_import(filename="bank.xlsx", content=buffer.getvalue(), actor=None)
    assert (result.problems, result.reconciled) == ([], 2)
    assert list(
        Payment.objects.filter(cycle=cycle).order_by("pk").values_list("state", "status")
    ) == [("reconciled", "paid"), ("reconciled", "failed"), ("sent", "")]
    assert PaymentReconciliation.objects.get(payment=bo).reason == "Unknown account"


def test_malformed_and_unmatched_rows_are_reported_and_change_nothing(inline):
    cycle, _configs = _cycle_with_people(formats=("csv",))
    approve_and_prepare(cycle)
    ann, bo, cy = Payment.objects.filter(cycle=cycle).order_by("pk")
    payment_services.payment_batches_send(batch_ids=[ann.batch_id], actor=None)  # cy not sent
    before = _snapshot(cycle)
    content = _csv_bytes(
        [
            ["reference", "status", "amount_paid", "date", "reason"],
            [ann.name, "paid", "100.00", "2025-02-03", ""],
            [bo.name, "lost", "12.345", "03/02/2025", ""],
            ["", "failed", "-1", "", ""],
            [ann.name, "paid", "100.00", "", ""],
            ["NO-SUCH-REF", "paid", "1", "", ""],
            [cy.name, "paid", "abc", "", ""],
        ]
    )
    result = reconciliation_import(filename="bad.csv", content=content, actor=None)
    assert [(p.row, p.column, p.problem) for p in result.problems] == [
        (3, "status", 'must be "paid" or "failed"'),
        (3, "amount_paid", "not an amount with at most 2 decimals"),
        (3, "date", "not a date (YYYY-MM-DD)"),
        (4, "reference", "empty"),
        (4, "amount_paid", "not an amount with at most 2 decimals"),
        (4, "reason", "required for a failed payment"),
        (5, "reference", "repeated (first on row 2)"),
        (7, "amount_paid", "not an amount with at most 2 decimals"),
    ]
    assert str(result.problems[0]) == 'Row 3, column status: must be "paid" or "failed"'
    assert _snapshot(cycle) == before

    # well-formed rows that do not match a sent payment: reported, nothing written
    unmatched = _csv_bytes(
        [
            ["reference", "status", "amount_paid", "date", "reason"],
            [ann.name, "paid", "100.00", "2025-02-03", ""],
            ["NO-SUCH-REF", "paid", "1", "", ""],
            [cy.name, "paid", "100", "", ""],
        ]
    )
    result = reconciliation_import(filename="unmatched.csv", content=unmatched, actor=None)
    assert [(p.row, p.column, p.problem) for p in result.problems] == [
        (3, "reference", "no payment with this reference"),
        (4, "reference", "the payment has not been sent"),
    ]
    assert result.reconciled == 0
    assert _snapshot(cycle) == before

    missing = reconciliation_import(
        filename="cols.csv", content=b"reference,status\r\nx,paid\r\n", actor=None
    )
    assert [(p.row, p.column, p.problem) for p in missing.problems] == [
        (1, "amount_paid", "missing column"),
        (1, "date", "missing column"),
        (1, "reason", "missing column"),
    ]
    assert _snapshot(cycle) == before

    # a payment reconciled once cannot be reconciled differently by a later file
    first = reconciliation_import(
        filename="ok.csv",
        content=_csv_bytes(
            [
                ["reference", "status", "amount_paid", "date", "reason"],
                [ann.name, "paid", "100", "", ""],
            ]
        ),
        actor=None,
    )
    assert first.reconciled == 1
    before = _snapshot(cycle)
    changed = reconciliation_import(
        filename="changed.csv",
        content=_csv_bytes(
            [
                ["reference", "status", "amount_paid", "date", "reason"],
                [ann.name, "failed", "0", "", "Reversed"],
            ]
        ),
        actor=None,
    )
    assert [(p.row, p.column, p.problem) for p in changed.problems] == [
        (2, "status", "the payment is already reconciled as paid"),
    ]
    assert _snapshot(cycle) == before


def test_dry_run_checks_and_changes_nothing(inline):
    cycle, _configs = _cycle_with_people(formats=("csv",))
    approve_and_prepare(cycle)
    payment_services.payments_send(cycle=cycle, actor=None)
    ann = Payment.objects.filter(cycle=cycle).order_by("pk").first()
    before = _snapshot(cycle)
    content = _csv_bytes(
        [
            ["reference", "status", "amount_paid", "date", "reason"],
            [ann.name, "paid", "100", "", ""],
        ]
    )
    preview = reconciliation_import(filename="p.csv", content=content, actor=None, dry_run=True)
    assert (preview.problems, preview.reconciled, preview.record) == ([], 1, None)
    assert _snapshot(cycle) == before
    done = reconciliation_import(filename="p.csv", content=content, actor=None)
    assert done.reconciled == 1


def test_xlsx_cells_are_text_never_formulas(inline):
    config = file_config("Formula", "xlsx")
    cycle = file_program("Formula", config={"file_config_ids": [config.pk]})
    person = Registrant(is_group=False, given_name="Eve", family_name='=HYPERLINK("x")')
    person.save()
    account = bank_account(person, "KE-009")
    account.acc_holder_name = "=1+1"
    account.save()
    add_beneficiaries(cycle, [person])
    approve_and_prepare(cycle)
    payment_services.payments_send(cycle=cycle, actor=None)
    sheet = load_workbook(io.BytesIO(bytes(PaymentFile.objects.get().content))).active
    row = list(sheet.iter_rows(min_row=2, max_row=2))[0]
    assert [(c.value, c.data_type) for c in row[1:4]] == [
        ('=HYPERLINK("X")', "s"),
        ("KE-009", "s"),
        ("=1+1", "s"),
    ]
