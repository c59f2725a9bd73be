"""An individual program of 10,000 registrants through its whole lifecycle on the job path.

Every step over beneficiaries is above the inline threshold (upstream's 200), so each one locks
the program or cycle, is enqueued in the request's transaction and runs in a real procrastinate
worker in keyset chunks of 2,000. After each step the test checks the lock was released, the
progress record (total, done, errors, outcome message) and every state and amount it produced.
"""

from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from g2p_programs import jobs
from g2p_programs.choices import ManagerKind
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    PaymentBatchTag,
    Program,
    ProgramMembership,
)
from g2p_programs.roles import ROLE_CYCLE_APPROVER, ROLE_FINANCE_VALIDATOR, ROLE_PROGRAM_MANAGER
from g2p_programs.services import cycles, entitlements, funds, payments, programs
from g2p_programs.tests.test_jobs import delete_program_jobs, run_worker
from g2p_registry_base.models import IdType, Registrant
from pbms.models import JobProgress

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

N = 10_000
CHUNK = 2_000


@pytest.fixture
def job_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings.G2P_MAX_ROWS_INLINE = 200  # upstream's threshold
    settings.G2P_JOB_CHUNK_SIZE = CHUNK
    monkeypatch.delenv("G2P_JOB_CHUNK_SIZE", raising=False)
    monkeypatch.delenv("G2P_JOB_CHUNK_DELAY_MS", raising=False)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    delete_program_jobs()
    yield settings
    delete_program_jobs()


