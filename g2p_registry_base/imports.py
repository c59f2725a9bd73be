"""Registry import: individuals and groups, their memberships, IDs, phones and tags, from XLSX or
CSV — validated in bulk, written set-based in one transaction.

File format
===========

One row per registrant; row 1 is the header, whose cells are the column names below (case does
not matter, order does not matter, unknown columns are refused). Row numbers in error reports are
the sheet's row numbers (the first data row is row 2). Blank rows are skipped. CSV files are
UTF-8 (a BOM is fine), comma-separated; XLSX files are read from their first sheet. Lists inside
a cell are separated by ``;``.

=====================  ==========================================================================
column                 content
=====================  ==========================================================================
``type``               **required**: ``individual`` or ``group``
``id:<ID type>``       one column per ID type, e.g. ``id:National ID``; the value must match the ID
                       type's pattern in full. The **first** ``id:`` column is the *upsert key*:
                       required on every row, unique in the file, and used to find the registrant
                       on re-import (``key=`` chooses another ID type)
``group_ref``          individuals: the key value of their group — a group row of the same file
                       (anywhere in it) or a group already in the registry
``membership_kinds``   individuals with a ``group_ref``: their roles in the group, e.g. ``Head``
                       (kind names, ``;``-separated). Sets the roles exactly: an empty cell
                       removes the member's roles; leave the column out to keep roles as they are.
                       A unique kind (Head) is held by one current member per group
``name``               groups: the group's name (required for a new group). Individuals: leave
                       empty — their name is ``FAMILY, GIVEN ADDL`` made from the parts below
``given_name``         individuals (required for a new individual)
``family_name``        individuals (required for a new individual)
``addl_name``          individuals: additional / middle name
``gender``             individuals: a gender's code or value (case-insensitive), e.g. ``Female``
``birthdate``          individuals: ``YYYY-MM-DD`` (or an XLSX date cell); not in the future
``birth_place``        text
``registration_date``  ``YYYY-MM-DD`` (or a date cell); not in the future, not before the
                       birthdate; a new registrant without one is registered today
``email``              a valid e-mail address
``address``            text
``tags``               names of existing tags, ``;``-separated (unknown names are an error)
``group_kind``         groups: a group kind's name, e.g. ``Household``
``phones``             phone numbers, ``;``-separated; stored in E.164 (``+254712345678``);
                       numbers without ``+`` are read in the default company's country
=====================  ==========================================================================

Update rules. A row whose key matches an existing registrant updates it instead of creating a
duplicate: non-empty cells overwrite, empty cells keep the current value (an import never erases
data); IDs of other types are added or changed; phones and tags are added when new (never
removed); the membership in ``group_ref``'s group is created, or made current again if it had
ended, and its roles set from ``membership_kinds``. Memberships in other groups are left alone.
A key value held by several registrants, or by a registrant of the other type, is a row error.

Write rules (``mode``). ``all_or_nothing`` (default): if any row is invalid nothing is written
and every error is reported. ``skip_invalid``: every valid row is written and the invalid ones
are reported; members of an invalid group row are invalid too ("the group … is invalid").
Problems with the file itself (unreadable, unknown or missing columns) stop the import whatever
the mode. Either way everything is written in one transaction, serialised with other imports by
an advisory lock, and audited (pghistory context ``source`` / ``user``).

How. The file is streamed (``csv.reader``; XLSX through openpyxl ``read_only``, or through
python-calamine when it is installed, ten times faster but holding the sheet while it is read)
into compact row records, checked cell by cell against the same rules as the models
(``Registrant.clean``, full-match ID patterns, ``normalize_phone``, date rules), then checked
across rows with a fixed number of queries whatever the file size (configuration lists, existing
keys, current unique-kind holders).
Valid rows are ``COPY``-ed into temp tables and written with one ``INSERT … SELECT`` /
``UPDATE … FROM`` / ``INSERT … ON CONFLICT`` per table (:mod:`g2p_registry_base.queries`), so a
re-run (a retried job) updates rather than duplicates. Upstream imported row by row through the
ORM in queue jobs; here 100,000 new rows (25,000 households) take about 25 seconds on two cores,
most of it in the audit triggers, and a re-import about 8 (``bench/registry_import.py``). The
parsed rows are held in memory (about 1 KB each) between validation and the ``COPY``.

Entry points: :func:`registry_import_file` (command line ``g2p import``),
:func:`registry_import_create` / :func:`registry_import_confirm` (back office: upload, review,
confirm; large files run as the ``registry_import_run`` job), :func:`import_template`.
"""

from __future__ import annotations

import csv
import datetime
import importlib.util
import io
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from g2p_registry_base import queries
from g2p_registry_base.models import (
    Company,
    GenderType,
    GroupKind,
    IdType,
    ImportMode,
    ImportState,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
    RegistrantTag,
    RegistryImport,
    individual_full_name,
    normalize_phone,
)
from g2p_registry_base.services import Actor, require_perm, validation_error_from_db
from g2p_registry_base.signals import send_registrants_changed

logger = logging.getLogger(__name__)

ID_PREFIX = "id:"
LIST_SEPARATOR = ";"
STANDARD_COLUMNS = (
    "type",
    "group_ref",
    "membership_kinds",
    "name",
    "given_name",
    "family_name",
    "addl_name",
    "gender",
    "birthdate",
    "birth_place",
    "registration_date",
    "email",
    "address",
    "tags",
    "group_kind",
    "phones",
)
# Errors kept on a RegistryImport (rows_invalid always has the full count).
MAX_STORED_ERRORS = 10_000
# Errors printed by report_text().
REPORT_ERRORS = 20
JOB_OPERATION = "registry.import"
# XLSX reader: python-calamine when installed (fast), else openpyxl read-only (streams).
XLSX_READER = "calamine" if importlib.util.find_spec("python_calamine") else "openpyxl"

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _max_length(model: Any, name: str) -> int:
    return int(getattr(model._meta.get_field(name), "max_length", 0) or 0)


