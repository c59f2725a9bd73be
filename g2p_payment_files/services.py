"""Writes of payment files: a batch's file, its download, and the import of a bank result file.

File writing streams the batch's payments from ONE ``.values()`` query through a server-side
cursor (:data:`~g2p_payment_files.choices.FILE_FETCH_SIZE` rows per round trip) into the csv
module or an openpyxl write-only workbook, so the worker never holds the payment rows.

A result file is imported all or nothing: every row is parsed and checked (columns, status,
amount, date, reason, repeated references), then staged with one ``COPY`` and checked against
the payments in one ``SELECT``; any problem is reported as ``(row, column, problem)`` and
nothing is written. The file's SHA-256 is recorded, so the same file imported twice changes
nothing the second time; updates only touch payments still *sent*, so a repeated row of another
file changes nothing either.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from g2p_payment_files import queries
from g2p_payment_files.choices import (
    FILE_FETCH_SIZE,
    QR_SCALE,
    RESULT_AMOUNT,
    RESULT_COLUMNS,
    RESULT_DATE,
    RESULT_REASON,
    RESULT_REFERENCE,
    RESULT_STATUS,
    FileFormat,
)
from g2p_payment_files.expressions import (
    Expression,
    account_annotations,
    compile_columns,
    compile_expression,
)
from g2p_payment_files.models import PaymentFile, PaymentFileConfig, ReconciliationImport
from g2p_programs.choices import PaymentState, PaymentStatus
from g2p_programs.models import Payment, PaymentBatch
from g2p_registry_base.services import Actor, require_perm

PERM_DOWNLOAD = "g2p_payment_files.download_paymentfile"
PERM_RECONCILE = "g2p_payment_files.reconcile_payments"


# --- payment files -------------------------------------------------------------------------


def _expressions(
    config: PaymentFileConfig,
) -> tuple[list[str], list[Expression], Expression | None]:
    columns = compile_columns(config.columns)
    qr = compile_expression(config.qr_expression) if config.qr_expression else None
    headers = [c.header for c in columns]
    return headers, [c.expression for c in columns], qr


def _rows(batch: PaymentBatch, exprs: list[Expression]) -> Iterator[dict[str, Any]]:
    lookups = sorted({e.lookup for e in exprs if e.lookup is not None} | {"id"})
    return (
        Payment.objects.filter(batch=batch, state=PaymentState.SENT)
        .exclude(status=PaymentStatus.FAILED)
        .annotate(**account_annotations(lookups))
        .order_by("pk")
        .values(*lookups)
        .iterator(chunk_size=FILE_FETCH_SIZE)
    )


def _write_csv(headers: list[str], lines: Iterable[list[str]]) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(headers)
    count = 0
    for line in lines:
        writer.writerow(line)
        count += 1
    text.flush()
    data = buffer.getvalue()
    text.detach()
    return data, count


def _qr_png(payload: str) -> io.BytesIO:
    import segno

    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="png", scale=QR_SCALE, border=2)
    out.seek(0)
    return out


def _write_xlsx(
    headers: list[str], lines: Iterable[list[str]], *, qr_column: int | None
) -> tuple[bytes, int]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.drawing.image import Image
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Payments"))

    def cells(values: list[str]) -> list[Any]:
        # openpyxl writes text starting with "=" as a formula; registry data never is one
        out: list[Any] = []
        for value in values:
            if value.startswith("="):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                out.append(cell)
            else:
                out.append(value)
        return out

    sheet.append(cells(headers))
    count = 0
    for line in lines:
        sheet.append(cells(line))
        count += 1
        if qr_column is not None and line[qr_column]:
            image = Image(_qr_png(line[qr_column]))
            image.anchor = f"{get_column_letter(qr_column + 1)}{count + 1}"
            sheet.add_image(image)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), count


def payment_file_write(*, batch: PaymentBatch, config: PaymentFileConfig) -> PaymentFile:
    """Write ``batch``'s sent payments into a new file with ``config`` and store it with its
    SHA-256 and row count. Queries: one streamed ``SELECT`` and one ``INSERT`` whatever the
    number of payments. The caller decides when (the file manager: once the batch is sent);
    a second file for the same batch and configuration is refused by the database."""
    headers, exprs, qr = _expressions(config)
    all_exprs = exprs + ([qr] if qr is not None else [])
    if qr is not None:
        headers = [*headers, config.qr_header]
    lines = ([e.render(row) for e in all_exprs] for row in _rows(batch, all_exprs))
    if config.file_format == FileFormat.XLSX:
        data, count = _write_xlsx(headers, lines, qr_column=len(exprs) if qr is not None else None)
    else:
        data, count = _write_csv(headers, lines)
    filename = f"{batch.name}-{slugify(config.name) or 'payments'}.{config.file_format}"
    return PaymentFile.objects.create(
        batch=batch,
        config=config,
        filename=filename,
        content=data,
        checksum=hashlib.sha256(data).hexdigest(),
        row_count=count,
    )


def payment_file_for_download(*, file_id: int, actor: Actor) -> PaymentFile:
    """The file to download, after checking the actor may download payment files."""
    require_perm(actor, PERM_DOWNLOAD)
    return PaymentFile.objects.select_related("config").get(pk=file_id)


# --- reconciliation ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        return _("Row %(row)d, column %(column)s: %(problem)s") % {
            "row": self.row,
            "column": self.column,
            "problem": self.problem,
        }


@dataclass
class ReconciliationResult:
    """The outcome of an import: ``problems`` (then nothing was written), or the payments
    ``reconciled``; ``already_imported`` when this exact file was imported before."""

    rows: int = 0
    reconciled: int = 0
    already_imported: bool = False
    problems: list[RowProblem] = field(default_factory=list)
    record: ReconciliationImport | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _cells(content: bytes) -> Iterator[list[Any]]:
    """The rows of a CSV (UTF-8, optional BOM) or XLSX (first sheet) file as cell lists."""
    if content[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise ValidationError(_("The file is not a readable XLSX workbook.")) from exc
        try:
            for values in workbook.worksheets[0].iter_rows(values_only=True):
                yield list(values)
        finally:
            workbook.close()
        return
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(_("The file is neither UTF-8 CSV nor XLSX.")) from exc
    yield from csv.reader(io.StringIO(text, newline=""))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def _parse(content: bytes) -> tuple[list[queries.ResultRow], list[RowProblem]]:
    rows: list[queries.ResultRow] = []
    problems: list[RowProblem] = []
    cells = _cells(content)
    header = next(cells, None)
    names = [_cell_text(h).lower() for h in (header or [])]
    missing = [c for c in RESULT_COLUMNS if c not in names]
    if missing:
        for column in missing:
            problems.append(RowProblem(1, column, _("missing column")))
        return rows, problems
    index = {c: names.index(c) for c in RESULT_COLUMNS}
    seen: dict[str, int] = {}
    for number, values in enumerate(cells, start=2):
        cell = {c: _cell_text(values[i]) if i < len(values) else "" for c, i in index.items()}
        if not any(cell.values()):
            continue  # blank lines at the end of exported sheets
        before = len(problems)
        reference = cell[RESULT_REFERENCE]
        if not reference:
            problems.append(RowProblem(number, RESULT_REFERENCE, _("empty")))
        elif reference in seen:
            problems.append(
                RowProblem(
                    number, RESULT_REFERENCE, _("repeated (first on row %d)") % seen[reference]
                )
            )
        else:
            seen[reference] = number
        status = cell[RESULT_STATUS].lower()
        if status not in (PaymentStatus.PAID, PaymentStatus.FAILED):
            problems.append(RowProblem(number, RESULT_STATUS, _('must be "paid" or "failed"')))
        amount = Decimal(0)
        try:
            amount = Decimal(cell[RESULT_AMOUNT] or ("0" if status == "failed" else ""))
            if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            problems.append(
                RowProblem(number, RESULT_AMOUNT, _("not an amount with at most 2 decimals"))
            )
        paid_on: datetime.date | None = None
        if cell[RESULT_DATE]:
            try:
                paid_on = datetime.date.fromisoformat(cell[RESULT_DATE])
            except ValueError:
                problems.append(RowProblem(number, RESULT_DATE, _("not a date (YYYY-MM-DD)")))
        reason = cell[RESULT_REASON]
        if status == PaymentStatus.FAILED and not reason:
            problems.append(RowProblem(number, RESULT_REASON, _("required for a failed payment")))
        if len(problems) == before:
            rows.append((number, reference, status, amount, paid_on, reason))
    return rows, problems


class _Refused(Exception):
    pass


def reconciliation_import(
    *, filename: str, content: bytes, actor: Actor, dry_run: bool = False
) -> ReconciliationResult:
    """Reconcile payments from a bank result file (columns ``reference``, ``status``,
    ``amount_paid``, ``date``, ``reason``; see the module docstring).

    Matched payments (``Payment.name`` = reference, state sent) become reconciled with status
    paid or failed, the amount paid and the date, and get a
    :class:`~g2p_payment_files.models.PaymentReconciliation` row with the reason. All or
    nothing; with ``dry_run`` everything is checked and rolled back (the admin's preview).
    Queries: a fixed number whatever the number of rows (checksum lookup, temp table, one
    ``COPY``, one check ``SELECT``, the import row, one ``UPDATE … FROM`` with its insert).
    """
    require_perm(actor, PERM_RECONCILE)
    checksum = hashlib.sha256(content).hexdigest()
    if ReconciliationImport.objects.filter(checksum=checksum).exists():
        return ReconciliationResult(already_imported=True)
    rows, problems = _parse(content)
    if problems:
        return ReconciliationResult(rows=len(rows), problems=problems)
    result = ReconciliationResult(rows=len(rows))
    try:
        with transaction.atomic():
            queries.stage_results(rows)
            problems = [RowProblem(*p) for p in queries.staged_problems()]
            if problems:
                result.problems = problems
                raise _Refused
            record = ReconciliationImport.objects.create(
                filename=filename[:255],
                checksum=checksum,
                row_count=len(rows),
                reconciled=0,
                imported_by_id=getattr(actor, "pk", None),
            )
            result.reconciled = queries.apply_staged_results(import_id=record.pk)
            ReconciliationImport.objects.filter(pk=record.pk).update(reconciled=result.reconciled)
            record.reconciled = result.reconciled
            result.record = record
            if dry_run:
                raise _Refused
    except _Refused:
        result.record = None
    return result