def _user(django_user_model: Any, name: str, role: str) -> Any:
    user = django_user_model.objects.create_user(name, password=f"{name}-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _registry() -> list[int]:
    """10,000 individuals: g % 5 in (1, 2, 3) are female (6,000); National ID ``NID<g>``, but
    9,901..10,000 reuse the IDs of 9,801..9,900 (100 shared IDs). Two statements."""
    id_type = IdType(name="National ID")
    id_type.save()
    company = Registrant._meta.get_field("company").get_default()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO g2p_registry_base_registrant
              (is_registrant, is_group, name, given_name, family_name, addl_name, birth_place,
               birthdate_not_exact, address, email, civil_status, occupation, is_partial_group,
               additional_g2p_info, company_id, active, disabled_reason, create_date, write_date,
               gender, birthdate)
            SELECT true, false, 'PERSON, ' || g, g::text, 'PERSON', '', '', false, '', '', '', '',
                   false, jsonb_build_object('g', g), %(company)s, true, '', now(), now(),
                   CASE WHEN g %% 5 IN (1, 2, 3) THEN 'Female' ELSE 'Male' END,
                   DATE '1980-01-01' + (g %% 3650)
              FROM generate_series(1, %(n)s) g
            """,
            {"company": company, "n": N},
        )
        cursor.execute(
            """
            INSERT INTO g2p_registry_base_registrantid
              (registrant_id, id_type_id, value, status, description)
            SELECT r.id, %(type)s,
                   'NID' || CASE WHEN g > 9900 THEN g - 100 ELSE g END, '', ''
              FROM g2p_registry_base_registrant r,
                   LATERAL (SELECT (r.additional_g2p_info->>'g')::int AS g) x
             WHERE r.family_name = 'PERSON'
            """,
            {"type": id_type.pk},
        )
    return list(
        Registrant.objects.filter(family_name="PERSON").order_by("pk").values_list("pk", flat=True)
    )


def _disable(registrant_ids: list[int]) -> int:
    return Registrant.objects.filter(pk__in=registrant_ids).update(
        disabled=timezone.now(), disabled_reason="moved"
    )


def _g(*states: str, model: Any = ProgramMembership, **filters: Any) -> Counter[str]:
    qs = model.objects.filter(**filters)
    return Counter(qs.values_list("state", flat=True))


def _last_progress(operation: str) -> JobProgress:
    return JobProgress.objects.filter(operation=operation).order_by("-pk").first()  # type: ignore[return-value]


def _ran(progress: JobProgress, *, total: int, message: str, errors: int = 0) -> None:
    progress.refresh_from_db()
    assert (
        progress.state,
        progress.total,
        progress.done,
        progress.error_count,
        progress.message,
    ) == ("done", total, total, errors, message)


def _unlocked(obj: Any) -> None:
    obj.refresh_from_db()
    assert (obj.locked, obj.locked_reason) == (False, "")


def _run(obj: Any, reason: str) -> None:
    """The step locked ``obj`` with ``reason``; a worker runs the job to the end."""
    obj.refresh_from_db()
    assert (obj.locked, obj.locked_reason) == (True, reason)
    run_worker()
    _unlocked(obj)


def test_ten_thousand_beneficiaries_through_the_job_path(
    job_settings: Any, django_user_model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pbms.notifications")
    manager = _user(django_user_model, "pm", ROLE_PROGRAM_MANAGER)
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    finance = _user(django_user_model, "finance", ROLE_FINANCE_VALIDATOR)
    ids = _registry()

    program = programs.program_create(
        name="Women's cash support",
        target_type="individual",
        currency="KES",
        eligibility_domain="[('gender', '=', 'Female')]",
        actor=manager,
    )
    tag = PaymentBatchTag(name="All", order=1, domain="[]", max_batch_size=500)
    tag.save()
    for kind, config in (
        (ManagerKind.ENTITLEMENT, {"amount_per_cycle": "100.00", "transfer_fee_pct": "2.00"}),
        (ManagerKind.CYCLE, {"recurrence": {"rrule_type": "monthly", "cycle_duration": 1}}),
        (ManagerKind.PAYMENT, {"create_batch": True, "batch_tag_ids": [tag.pk]}),
    ):
        assignment = ManagerAssignment.objects.get(program=program, kind=kind)
        programs.manager_configure(assignment=assignment, config=config, actor=manager)
    ManagerAssignment(
        program=program,
        kind=ManagerKind.DEDUPLICATION,
        manager_key="id",
        name="ID",
        config={"id_types": ["National ID"]},
        sequence=20,
    ).save()

    added = programs.program_add_registrants(program=program, registrant_ids=ids, actor=manager)
    assert added.message == f"Total registrants:{N}, Already in program:0, Newly added:{N}"
    # 200 women move away before enrolment: g = 1, 51, 101, … (all female)
    assert _disable([pk for g, pk in enumerate(ids, start=1) if g % 50 == 1]) == 200

    # Enrol: 5,800 women enrolled, 4,000 men and the 200 who moved not eligible.
    note = programs.program_enroll_eligible(program=program, actor=manager)
    assert note.message == f"Eligibility check of {N} beneficiaries started."
    _run(program, "Eligibility check of beneficiaries")
    _ran(_last_progress("g2p.enrol"), total=N, message="Eligibility check finished.")
    assert _g(program=program) == {"enrolled": 5800, "not_eligible": 4200}

    # Deduplicate by National ID: 58 pairs of enrolled women share an ID (the other 42 pairs
    # are men or moved away); both memberships of each pair are marked.
    note = programs.program_deduplicate(program=program, actor=manager)
    assert note.message == "Deduplication of 5800 beneficiaries started."
    _run(program, "Deduplication of beneficiaries")
    _ran(
        _last_progress("g2p.deduplicate"),
        total=5800,
        message="116 Instances of Beneficiaries duplicate.",
    )
    assert _g(program=program) == {"enrolled": 5684, "duplicated": 116, "not_eligible": 4200}
    assert program.duplicate_groups.count() == 58

    # A cycle takes the 5,684 enrolled beneficiaries.
    cycle, note = cycles.program_create_new_cycle(program=program, actor=manager)
    assert note.message == "New cycle Cycle 1 created. Import of 5684 beneficiaries started."
    _run(cycle, "Importing beneficiaries.")
    _ran(
        _last_progress("g2p.cycle_copy_beneficiaries"),
        total=5684,
        message="Beneficiary import finished.",
    )
    assert _g(model=CycleMembership, cycle=cycle) == {"enrolled": 5684}

    # 84 more move away; the cycle's eligibility check drops them.
    moved = _disable(
        list(
            CycleMembership.objects.filter(cycle=cycle)
            .order_by("-pk")
            .values_list("registrant_id", flat=True)[:84]
        )
    )
    assert moved == 84
    note = cycles.cycle_check_eligibility(cycle=cycle, actor=manager)
    assert note.message == "Eligibility check of 5684 beneficiaries started."
    _run(cycle, "Eligibility check of beneficiaries")
    _ran(
        _last_progress("g2p.cycle_check_eligibility"),
        total=5684,
        message="Eligibility check finished.",
    )
    assert _g(model=CycleMembership, cycle=cycle) == {"enrolled": 5600, "not_eligible": 84}

    # Entitlements: 5,600 x 100.00 with a 2 % fee.
    note = entitlements.entitlements_prepare(cycle=cycle, actor=manager)
    assert note.message == "Preparing entitlements of 5600 beneficiaries started."
    _run(cycle, "Prepare entitlement for beneficiaries.")
    _ran(_last_progress("g2p.prepare_entitlements"), total=5600, message="Entitlement Ready.")
    ents = Entitlement.objects.filter(cycle=cycle)
    assert Counter(ents.values_list("state", "initial_amount", "transfer_fee", "currency")) == {
        ("draft", Decimal("100.00"), Decimal("2.00"), "KES"): 5600
    }
    assert ents.values("registrant").distinct().count() == 5600
    assert not ents.filter(registrant__disabled__isnull=False).exists()

    # Submit: the entitlements become pending, then the cycle is to approve.
    note = cycles.cycle_to_approve(cycle=cycle, actor=manager)
    assert note.message == "Setting 5600 entitlements to pending validation started."
    assert Cycle.objects.get(pk=cycle.pk).state == "draft"
    _run(cycle, "Set entitlements to pending validation for cycle.")
    _ran(
        _last_progress("g2p.entitlements_set_pending"),
        total=5600,
        message="Entitlements Set to Pending Validation.",
    )
    assert Cycle.objects.get(pk=cycle.pk).state == "to_approve"
    assert _g(model=Entitlement, cycle=cycle) == {"pending_validation": 5600}

    note = cycles.cycle_approve(cycle=cycle, actor=approver)
    assert note.message == "Cycle Cycle 1 approved."
    assert Cycle.objects.get(pk=cycle.pk).state == "approved"

    # The fund covers 3,000 of 5,600: the job stops at the first one it cannot pay, as upstream.
    fund = funds.fund_create(program=program, amount=Decimal("300000.00"), actor=finance)
    funds.fund_post(fund=fund, actor=finance)
    note = entitlements.entitlements_approve(cycle=cycle, actor=finance)
    assert note.message == "Approval of 5600 entitlements started."
    _run(cycle, "Validate and approve entitlements for cycle.")
    first_unfunded = ents.order_by("pk").values_list("code", flat=True)[3000]
    progress = _last_progress("g2p.entitlements_approve")
    progress.refresh_from_db()
    assert (progress.state, progress.total, progress.done, progress.error_count) == (
        "done",
        5600,
        5600,
        2600,
    )
    assert progress.message == (
        "The fund for the program: Women's cash support [0.00] is insufficient for the "
        f"entitlement: {first_unfunded}"
    )
    assert _g(model=Entitlement, cycle=cycle) == {"approved": 3000, "pending_validation": 2600}
    assert set(ents.filter(state="approved").values_list("approved_by", flat=True)) == {finance.pk}
    assert funds.program_fund_balance(program=program) == Decimal("0.00")

    # A second allocation covers the rest.
    fund = funds.fund_create(program=program, amount=Decimal("260000.00"), actor=finance)
    funds.fund_post(fund=fund, actor=finance)
    note = entitlements.entitlements_approve(cycle=cycle, actor=finance)
    assert note.message == "Approval of 2600 entitlements started."
    _run(cycle, "Validate and approve entitlements for cycle.")
    _ran(
        _last_progress("g2p.entitlements_approve"),
        total=2600,
        message="Entitlements Validated and Approved.",
    )
    assert _g(model=Entitlement, cycle=cycle) == {"approved": 5600}
    assert funds.program_fund_balance(program=program) == Decimal("0.00")
    assert all(len(e) == 10 for e in ents.values_list("ern", flat=True))

    # Payments in batches of 500: 11 full batches and one of 100, across chunk boundaries.
    note = payments.payments_prepare(cycle=cycle, actor=finance)
    assert note.message == "Preparing Payments Asynchronously."
    _run(cycle, "Prepare payments for entitlements in cycle.")
    _ran(_last_progress("g2p.payments_prepare"), total=5600, message="Prepared payments.")
    pays = Payment.objects.filter(cycle=cycle)
    assert Counter(pays.values_list("state", "amount_issued", "payment_fee")) == {
        ("issued", Decimal("100.00"), Decimal("2.00")): 5600
    }
    assert pays.values("entitlement").distinct().count() == 5600
    sizes = sorted(PaymentBatch.objects.filter(cycle=cycle).values_list("pk", flat=True).distinct())
    per_batch = Counter(pays.values_list("batch_id", flat=True))
    assert sorted(per_batch.values(), reverse=True) == [500] * 11 + [100]
    assert set(per_batch) == set(sizes)
    again = payments.payments_prepare(cycle=cycle, actor=finance)
    assert again.message == "There are no new payments issued!"
    assert pays.count() == 5600

    note = payments.payments_send(cycle=cycle, actor=finance)
    assert note.message == "Sending Payments Asynchronously"
    _run(cycle, "Send payments for batches in cycle.")
    _ran(_last_progress("g2p.payments_send"), total=5600, message="Send payments completed.")
    assert _g(model=Payment, cycle=cycle) == {"sent": 5600}
    assert not PaymentBatch.objects.filter(cycle=cycle, batch_has_started=False).exists()

    cycles.cycle_mark_distributed(cycle=cycle, actor=manager)
    cycles.cycle_mark_ended(cycle=cycle, actor=manager)
    assert Cycle.objects.get(pk=cycle.pk).state == "ended"

    # Notification events, told once per operation with the whole count.
    events = [
        (r.g2p_event["event"], r.g2p_event["count"], r.g2p_event["actor"])  # type: ignore[attr-defined]
        for r in caplog.records
        if hasattr(r, "g2p_event")
    ]
    assert events == [
        ("enrolled", 5800, "pm"),
        ("cycle_approved", 1, "approver"),
        ("entitlements_approved", 3000, "finance"),
        ("entitlements_approved", 5600, "finance"),
        ("payments_sent", 5600, "finance"),
    ]
    assert Program.objects.get(pk=program.pk).locked is False
    assert JobProgress.objects.filter(state="done").count() == 10
    assert not JobProgress.objects.exclude(state="done").exists()
    assert set(jobs_status()) == {"succeeded"}


def jobs_status() -> list[str]:
    from procrastinate.contrib.django.models import ProcrastinateJob

    return list(
        ProcrastinateJob.objects.filter(queue_name=jobs.QUEUE).values_list("status", flat=True)
    )