_MAX = {
    name: _max_length(Registrant, name)
    for name in ("name", "given_name", "family_name", "addl_name", "birth_place", "email")
}
_ID_MAX = _max_length(RegistrantId, "value")
_PHONE_MAX = _max_length(PhoneNumber, "phone_no")


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem: ``row`` as the user sees it in the sheet (header = 1, first data row = 2;
    0 = the file as a whole), ``field`` the column name, ``message`` what is wrong."""

    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class ImportResult:
    """Outcome of an import (or of a validation: ``written`` is False).

    ``created`` / ``updated`` count registrants created and registrants matched by key; for a
    dry run they are what the import would do. ``file_error`` means the file could not be
    imported at all (unreadable, bad header); ``timings`` holds seconds for parse, validate and
    write.
    """

    rows_total: int = 0
    rows_invalid: int = 0
    created: int = 0
    updated: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)
    file_error: bool = False
    dry_run: bool = False
    mode: str = ImportMode.ALL_OR_NOTHING
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.file_error and self.rows_invalid == 0


class _FileError(Exception):
    """The file cannot be read at all."""


# --------------------------------------------------------------------------------------------
# Lookups: the configuration lists, a handful of queries per import
# --------------------------------------------------------------------------------------------


@dataclass
class _Lookups:
    id_types: dict[str, IdType]
    genders: dict[str, str]
    gender_choices: str
    tags: dict[str, int]
    group_kinds: dict[str, int]
    membership_kinds: dict[str, tuple[int, str, bool]]
    company_id: int
    phone_region: str
    today: datetime.date

    @classmethod
    def load(cls) -> _Lookups:
        """Six queries: ID types, genders, tags, group kinds, membership kinds, company."""
        genders: dict[str, str] = {}
        codes: list[str] = []
        for code, value in GenderType.objects.order_by("code").values_list("code", "value"):
            genders[value.lower()] = value
            genders[code.lower()] = value
            codes.append(code)
        company = Company.objects.order_by("pk").values_list("pk", "country_code").first()
        if company is None:
            raise _FileError(_("No company is configured; create one before importing."))
        return cls(
            id_types={t.name.strip().lower(): t for t in IdType.objects.all()},
            genders=genders,
            gender_choices=", ".join(codes),
            tags={
                n.strip().lower(): pk
                for pk, n in RegistrantTag.objects.filter(active=True).values_list("pk", "name")
            },
            group_kinds={
                n.strip().lower(): pk for pk, n in GroupKind.objects.values_list("pk", "name")
            },
            membership_kinds={
                n.strip().lower(): (pk, n, u)
                for pk, n, u in MembershipKind.objects.values_list("pk", "name", "is_unique")
            },
            company_id=company[0],
            phone_region=(company[1] or settings.G2P_DEFAULT_PHONE_REGION or "").upper(),
            today=timezone.localdate(),
        )


# --------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------


def _detect_format(name: str, head: bytes) -> str:
    lower = name.lower()
    if head.startswith(b"PK\x03\x04") or lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if lower.endswith(".xls") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _FileError(
            _("Old Excel (.xls) files are not supported: save the sheet as .xlsx or .csv.")
        )
    return "csv"


def _iter_cells(
    *, name: str, path: Path | None, content: bytes | None
) -> Iterator[tuple[int, Sequence[Any]]]:
    """Yield ``(sheet row number, cells)``, streaming; raise :class:`_FileError` if unreadable."""
    if path is not None:
        with open(path, "rb") as fh:
            head = fh.read(8)
    else:
        head = (content or b"")[:8]
    fmt = _detect_format(name, head)
    if fmt == "xlsx":
        yield from _iter_xlsx(path if path is not None else io.BytesIO(content or b""))
    else:
        yield from _iter_csv(path=path, content=content)


def _iter_xlsx(source: Any) -> Iterator[tuple[int, Sequence[Any]]]:
    if XLSX_READER == "calamine":
        yield from _iter_xlsx_calamine(source)
        return
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors alike
        raise _FileError(_("The file is not a readable XLSX workbook (%s).") % exc) from exc
    try:
        if not workbook.worksheets:
            raise _FileError(_("The workbook has no sheet."))
        sheet = workbook.worksheets[0]
        # read-only sheets yield every row, gaps included, so enumerate() is the row number
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


def _iter_xlsx_calamine(source: Any) -> Iterator[tuple[int, Sequence[Any]]]:
    """The first sheet through python-calamine (Rust): about ten times faster than openpyxl,
    but it holds the sheet's cells in memory while the rows are read."""
    import python_calamine

    try:
        if isinstance(source, Path):
            workbook = python_calamine.CalamineWorkbook.from_path(str(source))
        else:
            workbook = python_calamine.CalamineWorkbook.from_filelike(source)
        sheet = workbook.get_sheet_by_index(0)
        rows = sheet.iter_rows()
    except Exception as exc:  # calamine's errors for bad zips, XML and missing sheets
        raise _FileError(_("The file is not a readable XLSX workbook (%s).") % exc) from exc
    try:
        # rows come from the sheet's first row (leading blank rows included)
        yield from enumerate(rows, start=1)
    finally:
        workbook.close()


def _iter_csv(*, path: Path | None, content: bytes | None) -> Iterator[tuple[int, Sequence[Any]]]:
    if path is not None:
        stream: io.TextIOBase = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    else:
        stream = io.TextIOWrapper(io.BytesIO(content or b""), encoding="utf-8-sig", newline="")
    line = 0
    try:
        reader = csv.reader(stream)
        for line, cells in enumerate(reader, start=1):
            yield line, cells
    except UnicodeDecodeError as exc:
        raise _FileError(
            _("The file is not UTF-8 text (near row %d); save it as CSV UTF-8.") % (line + 1)
        ) from exc
    except csv.Error as exc:
        raise _FileError(
            _("The CSV file cannot be read (row %(row)d): %(e)s") % {"row": line + 1, "e": exc}
        ) from exc
    finally:
        stream.close()


def _text(value: Any) -> str:
    """A cell as stripped text: XLSX numbers lose a spurious ``.0``, dates become ISO dates."""
    if value is None:
        return ""
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return (
            value.date().isoformat()
            if value.time() == datetime.time()
            else value.isoformat(sep=" ")
        )
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(LIST_SEPARATOR) if p.strip()] if text else []


# --------------------------------------------------------------------------------------------
# Parsing: header, then each row checked on its own
# --------------------------------------------------------------------------------------------


class _Row:
    """A row of the file after cell-level checks. ``None`` means "empty cell / keep"."""

    __slots__ = (
        "line",
        "bad",
        "is_group",
        "key",
        "ids",
        "group_ref",
        "kinds",
        "name",
        "given_name",
        "family_name",
        "addl_name",
        "gender",
        "birthdate",
        "birth_place",
        "registration_date",
        "email",
        "address",
        "kind_id",
        "tags",
        "phones",
        "registrant_id",
        "is_new",
        "group_id",
        "group_row",
    )

    def __init__(self, line: int) -> None:
        self.line = line
        self.bad = False
        self.is_group: bool | None = None
        self.key = ""
        self.ids: list[tuple[int, str]] = []
        self.group_ref = ""
        self.kinds: list[int] | None = None
        self.name: str | None = None
        self.given_name: str | None = None
        self.family_name: str | None = None
        self.addl_name: str | None = None
        self.gender: str | None = None
        self.birthdate: datetime.date | None = None
        self.birth_place: str | None = None
        self.registration_date: datetime.date | None = None
        self.email: str | None = None
        self.address: str | None = None
        self.kind_id: int | None = None
        self.tags: Sequence[int] = ()
        self.phones: Sequence[tuple[str, str]] = ()
        self.registrant_id: int | None = None
        self.is_new = True
        self.group_id: int | None = None
        self.group_row: _Row | None = None


