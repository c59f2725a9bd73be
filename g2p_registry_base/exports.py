"""CSV and XLSX exports of registrant lists (the back office's "Export" buttons).

One ``SELECT`` produces every row: IDs, phones and tags are aggregated per registrant by
correlated ``ARRAY(SELECT …)`` subqueries and the member count by the ``member_count``
subquery, so an export costs the same number of queries for ten rows or a million. Rows are
read with a server-side cursor (:meth:`QuerySet.iterator`) and written as they arrive: CSV is
streamed to the client, XLSX goes through openpyxl's write-only workbook into a spooled
temporary file, so memory stays flat however long the list.

Cells that a spreadsheet would run as a formula (``=…``, ``@…``) are neutralised.
"""

from __future__ import annotations

import csv
import datetime
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce, Concat
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from g2p_registry_base.models import PhoneNumber, Registrant, RegistrantId, RegistrantTag

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_SIZE = 2000
LIST_SEPARATOR = "; "


@dataclass(frozen=True)
class Column:
    """One export column: its header and the ``values()`` key it reads."""

    header: str
    key: str


INDIVIDUAL_COLUMNS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("name", "name"),
    Column("given_name", "given_name"),
    Column("family_name", "family_name"),
    Column("addl_name", "addl_name"),
    Column("gender", "gender_id"),
    Column("birthdate", "birthdate"),
    Column("registration_date", "registration_date"),
    Column("email", "email"),
    Column("address", "address"),
    Column("ids", "x_ids"),
    Column("phones", "x_phones"),
    Column("tags", "x_tags"),
    Column("disabled", "x_disabled"),
)

GROUP_COLUMNS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("name", "name"),
    Column("kind", "x_kind"),
    Column("registration_date", "registration_date"),
    Column("email", "email"),
    Column("address", "address"),
    Column("ids", "x_ids"),
    Column("phones", "x_phones"),
    Column("tags", "x_tags"),
    Column("member_count", "member_count"),
    Column("disabled", "x_disabled"),
)


def ids_subquery() -> ArraySubquery:
    """``["National ID: 123", …]`` for the outer registrant, ordered by ID type name."""
    return ArraySubquery(
        RegistrantId.objects.filter(registrant=OuterRef("pk"))
        .order_by("id_type__name", "pk")
        .values(text=Concat(F("id_type__name"), Value(": "), F("value")))
    )


def phones_subquery() -> ArraySubquery:
    """E.164 numbers of the outer registrant that are not disabled, oldest first."""
    return ArraySubquery(
        PhoneNumber.objects.filter(registrant=OuterRef("pk"), disabled__isnull=True)
        .order_by("pk")
        .values("phone_sanitized")
    )


def tags_subquery() -> ArraySubquery:
    """Tag names of the outer registrant, alphabetical."""
    return ArraySubquery(
        RegistrantTag.objects.filter(registrants=OuterRef("pk")).order_by("name").values("name")
    )


def registrant_export_values(
    *, queryset: QuerySet[Registrant], groups: bool
) -> QuerySet[Registrant]:
    """The ``values()`` queryset behind an export of ``queryset`` (lazy, one query).

    Keeps the filters and ordering of ``queryset`` (the changelist's); drops its select_related
    and prefetches, which ``values()`` does not need.
    """
    qs = queryset.select_related(None).prefetch_related(None)
    annotations: dict[str, Any] = {
        "x_ids": ids_subquery(),
        "x_phones": phones_subquery(),
        "x_tags": tags_subquery(),
    }
    columns = GROUP_COLUMNS if groups else INDIVIDUAL_COLUMNS
    if groups:
        annotations["x_kind"] = Coalesce(F("kind__name"), Value(""))
        if "member_count" not in qs.query.annotations:
            qs = qs.with_member_count()  # type: ignore[attr-defined]
    qs = qs.annotate(**annotations)
    keys = [c.key for c in columns if c.key != "x_disabled"] + ["disabled"]
    return qs.values(*keys)


def registrant_export_rows(*, queryset: QuerySet[Registrant], groups: bool) -> Iterator[list[Any]]:
    """The header row, then one list of cell values per registrant (server-side cursor)."""
    columns = GROUP_COLUMNS if groups else INDIVIDUAL_COLUMNS
    yield [c.header for c in columns]
    values: Iterator[dict[str, Any]] = registrant_export_values(  # type: ignore[assignment]
        queryset=queryset, groups=groups
    ).iterator(chunk_size=CHUNK_SIZE)
    for row in values:
        row["x_disabled"] = "yes" if row["disabled"] else "no"
        yield [_cell(row[c.key]) for c in columns]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(v) for v in value if v is not None)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return value


_FORMULA_PREFIXES = ("=", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would evaluate (CSV injection).

    ``+`` and ``-`` are only escaped when not followed by a digit, so E.164 numbers and negative
    amounts stay readable.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_FORMULA_PREFIXES) or (
        value[0] in "+-" and not (len(value) > 1 and value[1].isdigit())
    ):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` returns the line (for streaming csv.writer)."""

    def write(self, value: str) -> str:
        return value


def csv_response(rows: Iterable[Sequence[Any]], *, filename: str) -> StreamingHttpResponse:
    """Stream ``rows`` as UTF-8 CSV (with a BOM so spreadsheet programs detect the encoding)."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"
        for row in rows:
            yield writer.writerow([csv_safe(_text(v)) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _text(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def xlsx_response(
    rows: Iterable[Sequence[Any]], *, filename: str, title: str = "Export"
) -> FileResponse:
    """Write ``rows`` to a write-only XLSX workbook and return it as a file download.

    The workbook is written row by row into a spooled temporary file (kept in memory up to
    10 MB, then on disk), so memory does not grow with the number of rows.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str) and value.startswith("="):
                # openpyxl would store it as a formula; keep it as text.
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
    buffer = tempfile.SpooledTemporaryFile(max_size=10 * 1024 * 1024)  # closed by FileResponse
    workbook.save(buffer)
    buffer.seek(0)
    return FileResponse(
        buffer, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
    )


def registrants_export_response(
    *, queryset: QuerySet[Registrant], groups: bool, file_format: str, basename: str
) -> StreamingHttpResponse | FileResponse:
    """The download of ``queryset`` as ``file_format`` (``"csv"`` or ``"xlsx"``).

    Query count: one (plus none per row), whatever the number of registrants.
    """
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    rows = registrant_export_rows(queryset=queryset, groups=groups)
    if file_format == "csv":
        return csv_response(rows, filename=f"{basename}-{stamp}.csv")
    if file_format == "xlsx":
        return xlsx_response(rows, filename=f"{basename}-{stamp}.xlsx", title=basename)
    raise ValueError(f"unknown export format: {file_format}")