@dataclass
class _Parsed:
    rows: list[_Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    file_error: bool = False
    key_type: IdType | None = None
    key_column: str = ""
    has_kinds: bool = False
    column_order: dict[str, int] = field(default_factory=dict)

    def error(self, row: _Row, column: str, message: str) -> None:
        row.bad = True
        self.errors.append(RowError(row.line, column, message))

    @property
    def rows_invalid(self) -> int:
        return sum(1 for r in self.rows if r.bad)


class _Parser:
    """Turns the cells of one row into a :class:`_Row`, recording cell-level errors."""

    def __init__(self, lookups: _Lookups, parsed: _Parsed) -> None:
        self.lk = lookups
        self.parsed = parsed
        self.index: dict[str, int] = {}
        self.id_columns: list[tuple[int, IdType, str]] = []
        self.key_index = -1
        self.unnamed: list[int] = []

    def header(self, cells: Sequence[Any], *, key: str | None) -> list[RowError]:
        errors: list[RowError] = []
        seen: dict[str, int] = {}
        for i, cell in enumerate(cells):
            text = _text(cell)
            if not text:
                self.unnamed.append(i)
                continue
            lowered = text.lower()
            if lowered in seen:
                errors.append(RowError(1, text, _("Column '%s' appears twice.") % text))
                continue
            seen[lowered] = i
            if lowered.startswith(ID_PREFIX):
                type_name = text[len(ID_PREFIX) :].strip()
                id_type = self.lk.id_types.get(type_name.lower())
                if id_type is None:
                    known = ", ".join(sorted(t.name for t in self.lk.id_types.values())) or _(
                        "none defined"
                    )
                    errors.append(
                        RowError(
                            1,
                            text,
                            _("Unknown ID type '%(t)s' (known ID types: %(k)s).")
                            % {"t": type_name, "k": known},
                        )
                    )
                    continue
                self.id_columns.append((i, id_type, f"{ID_PREFIX}{id_type.name}"))
            elif lowered in STANDARD_COLUMNS:
                self.index[lowered] = i
            else:
                errors.append(
                    RowError(
                        1,
                        text,
                        _("Unknown column '%(c)s'. Known columns: %(k)s, id:<ID type>.")
                        % {"c": text, "k": ", ".join(STANDARD_COLUMNS)},
                    )
                )
        if "type" not in self.index:
            errors.append(
                RowError(1, "type", _("The column 'type' is required (individual or group)."))
            )
        if key:
            for i, id_type, column in self.id_columns:
                if id_type.name.lower() == key.strip().lower():
                    self.key_index = i
                    self.parsed.key_type, self.parsed.key_column = id_type, column
            if self.key_index < 0:
                errors.append(
                    RowError(
                        1,
                        f"{ID_PREFIX}{key}",
                        _("The key column '%s' is not in the file.") % f"{ID_PREFIX}{key}",
                    )
                )
        elif self.id_columns:
            self.key_index, self.parsed.key_type, self.parsed.key_column = self.id_columns[0]
        else:
            errors.append(
                RowError(
                    1,
                    ID_PREFIX,
                    _(
                        "At least one ID column (id:<ID type>, e.g. 'id:National ID') is required: "
                        "the first one is the key that identifies registrants on re-import."
                    ),
                )
            )
        self.parsed.has_kinds = "membership_kinds" in self.index
        order = {name: i for name, i in self.index.items()}
        order.update({column: i for i, _t, column in self.id_columns})
        self.parsed.column_order = order
        return errors

    def prepare(self, width: int) -> None:
        """Fix the column positions once; a missing column reads the always-empty last slot."""
        self.width = width
        self.pos = {name: self.index.get(name, width) for name in STANDARD_COLUMNS}

    def row(self, line: int, cells: Sequence[Any]) -> _Row:  # noqa: C901 - one flat checklist
        lk, parsed, pos, width = self.lk, self.parsed, self.pos, self.width
        row = _Row(line)
        # every cell as stripped text, padded to the header's width plus one empty slot
        texts = [c.strip() if type(c) is str else _text(c) for c in cells[:width]]
        texts.extend([""] * (width + 1 - len(texts)))

        def err(column: str, message: str) -> None:
            parsed.error(row, column, message)

        # type
        kind_text = texts[pos["type"]].lower()
        if kind_text == "individual":
            row.is_group = False
        elif kind_text == "group":
            row.is_group = True
        elif not kind_text:
            err("type", _("The type is required: individual or group."))
        else:
            err("type", _("Unknown type '%s': use individual or group.") % texts[pos["type"]])
        is_group = row.is_group

        # IDs, the key first
        for i, id_type, column in self.id_columns:
            value = texts[i]
            if not value:
                if i == self.key_index:
                    err(
                        column,
                        _("The key %s is required: it identifies the registrant on re-import.")
                        % column,
                    )
                continue
            if i == self.key_index:
                row.key = value
            if len(value) > _ID_MAX:
                err(
                    column,
                    _("Ensure this value has at most %(max)d characters (it has %(n)d).")
                    % {"max": _ID_MAX, "n": len(value)},
                )
                continue
            message = id_type.value_error(value)
            if message:
                err(column, message)
                continue
            row.ids.append((id_type.pk, value))

        # names
        name, given = texts[pos["name"]], texts[pos["given_name"]]
        family, addl = texts[pos["family_name"]], texts[pos["addl_name"]]
        if is_group:
            for column, value in (
                ("given_name", given),
                ("family_name", family),
                ("addl_name", addl),
            ):
                if value:
                    err(column, _("Groups have a name, not given or family names."))
            if name:
                row.name = self._length(row, "name", name)
        elif is_group is False:
            if name:
                err(
                    "name",
                    _(
                        "An individual's name is made from given_name, family_name and "
                        "addl_name: leave name empty."
                    ),
                )
            row.given_name = self._length(row, "given_name", given) if given else None
            row.family_name = self._length(row, "family_name", family) if family else None
            row.addl_name = self._length(row, "addl_name", addl) if addl else None

        # gender
        gender = texts[pos["gender"]]
        if gender:
            if is_group:
                err("gender", _("Groups have no gender."))
            else:
                gender_value = lk.genders.get(gender.lower())
                if gender_value is None:
                    err(
                        "gender",
                        _("Unknown gender '%(g)s' (use one of: %(k)s).")
                        % {"g": gender, "k": lk.gender_choices},
                    )
                row.gender = gender_value

        # dates (XLSX date cells arrive as ISO text, see _text)
        birthdate = self._date(row, "birthdate", texts[pos["birthdate"]])
        if birthdate is not None:
            if is_group:
                err("birthdate", _("Groups have no date of birth."))
            elif birthdate > lk.today:
                err("birthdate", _("You can't select a date of birth greater than today."))
            row.birthdate = birthdate
        registration = self._date(row, "registration_date", texts[pos["registration_date"]])
        if registration is not None:
            if registration > lk.today:
                err("registration_date", _("Registration date must be less than the current date."))
            elif birthdate is not None and registration < birthdate:
                err("registration_date", _("Registration date must be later than the birth date."))
            row.registration_date = registration

        # plain text
        birth_place = texts[pos["birth_place"]]
        if birth_place:
            row.birth_place = self._length(row, "birth_place", birth_place)
        email = texts[pos["email"]]
        if email:
            try:
                validate_email(email)
            except ValidationError:
                err("email", _("Enter a valid email address."))
            row.email = self._length(row, "email", email)
        address = texts[pos["address"]]
        if address:
            row.address = address

        # group kind
        group_kind = texts[pos["group_kind"]]
        if group_kind:
            if is_group is False:
                err("group_kind", _("Only groups have a group kind."))
            else:
                row.kind_id = lk.group_kinds.get(group_kind.lower())
                if row.kind_id is None:
                    err("group_kind", _("Unknown group kind '%s'.") % group_kind)

        # tags
        tags_text = texts[pos["tags"]]
        if tags_text:
            tags = _split(tags_text)
            unknown = [t for t in tags if t.lower() not in lk.tags]
            if unknown:
                err("tags", _("Unknown tag(s): %s.") % ", ".join(unknown))
            else:
                row.tags = list(dict.fromkeys(lk.tags[t.lower()] for t in tags))

        # phones
        phones_text = texts[pos["phones"]]
        if phones_text:
            phones: dict[str, str] = {}
            for number in _split(phones_text):
                if len(number) > _PHONE_MAX:
                    err("phones", _("'%s' is not a valid phone number.") % number)
                    continue
                try:
                    e164 = normalize_phone(number, region=lk.phone_region or None)
                except ValidationError as exc:
                    err("phones", "; ".join(exc.message_dict.get("phone_no", exc.messages)))
                    continue
                phones.setdefault(e164, number)
            row.phones = [(raw_no, e164) for e164, raw_no in phones.items()]

        # membership
        group_ref = texts[pos["group_ref"]]
        if group_ref:
            if is_group:
                err(
                    "group_ref",
                    _("Only individuals belong to a group: leave group_ref empty for groups."),
                )
            row.group_ref = group_ref
        if parsed.has_kinds:
            names = _split(texts[pos["membership_kinds"]])
            known = lk.membership_kinds
            if names and is_group:
                err("membership_kinds", _("Only individuals have membership kinds."))
            elif names and not group_ref:
                err(
                    "membership_kinds",
                    _("membership_kinds needs a group_ref (the member's group)."),
                )
            unknown = [k for k in names if k.lower() not in known]
            if unknown:
                err("membership_kinds", _("Unknown membership kind(s): %s.") % ", ".join(unknown))
            row.kinds = list(
                dict.fromkeys(known[k.lower()][0] for k in names if k.lower() in known)
            )

        # values under no header
        for i in self.unnamed:
            if texts[i]:
                err(
                    f"column {i + 1}", _("This column has no header: name it or remove its values.")
                )
                break
        if len(cells) > width and any(_text(c) for c in cells[width:]):
            err(
                f"column {width + 1}", _("This column has no header: name it or remove its values.")
            )
        return row

    def _length(self, row: _Row, column: str, value: str) -> str:
        limit = _MAX[column]
        if limit and len(value) > limit:
            self.parsed.error(
                row,
                column,
                _("Ensure this value has at most %(max)d characters (it has %(n)d).")
                % {"max": limit, "n": len(value)},
            )
        return value

    def _date(self, row: _Row, column: str, text: str) -> datetime.date | None:
        if not text:
            return None
        if _DATE_RE.fullmatch(text):
            try:
                return datetime.date.fromisoformat(text)
            except ValueError:
                pass
        self.parsed.error(row, column, _("Enter a valid date as YYYY-MM-DD (got '%s').") % text)
        return None


def _parse(
    *, name: str, path: Path | None, content: bytes | None, lookups: _Lookups, key: str | None
) -> _Parsed:
    parsed = _Parsed()
    parser = _Parser(lookups, parsed)
    try:
        cells_iter = _iter_cells(name=name, path=path, content=content)
        header_done = False
        for line, cells in cells_iter:
            if not header_done:
                if not any(_text(c) for c in cells):
                    raise _FileError(_("Row 1 must be the header (the column names); it is empty."))
                header_errors = parser.header(cells, key=key)
                parser.prepare(len(cells))
                header_done = True
                if header_errors:
                    parsed.errors.extend(header_errors)
                    parsed.file_error = True
                    # keep counting rows so the report says how many were not imported
                    parsed.rows.extend(_Row(ln) for ln, c in cells_iter if any(_text(v) for v in c))
                    for r in parsed.rows:
                        r.bad = True
                    return parsed
                continue
            if not any(v is not None and (type(v) is not str or v.strip()) for v in cells):
                continue  # blank row
            parsed.rows.append(parser.row(line, cells))
        if not header_done:
            raise _FileError(_("The file is empty."))
        if not parsed.rows:
            raise _FileError(_("The file has a header but no data rows."))
    except _FileError as exc:
        parsed.file_error = True
        parsed.errors.append(RowError(0, "file", str(exc)))
    return parsed


# --------------------------------------------------------------------------------------------
# Validation across rows and against the registry
# --------------------------------------------------------------------------------------------


def _validate(parsed: _Parsed, lk: _Lookups) -> None:  # noqa: C901 - one pass per rule, in order
    """Check keys, matches, groups and unique kinds; fill ``registrant_id`` of matched rows.

    Queries: one for the registrants holding the file's key values (and group references), one
    for the current holders of unique kinds in the groups concerned — whatever the file size.
    """
    key_type = parsed.key_type
    assert key_type is not None
    key_col = parsed.key_column
    rows = parsed.rows
    label = key_type.name

    # 1. duplicate keys in the file: the later rows are refused
    first: dict[str, _Row] = {}
    duplicates: set[_Row] = set()
    for r in rows:
        if not r.key:
            continue
        prev = first.get(r.key)
        if prev is None:
            first[r.key] = r
        else:
            duplicates.add(r)
            parsed.error(
                r,
                key_col,
                _("Duplicate key: %(t)s '%(v)s' is already used by row %(row)d.")
                % {"t": label, "v": r.key, "row": prev.line},
            )

    # 2. the registry's registrants for the key values and the group references
    values = set(first)
    values.update(r.group_ref for r in rows if r.group_ref and r.group_ref not in first)
    existing: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for rec in queries.select_registrants_by_id_values(
        id_type_id=key_type.pk, values=sorted(values)
    ):
        existing[rec[0]].append(rec)

    def kind_word(is_group: bool) -> str:
        return _("group") if is_group else _("individual")

    # 3. each row against its match (or as a new registrant), with merged values; rows with
    # cell errors are checked too, so that a row reports all its problems at once
    for r in rows:
        if r.is_group is None or r in duplicates:
            continue
        matches = existing.get(r.key, ())
        if len(matches) > 1:
            parsed.error(
                r,
                key_col,
                _(
                    "%(t)s '%(v)s' matches %(n)d registrants in the registry; "
                    "resolve the duplicates first."
                )
                % {"t": label, "v": r.key, "n": len(matches)},
            )
            continue
        if matches:
            _value, rid, is_group, given, family, addl, birthdate, registration = matches[0]
            if is_group != r.is_group:
                parsed.error(
                    r,
                    "type",
                    _(
                        "%(t)s '%(v)s' belongs to an existing %(k)s; a row cannot change "
                        "the registrant's type."
                    )
                    % {"t": label, "v": r.key, "k": kind_word(is_group)},
                )
                continue
            r.registrant_id, r.is_new = rid, False
        else:
            given = family = addl = ""
            birthdate = registration = None
            if r.registration_date is None:
                r.registration_date = lk.today
        if r.is_group:
            if r.is_new and not r.name:
                parsed.error(r, "name", _("A name is required."))
        else:
            merged_given = r.given_name or given
            merged_family = r.family_name or family
            if not merged_given:
                parsed.error(r, "given_name", _("The given name is required."))
            if not merged_family:
                parsed.error(r, "family_name", _("The family name is required."))
            r.name = individual_full_name(
                family_name=merged_family, given_name=merged_given, addl_name=r.addl_name or addl
            )
            if len(r.name) > _MAX["name"]:
                parsed.error(
                    r, "given_name", _("The full name is longer than %d characters.") % _MAX["name"]
                )
        if not r.is_new and (r.birthdate or r.registration_date):
            born = r.birthdate or birthdate
            registered = r.registration_date or registration
            if born and registered and registered < born:
                column = "registration_date" if r.registration_date else "birthdate"
                parsed.error(r, column, _("Registration date must be later than the birth date."))

    # 4. group references: a group row of this file or a group of the registry
    for r in rows:
        if r.is_group is not False or not r.group_ref:
            continue
        ref = r.group_ref
        target = first.get(ref)
        if target is not None:
            if target.is_group is False:
                parsed.error(
                    r,
                    "group_ref",
                    _("%(t)s '%(v)s' (row %(row)d) is an individual, not a group.")
                    % {"t": label, "v": ref, "row": target.line},
                )
            elif target.bad:
                parsed.error(
                    r,
                    "group_ref",
                    _(
                        "The group %(t)s '%(v)s' (row %(row)d) is invalid, so its "
                        "members cannot be imported."
                    )
                    % {"t": label, "v": ref, "row": target.line},
                )
            else:
                r.group_row = target
            continue
        matches = existing.get(ref, ())
        if not matches:
            parsed.error(
                r,
                "group_ref",
                _("No group with %(t)s '%(v)s' in this file or in the registry.")
                % {"t": label, "v": ref},
            )
        elif len(matches) > 1:
            parsed.error(
                r,
                "group_ref",
                _("%(t)s '%(v)s' matches %(n)d registrants in the registry.")
                % {"t": label, "v": ref, "n": len(matches)},
            )
        elif not matches[0][2]:
            parsed.error(
                r,
                "group_ref",
                _("%(t)s '%(v)s' is an individual in the registry, not a group.")
                % {"t": label, "v": ref},
            )
        else:
            r.group_id = matches[0][1]

    # 5. unique kinds ("Head"): one current holder per group, file rows and registry together
    _check_unique_kinds(parsed, lk, [r for r in rows if not r.bad and (r.group_id or r.group_row)])


def _check_unique_kinds(parsed: _Parsed, lk: _Lookups, member_rows: list[_Row]) -> None:
    """Refuse a second current holder of a unique kind ("Head") in a group.

    After the write, a membership listed in the file is current and holds the file's kinds
    (or, without a ``membership_kinds`` column, the kinds it already had — an ended membership
    is reopened with them); other memberships keep their state. The check simulates exactly
    that with one query. Rows that keep a unique kind their member already holds are checked
    first, so the member who holds it keeps it and the newcomer is refused.
    """
    unique = {pk: name for pk, name, is_unique in lk.membership_kinds.values() if is_unique}
    if not unique or not member_rows:
        return

    def group_ident(r: _Row) -> Any:
        if r.group_id:
            return r.group_id
        target = r.group_row
        assert target is not None
        return target.registrant_id if not target.is_new else ("row", target.line)

    idents = {id(r): group_ident(r) for r in member_rows}
    db_groups = sorted({g for g in idents.values() if isinstance(g, int)})
    touched = {(idents[id(r)], r.registrant_id) for r in member_rows if not r.is_new}
    # (group, individual) -> the unique kinds its membership holds; (group, kind) -> holder
    kinds_held: dict[tuple[Any, Any], set[int]] = defaultdict(set)
    open_holder: dict[tuple[Any, int], int] = {}
    for group_id, individual_id, kind_id, is_current in queries.select_unique_kind_holders(
        group_ids=db_groups, kind_ids=sorted(unique)
    ):
        kinds_held[(group_id, individual_id)].add(kind_id)
        if is_current:
            open_holder[(group_id, kind_id)] = individual_id
    holders: dict[tuple[Any, int], tuple[str, Any]] = {
        (g, k): ("db", i) for (g, k), i in open_holder.items() if (g, i) not in touched
    }

    def wanted(r: _Row) -> list[int]:
        if parsed.has_kinds:
            return [k for k in (r.kinds or ()) if k in unique]
        return sorted(kinds_held.get((idents[id(r)], r.registrant_id), ()))

    def keeps_own(r: _Row) -> bool:
        ident = idents[id(r)]
        return not r.is_new and any(
            open_holder.get((ident, k)) == r.registrant_id for k in wanted(r)
        )

    column = "membership_kinds" if parsed.has_kinds else "group_ref"
    for r in sorted(member_rows, key=lambda r: not keeps_own(r)):  # stable: file order otherwise
        ident = idents[id(r)]
        kinds = wanted(r)
        conflicts = [(k, holders[(ident, k)]) for k in kinds if (ident, k) in holders]
        if not conflicts:
            for k in kinds:
                kept = not r.is_new and open_holder.get((ident, k)) == r.registrant_id
                holders[(ident, k)] = ("db", r.registrant_id) if kept else ("row", r.line)
            continue
        kind_id, holder = conflicts[0]
        where = _("in row %d") % holder[1] if holder[0] == "row" else _("in the registry")
        parsed.error(
            r,
            column,
            _("Only one %(k)s is allowed per group: group '%(g)s' already has a %(k)s %(w)s.")
            % {"k": unique[kind_id], "g": r.group_ref, "w": where},
        )
        # this row is not written: what its member holds now stays held
        for k in kinds_held.get((ident, r.registrant_id), ()) if isinstance(ident, int) else ():
            if open_holder.get((ident, k)) == r.registrant_id:
                holders[(ident, k)] = ("db", r.registrant_id)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _write(parsed: _Parsed, lk: _Lookups) -> tuple[int, int]:
    """Stage the valid rows and write them; returns (created, updated). Call inside the
    transaction that validated them, under :func:`queries.lock_registry_import`.

    Queries: a constant number (id allocation, staging DDL, 5 ``COPY``, ``ANALYZE``, 8 writes).
    """
    valid = [r for r in parsed.rows if not r.bad]
    new = [r for r in valid if r.is_new]
    for r, rid in zip(new, queries.allocate_registrant_ids(count=len(new)), strict=True):
        r.registrant_id = rid
    for r in valid:
        if r.group_row is not None:
            r.group_id = r.group_row.registrant_id

    queries.create_import_staging()
    queries.copy_into_staging(
        table=queries.STAGE_REGISTRANT,
        columns=queries.STAGE_REGISTRANT_COLUMNS,
        rows=(
            (
                r.line,
                r.registrant_id,
                r.is_new,
                r.is_group,
                r.name,
                r.given_name,
                r.family_name,
                r.addl_name,
                r.gender,
                r.birthdate,
                r.birth_place,
                r.registration_date,
                r.email,
                r.address,
                r.kind_id,
                r.group_id,
                r.kinds is not None and r.group_id is not None,
            )
            for r in valid
        ),
    )
    queries.copy_into_staging(
        table=queries.STAGE_ID,
        columns=queries.STAGE_ID_COLUMNS,
        rows=((r.registrant_id, type_id, value) for r in valid for type_id, value in r.ids),
    )
    queries.copy_into_staging(
        table=queries.STAGE_PHONE,
        columns=queries.STAGE_PHONE_COLUMNS,
        rows=((r.registrant_id, raw_no, e164) for r in valid for raw_no, e164 in r.phones),
    )
    queries.copy_into_staging(
        table=queries.STAGE_TAG,
        columns=queries.STAGE_TAG_COLUMNS,
        rows=((r.registrant_id, tag_id) for r in valid for tag_id in r.tags),
    )
    queries.copy_into_staging(
        table=queries.STAGE_KIND,
        columns=queries.STAGE_KIND_COLUMNS,
        rows=(
            (r.group_id, r.registrant_id, kind_id)
            for r in valid
            if r.group_id
            for kind_id in (r.kinds or ())
        ),
    )
    queries.analyze_staging()
    created = queries.insert_registrants_from_staging(company_id=lk.company_id)
    queries.update_registrants_from_staging()
    queries.upsert_registrant_ids_from_staging()
    queries.insert_phones_from_staging(date_collected=lk.today)
    queries.insert_tags_from_staging()
    queries.delete_replaced_membership_kinds()
    queries.upsert_memberships_from_staging()
    queries.insert_membership_kinds_from_staging()
    queries.drop_import_staging()
    return created, len(valid) - len(new)


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def _check_mode(mode: str) -> None:
    if mode not in ImportMode.values:
        raise ValidationError(
            {
                "mode": _("Unknown mode '%(m)s': use %(k)s.")
                % {"m": mode, "k": " or ".join(ImportMode.values)}
            }
        )


def _sorted_errors(parsed: _Parsed) -> list[RowError]:
    order = parsed.column_order
    return sorted(parsed.errors, key=lambda e: (e.row, order.get(e.field, 10_000), e.field))


def _run(
    *,
    name: str,
    path: Path | None = None,
    content: bytes | None = None,
    mode: str,
    write: bool,
    key: str | None = None,
    actor_id: int | None = None,
    source: str = "",
    on_written: Any = None,
) -> ImportResult:
    """Parse, validate and (when ``write``) write, returning the outcome.

    With ``write`` the validation runs inside the write transaction under the import lock, so
    the registry cannot change between the checks and the writes. ``on_written(result)`` is
    called inside that transaction (to record the outcome atomically with the data).
    """
    _check_mode(mode)
    result = ImportResult(mode=mode, dry_run=not write)
    started = time.perf_counter()
    try:
        lookups = _Lookups.load()
    except _FileError as exc:
        result.file_error = True
        result.errors = [RowError(0, "file", str(exc))]
        return result
    parsed = _parse(name=name, path=path, content=content, lookups=lookups, key=key)
    result.rows_total = len(parsed.rows)
    result.timings["parse"] = time.perf_counter() - started
    if parsed.file_error:
        result.file_error = True
        result.rows_invalid = parsed.rows_invalid
        result.errors = _sorted_errors(parsed)
        return result

    def validate() -> None:
        t0 = time.perf_counter()
        _validate(parsed, lookups)
        result.timings["validate"] = time.perf_counter() - t0
        result.rows_invalid = parsed.rows_invalid
        result.errors = _sorted_errors(parsed)
        valid = [r for r in parsed.rows if not r.bad]
        result.created = sum(1 for r in valid if r.is_new)
        result.updated = len(valid) - result.created

    if not write:
        validate()
        return result

    try:
        with (
            pghistory.context(source=source or "registry import", user=actor_id),
            transaction.atomic(),
        ):
            queries.lock_registry_import()
            queries.prepare_audit_triggers()
            validate()
            if result.rows_invalid and mode == ImportMode.ALL_OR_NOTHING:
                result.created = result.updated = 0
            elif result.rows_invalid < result.rows_total:
                t0 = time.perf_counter()
                result.created, result.updated = _write(parsed, lookups)
                result.written = True
                send_registrants_changed(r.registrant_id for r in parsed.rows if not r.bad)
                result.timings["write"] = time.perf_counter() - t0
            else:
                result.created = result.updated = 0
            if on_written is not None:
                on_written(result)
    except IntegrityError as exc:
        # A database rule refused a row validation let through (e.g. a concurrent change):
        # the transaction is rolled back, nothing is written.
        refused = validation_error_from_db(exc)
        logger.warning("registry import refused by the database: %s", refused)
        result.written = False
        result.created = result.updated = 0
        result.file_error = True
        result.errors = [
            RowError(
                0,
                "file",
                _("The registry refused the import, nothing was written: %s")
                % "; ".join(refused.messages),
            ),
            *result.errors,
        ]
    return result


def registry_import_file(
    *,
    path: Path,
    mode: str = ImportMode.ALL_OR_NOTHING,
    dry_run: bool = False,
    actor: Actor = None,
    source: str = "",
    key: str | None = None,
) -> ImportResult:
    """Import an XLSX or CSV file from disk (the ``g2p import`` command).

    Args:
        path: the file; the format is recognised from its content (XLSX is a zip) and name.
        mode: ``all_or_nothing`` (write nothing if any row is invalid) or ``skip_invalid``.
        dry_run: validate and report only; ``created`` / ``updated`` are what would happen.
        actor: the user (``None`` = the operator); needs ``add_registryimport``.
        source: recorded in the audit context of every change.
        key: ID type name of the upsert key (default: the file's first ``id:`` column).

    One transaction; a fixed number of queries whatever the number of rows.
    """
    require_perm(actor, "g2p_registry_base.add_registryimport")
    return _run(
        name=path.name,
        path=path,
        mode=mode,
        write=not dry_run,
        key=key,
        actor_id=getattr(actor, "pk", None),
        source=source or f"import {path.name}",
    )


def registry_import_create(
    *, file_name: str, content: bytes, mode: str, actor: Actor
) -> RegistryImport:
    """Store an uploaded file and validate it now (nothing is written to the registry).

    The import ends ``validated`` (with its row errors, if any) or ``failed`` when the file
    cannot be imported at all (unreadable, bad header), with an error naming the problem.
    Requires ``g2p_registry_base.add_registryimport``; refused before anything is stored.
    """
    require_perm(actor, "g2p_registry_base.add_registryimport")
    _check_mode(mode)
    content = bytes(content)
    result = _run(name=file_name, content=content, mode=mode, write=False)
    with transaction.atomic():
        return RegistryImport.objects.create(
            file_name=file_name[:255],
            content=content,
            mode=mode,
            state=ImportState.FAILED if result.file_error else ImportState.VALIDATED,
            rows_total=result.rows_total,
            rows_invalid=result.rows_invalid,
            errors=[e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]],
            created_by_id=getattr(actor, "pk", None),
            finished_at=timezone.now() if result.file_error else None,
        )


def registry_import_confirm(*, registry_import: RegistryImport, actor: Actor) -> RegistryImport:
    """Write a validated import: inline up to ``G2P_MAX_ROWS_INLINE`` rows, else as a job.

    Refused (``ValidationError``, nothing changed) unless the import is ``validated`` and, in
    ``all_or_nothing`` mode, has no invalid row. Above the threshold a :class:`JobProgress`
    is created and the ``registry_import_run`` job deferred in the same transaction (state
    ``queued``): the job exists if and only if the confirmation committed.
    """
    require_perm(actor, "g2p_registry_base.add_registryimport")
    from pbms.models import JobProgress
    from pbms.services import job_progress_create

    actor_id = getattr(actor, "pk", None)
    with transaction.atomic():
        ri = RegistryImport.objects.select_for_update().get(pk=registry_import.pk)
        if ri.state != ImportState.VALIDATED:
            raise ValidationError(
                {
                    "state": _("Only a validated import can be confirmed (this one is %s).")
                    % ri.get_state_display()
                }
            )
        if ri.mode == ImportMode.ALL_OR_NOTHING and ri.rows_invalid:
            raise ValidationError(
                {
                    "mode": ngettext(
                        "%d row is invalid and the mode is all or nothing: fix the file "
                        "and upload it again, or choose to skip invalid rows.",
                        "%d rows are invalid and the mode is all or nothing: fix the file "
                        "and upload it again, or choose to skip invalid rows.",
                        ri.rows_invalid,
                    )
                    % ri.rows_invalid
                }
            )
        if ri.rows_total <= settings.G2P_MAX_ROWS_INLINE:
            _execute(ri, actor_id=actor_id, job_id=None)
        else:
            from g2p_registry_base.jobs import registry_import_run

            job = job_progress_create(
                operation=JOB_OPERATION,
                target=f"{JOB_OPERATION}:{ri.pk}",
                total=ri.rows_total,
                created_by_id=actor_id,
            )
            procrastinate_id = registry_import_run.defer(import_id=ri.pk)
            JobProgress.objects.filter(pk=job.pk).update(procrastinate_job_id=procrastinate_id)
            RegistryImport.objects.filter(pk=ri.pk).update(state=ImportState.QUEUED, job=job)
    ri.refresh_from_db()
    return ri


def _execute(ri: RegistryImport, *, actor_id: int | None, job_id: int | None) -> ImportResult:
    """Validate again and write ``ri`` in one transaction, recording its outcome in the same
    transaction (state ``done``, or ``failed`` when all-or-nothing finds invalid rows now)."""
    from pbms.services import job_progress_advance, job_progress_finish

    def record(result: ImportResult) -> None:
        failed = result.file_error or (
            result.rows_invalid > 0 and ri.mode == ImportMode.ALL_OR_NOTHING
        )
        RegistryImport.objects.filter(pk=ri.pk).update(
            state=ImportState.FAILED if failed else ImportState.DONE,
            rows_total=result.rows_total,
            rows_invalid=result.rows_invalid,
            created_count=result.created,
            updated_count=result.updated,
            errors=[e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]],
            finished_at=timezone.now(),
        )
        if job_id is not None:
            if not failed:
                job_progress_advance(
                    job_id=job_id,
                    done=result.rows_total - result.rows_invalid,
                    errors=result.rows_invalid,
                )
            job_progress_finish(job_id=job_id, failed=failed, message=_summary(result))

    result = _run(
        name=ri.file_name,
        content=bytes(ri.content),
        mode=ri.mode,
        write=True,
        actor_id=actor_id,
        source=f"registry import #{ri.pk}",
        on_written=record,
    )
    if result.file_error:  # nothing was opened for writing: record the failure on its own
        with transaction.atomic():
            record(result)
    return result


def registry_import_execute(*, import_id: int, final_attempt: bool = True) -> ImportResult | None:
    """Run a queued import (the body of the ``registry_import_run`` job). Idempotent.

    Only a confirmed import (``queued``, or ``running`` after a crash) runs; one that is done,
    failed or not confirmed is left alone. The import and its progress record
    are marked running (committed at once, so the officer sees it), then everything is written
    in one transaction together with the outcome. If that transaction fails, nothing of it
    remains; the error is recorded and re-raised so the job is retried, and on the final attempt
    the import is marked failed. A retry re-reads the registry, so rows written by a committed
    earlier attempt are matched by key and updated, never duplicated.
    """
    from pbms.services import job_progress_finish, job_progress_start

    ri = RegistryImport.objects.filter(pk=import_id).first()
    # queued: confirmed and waiting; running: an earlier attempt died (its transaction with it)
    if ri is None or ri.state not in (ImportState.QUEUED, ImportState.RUNNING):
        logger.info("registry import %s: nothing to do (%s)", import_id, ri and ri.state)
        return None
    job_id = ri.job_id
    actor_id = None
    if job_id is not None:
        from pbms.models import JobProgress

        actor_id = (
            JobProgress.objects.filter(pk=job_id).values_list("created_by_id", flat=True).first()
        )
        job_progress_start(job_id=job_id, total=ri.rows_total)
    RegistryImport.objects.filter(pk=ri.pk).update(state=ImportState.RUNNING)
    try:
        return _execute(ri, actor_id=actor_id, job_id=job_id)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        if final_attempt:
            RegistryImport.objects.filter(pk=ri.pk).update(
                state=ImportState.FAILED,
                finished_at=timezone.now(),
                errors=[RowError(0, "file", _("The import failed: %s") % message).as_dict()],
            )
            if job_id is not None:
                job_progress_finish(job_id=job_id, failed=True, message=message)
        elif job_id is not None:
            from pbms.models import JobProgress

            JobProgress.objects.filter(pk=job_id).update(
                message=_("Attempt failed, will retry: %s") % message
            )
        raise


# --------------------------------------------------------------------------------------------
# Reports and template
# --------------------------------------------------------------------------------------------


def _summary(result: ImportResult) -> str:
    if result.file_error:
        return _("The file cannot be imported.")
    if result.written:
        return _("Written. Created: %(c)d, updated: %(u)d, invalid rows skipped: %(i)d.") % {
            "c": result.created,
            "u": result.updated,
            "i": result.rows_invalid,
        }
    if result.dry_run:
        return _(
            "Dry run, nothing written. Would create: %(c)d, update: %(u)d; invalid rows: %(i)d."
        ) % {
            "c": result.created,
            "u": result.updated,
            "i": result.rows_invalid,
        }
    if result.rows_invalid:
        return _("Nothing written: the file has invalid rows and the mode is all or nothing.")
    return _("Nothing written.")


def report_text(result: ImportResult, *, limit: int = REPORT_ERRORS) -> str:
    """A human summary: counts, outcome and the first ``limit`` errors."""
    lines = [
        _("Rows: %(t)d, valid: %(v)d, invalid: %(i)d.")
        % {
            "t": result.rows_total,
            "v": result.rows_total - result.rows_invalid,
            "i": result.rows_invalid,
        },
        _summary(result),
    ]
    if result.timings:
        lines.append(" ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
    if result.errors:
        shown = result.errors[:limit]
        lines.append(_("Errors (%(n)d of %(t)d):") % {"n": len(shown), "t": len(result.errors)})
        for e in shown:
            where = _("file") if e.row == 0 else _("row %d") % e.row
            lines.append(f"  {where}, {e.field}: {e.message}")
    return "\n".join(lines)


def write_error_report(result: ImportResult, path: Path) -> None:
    """Write every error to ``path`` as CSV with the columns row, field, message."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "field", "message"])
        for e in result.errors:
            writer.writerow([e.row, e.field, e.message])


def _template_rows(key_column: str) -> tuple[list[str], list[list[Any]]]:
    header = ["type", key_column, *STANDARD_COLUMNS[1:]]
    d = datetime.date
    rows: list[list[Any]] = [
        [
            "group",
            "1000000001",
            "",
            "",
            "Mwangi household",
            "",
            "",
            "",
            "",
            None,
            "",
            d(2024, 3, 1),
            "",
            "Kibera, Nairobi",
            "",
            "Household",
            "+254712000001",
        ],
        [
            "individual",
            "1000000002",
            "1000000001",
            "Head",
            "",
            "Grace",
            "Mwangi",
            "Wanjiru",
            "Female",
            d(1985, 6, 14),
            "Nairobi",
            d(2024, 3, 1),
            "grace.mwangi@example.org",
            "",
            "",
            "",
            "+254712000002",
        ],
        [
            "individual",
            "1000000003",
            "1000000001",
            "",
            "",
            "Peter",
            "Mwangi",
            "",
            "Male",
            d(2012, 1, 30),
            "Nairobi",
            d(2024, 3, 1),
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "group",
            "1000000004",
            "",
            "",
            "Otieno household",
            "",
            "",
            "",
            "",
            None,
            "",
            d(2024, 3, 2),
            "",
            "Kisumu",
            "",
            "Household",
            "",
        ],
        [
            "individual",
            "1000000005",
            "1000000004",
            "Head",
            "",
            "Samuel",
            "Otieno",
            "",
            "Male",
            d(1970, 11, 2),
            "Kisumu",
            d(2024, 3, 2),
            "",
            "",
            "",
            "",
            "+254722000005;+254733000005",
        ],
        [
            "individual",
            "1000000006",
            "1000000004",
            "",
            "",
            "Akinyi",
            "Otieno",
            "",
            "Female",
            d(1974, 4, 21),
            "Kisumu",
            d(2024, 3, 2),
            "",
            "",
            "",
            "",
            "",
        ],
    ]
    return header, rows


def import_template(fmt: str) -> bytes:
    """An example file (``"xlsx"`` or ``"csv"``): the header and two example households.

    The key column is ``id:National ID`` when that ID type exists, else the first ID type.
    """
    names = list(IdType.objects.order_by("name").values_list("name", flat=True))
    key = next(
        (n for n in names if n.lower() == "national id"), names[0] if names else "National ID"
    )
    header, rows = _template_rows(f"{ID_PREFIX}{key}")
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                [
                    "" if v is None else v.isoformat() if isinstance(v, datetime.date) else v
                    for v in row
                ]
            )
        return out.getvalue().encode("utf-8")
    if fmt == "xlsx":
        import openpyxl
        from openpyxl.styles import Font

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.title = "Registrants"
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for column in sheet.iter_cols(min_row=2):
            for cell in column:
                if isinstance(cell.value, datetime.date):
                    cell.number_format = "yyyy-mm-dd"
                elif isinstance(cell.value, str):
                    cell.number_format = "@"
        for i, name in enumerate(header, start=1):
            sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width = max(
                12, len(name) + 4
            )
        out_b = io.BytesIO()
        workbook.save(out_b)
        return out_b.getvalue()
    raise ValidationError({"fmt": _("Unknown template format '%s': use xlsx or csv.") % fmt})
