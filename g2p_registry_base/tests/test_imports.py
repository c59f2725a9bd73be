"""Registry import: format, validation, write rules, upserts, jobs, audit and query counts."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from g2p_registry_base import imports
from g2p_registry_base.factories import (
    GroupFactory,
    IdTypeFactory,
    IndividualFactory,
    MembershipFactory,
    RegistrantIdFactory,
    RegistrantTagFactory,
)
from g2p_registry_base.imports import RowError
from g2p_registry_base.models import (
    GroupKind,
    GroupMembership,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
    RegistryImport,
)

pytestmark = pytest.mark.django_db

KEY = "id:National ID"
HEADER = [
    "type",
    KEY,
    "group_ref",
    "membership_kinds",
    "name",
    "given_name",
    "family_name",
    "addl_name",
    "gender",
    "birthdate",
    "registration_date",
    "email",
    "address",
    "tags",
    "group_kind",
    "phones",
]


def household_rows() -> list[dict[str, str]]:
    """Two households: rows 2-4 and 5-7 of the sheet."""
    return [
        {
            "type": "group",
            KEY: "1000000001",
            "name": "Mwangi household",
            "registration_date": "2024-03-01",
            "address": "Kibera, Nairobi",
            "tags": "Urban",
            "group_kind": "Household",
            "phones": "0712000001",
        },
        {
            "type": "individual",
            KEY: "1000000002",
            "group_ref": "1000000001",
            "membership_kinds": "Head",
            "given_name": "Grace",
            "family_name": "Mwangi",
            "addl_name": "Wanjiru",
            "gender": "female",
            "birthdate": "1985-06-14",
            "registration_date": "2024-03-01",
            "email": "grace@example.org",
            "tags": "Urban; Vulnerable",
            "phones": "+254 712 000 002; 0712000002",
        },
        {
            "type": "individual",
            KEY: "1000000003",
            "group_ref": "1000000001",
            "given_name": "Peter",
            "family_name": "Mwangi",
            "gender": "Male",
            "birthdate": "2012-01-30",
            "registration_date": "2024-03-01",
        },
        {
            "type": "group",
            KEY: "1000000004",
            "name": "Otieno household",
            "registration_date": "2024-03-02",
            "group_kind": "family",
        },
        {
            "type": "individual",
            KEY: "1000000005",
            "group_ref": "1000000004",
            "membership_kinds": "head",
            "given_name": "Samuel",
            "family_name": "Otieno",
            "gender": "Male",
            "birthdate": "1970-11-02",
            "registration_date": "2024-03-02",
            "phones": "0722000005;0733000005",
        },
        {
            "type": "individual",
            KEY: "1000000006",
            "group_ref": "1000000004",
            "given_name": "Akinyi",
            "family_name": "Otieno",
            "gender": "Female",
            "birthdate": "1974-04-21",
        },
    ]


def csv_bytes(rows: list[dict[str, Any]], header: list[str] | None = None) -> bytes:
    header = header or HEADER
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue().encode("utf-8")


def write_csv(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    header: list[str] | None = None,
    name: str = "registry.csv",
) -> Path:
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, header))
    return path


def run(
    tmp_path: Path, rows: list[dict[str, Any]], header: list[str] | None = None, **kwargs: Any
) -> imports.ImportResult:
    return imports.registry_import_file(path=write_csv(tmp_path, rows, header), **kwargs)


def table_counts() -> dict[str, int]:
    return {
        "registrants": Registrant.objects.count(),
        "ids": RegistrantId.objects.count(),
        "phones": PhoneNumber.objects.count(),
        "memberships": GroupMembership.objects.count(),
        "kinds": GroupMembership.kinds.through.objects.count(),
        "tags": Registrant.tags.through.objects.count(),
    }


def by_key(value: str) -> Registrant:
    return Registrant.objects.get(reg_ids__id_type__name="National ID", reg_ids__value=value)


def kinds_of(group: Registrant, individual: Registrant) -> list[str]:
    membership = GroupMembership.objects.get(group=group, individual=individual)
    return sorted(membership.kinds.values_list("name", flat=True))


@pytest.fixture
def national_id():
    return IdTypeFactory(name="National ID", id_validation="[0-9]{10}")


@pytest.fixture
def tags():
    return RegistrantTagFactory(name="Urban"), RegistrantTagFactory(name="Vulnerable")


@pytest.fixture(params=["openpyxl", "calamine"])
def xlsx_reader(request, monkeypatch):
    """Run an XLSX test with each reader (calamine only when installed)."""
    if request.param == "calamine":
        pytest.importorskip("python_calamine")
    monkeypatch.setattr(imports, "XLSX_READER", request.param)
    return request.param


@pytest.fixture
def registry(national_id, tags):
    """The configuration an import needs (ID type and tags); the rest is seeded."""
    return national_id


# --------------------------------------------------------------------------------------------
# Happy paths
# --------------------------------------------------------------------------------------------


def assert_households_imported() -> None:
    mwangi, grace, peter = by_key("1000000001"), by_key("1000000002"), by_key("1000000003")
    otieno, samuel, akinyi = by_key("1000000004"), by_key("1000000005"), by_key("1000000006")
    assert (mwangi.is_group, mwangi.name, mwangi.kind.name, mwangi.address) == (
        True,
        "Mwangi household",
        "Household",
        "Kibera, Nairobi",
    )
    assert otieno.kind.name == "Family"
    assert [r.name for r in (grace, peter, samuel, akinyi)] == [
        "MWANGI, GRACE WANJIRU",
        "MWANGI, PETER",
        "OTIENO, SAMUEL",
        "OTIENO, AKINYI",
    ]
    assert (
        grace.given_name,
        grace.family_name,
        grace.addl_name,
        grace.gender_id,
        grace.birthdate,
        grace.registration_date,
        grace.email,
    ) == (
        "Grace",
        "Mwangi",
        "Wanjiru",
        "Female",
        datetime.date(1985, 6, 14),
        datetime.date(2024, 3, 1),
        "grace@example.org",
    )
    assert akinyi.registration_date == timezone.localdate()  # the model's default
    assert list(grace.reg_ids.values_list("id_type__name", "value")) == [
        ("National ID", "1000000002")
    ]
    assert sorted(PhoneNumber.objects.values_list("registrant__name", "phone_sanitized")) == [
        ("MWANGI, GRACE WANJIRU", "+254712000002"),
        ("Mwangi household", "+254712000001"),
        ("OTIENO, SAMUEL", "+254722000005"),
        ("OTIENO, SAMUEL", "+254733000005"),
    ]
    assert PhoneNumber.objects.get(registrant=grace).phone_no == "+254 712 000 002"
    assert sorted(grace.tags.values_list("name", flat=True)) == ["Urban", "Vulnerable"]
    assert list(mwangi.tags.values_list("name", flat=True)) == ["Urban"]
    assert sorted(GroupMembership.objects.values_list("group__name", "individual__name")) == [
        ("Mwangi household", "MWANGI, GRACE WANJIRU"),
        ("Mwangi household", "MWANGI, PETER"),
        ("Otieno household", "OTIENO, AKINYI"),
        ("Otieno household", "OTIENO, SAMUEL"),
    ]
    assert kinds_of(mwangi, grace) == ["Head"]
    assert kinds_of(mwangi, peter) == []
    assert kinds_of(otieno, samuel) == ["Head"]
    assert GroupMembership.objects.filter(ended_date__isnull=True).count() == 4
    assert table_counts() == {
        "registrants": 6,
        "ids": 6,
        "phones": 4,
        "memberships": 4,
        "kinds": 2,
        "tags": 3,
    }


def test_csv_happy_path(tmp_path, registry):
    result = run(tmp_path, household_rows())

    assert (
        result.rows_total,
        result.rows_invalid,
        result.created,
        result.updated,
        result.written,
        result.errors,
        result.ok,
    ) == (6, 0, 6, 0, True, [], True)
    assert_households_imported()


def test_xlsx_happy_path_with_date_and_number_cells(tmp_path, registry, xlsx_reader):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in household_rows():
        cells: list[Any] = [row.get(column, "") or None for column in HEADER]
        for column in ("birthdate", "registration_date"):
            i = HEADER.index(column)
            if cells[i]:
                cells[i] = datetime.date.fromisoformat(cells[i])  # real date cells
        cells[HEADER.index(KEY)] = int(row[KEY])  # IDs typed as numbers
        sheet.append(cells)
    # a number cell loses the leading zero of a phone: still read in the company's country
    sheet.cell(row=2, column=HEADER.index("phones") + 1, value=712000001)
    # a datetime cell at midnight is a date
    sheet.cell(row=4, column=HEADER.index("birthdate") + 1, value=datetime.datetime(2012, 1, 30))
    path = tmp_path / "registry.xlsx"
    workbook.save(path)

    result = imports.registry_import_file(path=path)

    assert (result.rows_total, result.rows_invalid, result.created, result.errors) == (6, 0, 6, [])
    assert_households_imported()


def test_xlsx_row_numbers_follow_the_sheet(tmp_path, registry, xlsx_reader):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["type", KEY, "name"])
    sheet.append(["group", "1000000001", "Mwangi household"])
    sheet.append([])
    sheet.append(["group", "12", "Otieno household"])
    sheet.cell(row=8, column=2, value=None)  # styled but empty cells further down
    path = tmp_path / "gaps.xlsx"
    workbook.save(path)

    result = imports.registry_import_file(path=path)

    assert (result.rows_total, result.errors) == (
        2,
        [RowError(4, KEY, "The provided National ID ID '12' is invalid.")],
    )


def test_xlsx_header_must_be_row_one(tmp_path, registry, xlsx_reader):
    workbook = openpyxl.Workbook()
    workbook.active["A2"] = "type"
    workbook.active["B2"] = KEY
    path = tmp_path / "late_header.xlsx"
    workbook.save(path)

    result = imports.registry_import_file(path=path)

    assert result.errors == [
        RowError(0, "file", "Row 1 must be the header (the column names); it is empty.")
    ]


def test_blank_rows_are_skipped_and_row_numbers_follow_the_sheet(tmp_path, registry):
    content = csv_bytes(household_rows()[:2]).replace(b"\r\n", b"\r\n,,,\r\n", 1)
    path = tmp_path / "gaps.csv"
    path.write_bytes(content + b"individual,12\r\n")

    result = imports.registry_import_file(path=path)

    assert result.rows_total == 3
    assert result.errors == [
        RowError(5, KEY, "The provided National ID ID '12' is invalid."),
        RowError(5, "given_name", "The given name is required."),
        RowError(5, "family_name", "The family name is required."),
    ]


def test_reimport_updates_instead_of_duplicating(tmp_path, registry):
    tax = IdTypeFactory(name="Tax ID", id_validation="T[0-9]{6}")
    run(tmp_path, household_rows())
    before = table_counts()

    rows = household_rows()
    rows[1].update(
        {
            "given_name": "Gracie",
            "addl_name": "",
            "email": "",
            "phones": "0712999002",
            "id:Tax ID": "T123456",
            "tags": "Vulnerable",
        }
    )
    rows[0].update({"address": "", "name": "Mwangi family"})
    result = run(tmp_path, rows, HEADER + ["id:Tax ID"])

    assert (result.rows_total, result.created, result.updated, result.rows_invalid) == (6, 0, 6, 0)
    assert table_counts() == {**before, "ids": 7, "phones": 5}
    grace = by_key("1000000002")
    # non-empty cells overwrite, empty cells keep; the name follows the merged parts
    assert (grace.given_name, grace.addl_name, grace.name, grace.email) == (
        "Gracie",
        "Wanjiru",
        "MWANGI, GRACIE WANJIRU",
        "grace@example.org",
    )
    assert sorted(grace.reg_ids.values_list("id_type__name", "value")) == [
        ("National ID", "1000000002"),
        ("Tax ID", "T123456"),
    ]
    assert sorted(grace.phone_numbers.values_list("phone_sanitized", flat=True)) == [
        "+254712000002",
        "+254712999002",
    ]
    assert sorted(grace.tags.values_list("name", flat=True)) == ["Urban", "Vulnerable"]
    mwangi = by_key("1000000001")
    assert (mwangi.name, mwangi.address) == ("Mwangi family", "Kibera, Nairobi")

    # an ID of another type changes its value on the next import
    rows[1]["id:Tax ID"] = "T654321"
    run(tmp_path, rows, HEADER + ["id:Tax ID"])
    assert RegistrantId.objects.get(registrant=grace, id_type=tax).value == "T654321"
    assert table_counts() == {**before, "ids": 7, "phones": 5}


def test_reimport_of_identical_file_changes_nothing(tmp_path, registry):
    run(tmp_path, household_rows())
    events = apps.get_model("g2p_registry_base", "RegistrantEvent").objects
    write_dates = dict(Registrant.objects.values_list("pk", "write_date"))
    n_events = events.count()

    result = run(tmp_path, household_rows())

    assert (result.created, result.updated) == (0, 6)
    assert dict(Registrant.objects.values_list("pk", "write_date")) == write_dates
    assert events.count() == n_events


def test_member_joins_a_group_already_in_the_registry(tmp_path, registry):
    group = GroupFactory(name="Existing household")
    RegistrantIdFactory(registrant=group, id_type=registry, value="5000000001")
    rows = [
        {
            "type": "individual",
            KEY: "5000000002",
            "group_ref": "5000000001",
            "membership_kinds": "Head",
            "given_name": "Ann",
            "family_name": "Kamau",
        }
    ]

    result = run(tmp_path, rows)

    assert (result.created, result.errors) == (1, [])
    assert kinds_of(group, by_key("5000000002")) == ["Head"]


def test_ended_membership_is_reopened(tmp_path, registry):
    run(tmp_path, household_rows())
    peter = GroupMembership.objects.get(individual=by_key("1000000003"))
    GroupMembership.objects.filter(pk=peter.pk).update(
        start_date=timezone.now() - datetime.timedelta(days=9),
        ended_date=timezone.now() - datetime.timedelta(days=1),
    )

    run(tmp_path, household_rows())

    peter.refresh_from_db()
    assert peter.ended_date is None
    assert GroupMembership.objects.count() == 4


def test_membership_kinds_column_sets_roles_exactly_and_head_can_move(tmp_path, registry):
    run(tmp_path, household_rows())
    rows = household_rows()
    rows[1]["membership_kinds"] = ""  # Grace is no longer Head...
    rows[2]["membership_kinds"] = "Head"  # ...Peter is

    result = run(tmp_path, rows)

    assert result.errors == []
    mwangi = by_key("1000000001")
    assert kinds_of(mwangi, by_key("1000000002")) == []
    assert kinds_of(mwangi, by_key("1000000003")) == ["Head"]

    # without the column, roles stay as they are
    header = [c for c in HEADER if c != "membership_kinds"]
    assert run(tmp_path, household_rows(), header).errors == []
    assert kinds_of(mwangi, by_key("1000000003")) == ["Head"]


def test_key_argument_chooses_another_id_type(tmp_path, registry):
    IdTypeFactory(name="Household ID", id_validation="")
    header = ["type", "id:Household ID", KEY, "name", "group_ref", "given_name", "family_name"]
    rows = [
        {"type": "group", "id:Household ID": "HH-1", "name": "Kamau household"},
        {
            "type": "individual",
            "id:Household ID": "HH-1-1",
            KEY: "1000000009",
            "group_ref": "HH-1",
            "given_name": "Ann",
            "family_name": "Kamau",
        },
    ]

    result = imports.registry_import_file(
        path=write_csv(tmp_path, rows, header), key="household id"
    )

    assert (result.created, result.errors) == (2, [])
    ann = Registrant.objects.get(reg_ids__value="HH-1-1")
    assert sorted(ann.reg_ids.values_list("value", flat=True)) == ["1000000009", "HH-1-1"]
    assert GroupMembership.objects.get(individual=ann).group.name == "Kamau household"


def test_dry_run_writes_nothing_and_reports_what_it_would_do(tmp_path, registry):
    result = run(tmp_path, household_rows(), dry_run=True)

    assert (result.rows_total, result.created, result.updated, result.written, result.dry_run) == (
        6,
        6,
        0,
        False,
        True,
    )
    assert table_counts() == {
        "registrants": 0,
        "ids": 0,
        "phones": 0,
        "memberships": 0,
        "kinds": 0,
        "tags": 0,
    }


# --------------------------------------------------------------------------------------------
# Bad rows: row, column and message
# --------------------------------------------------------------------------------------------

GROUP = {"type": "group", KEY: "1000000001", "name": "Mwangi household"}
MEMBER = {
    "type": "individual",
    KEY: "2000000001",
    "group_ref": "1000000001",
    "given_name": "Grace",
    "family_name": "Mwangi",
}
TOMORROW = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"type": ""}, "type", "The type is required: individual or group."),
        ({"type": "person"}, "type", "Unknown type 'person': use individual or group."),
        (
            {KEY: ""},
            KEY,
            "The key id:National ID is required: it identifies the registrant on re-import.",
        ),
        ({KEY: "12AB"}, KEY, "The provided National ID ID '12AB' is invalid."),
        ({KEY: "12345678901"}, KEY, "The provided National ID ID '12345678901' is invalid."),
        (
            {KEY: "1000000001"},
            KEY,
            "Duplicate key: National ID '1000000001' is already used by row 2.",
        ),
        ({"given_name": ""}, "given_name", "The given name is required."),
        ({"family_name": ""}, "family_name", "The family name is required."),
        (
            {"name": "Grace"},
            "name",
            "An individual's name is made from given_name, family_name and addl_name: "
            "leave name empty.",
        ),
        (
            {"given_name": "G" * 129},
            "given_name",
            "Ensure this value has at most 128 characters (it has 129).",
        ),
        (
            {"birthdate": TOMORROW},
            "birthdate",
            "You can't select a date of birth greater than today.",
        ),
        (
            {"birthdate": "17/05/1990"},
            "birthdate",
            "Enter a valid date as YYYY-MM-DD (got '17/05/1990').",
        ),
        (
            {"birthdate": "1990-02-30"},
            "birthdate",
            "Enter a valid date as YYYY-MM-DD (got '1990-02-30').",
        ),
        (
            {"registration_date": TOMORROW},
            "registration_date",
            "Registration date must be less than the current date.",
        ),
        (
            {"birthdate": "1990-05-17", "registration_date": "1990-05-16"},
            "registration_date",
            "Registration date must be later than the birth date.",
        ),
        ({"gender": "F"}, "gender", "Unknown gender 'F' (use one of: Female, Male, Other)."),
        ({"email": "grace-at-example.org"}, "email", "Enter a valid email address."),
        ({"tags": "Urban;Nope; Other"}, "tags", "Unknown tag(s): Nope, Other."),
        ({"group_kind": "Household"}, "group_kind", "Only groups have a group kind."),
        ({"phones": "0712000002;12345"}, "phones", "'12345' is not a valid phone number."),
        ({"phones": "call me"}, "phones", "'call me' is not a phone number."),
        (
            {"group_ref": "9999999999"},
            "group_ref",
            "No group with National ID '9999999999' in this file or in the registry.",
        ),
        (
            {"group_ref": "", "membership_kinds": "Head"},
            "membership_kinds",
            "membership_kinds needs a group_ref (the member's group).",
        ),
        (
            {"membership_kinds": "Head;Chief"},
            "membership_kinds",
            "Unknown membership kind(s): Chief.",
        ),
    ],
)
def test_bad_individual_row(tmp_path, registry, changes, field, message):
    result = run(tmp_path, [GROUP, {**MEMBER, **changes}])

    assert result.errors == [RowError(3, field, message)]
    assert (result.rows_total, result.rows_invalid, result.written) == (2, 1, False)
    assert Registrant.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "A name is required."),
        ({"given_name": "Grace"}, "given_name", "Groups have a name, not given or family names."),
        (
            {"family_name": "Mwangi"},
            "family_name",
            "Groups have a name, not given or family names.",
        ),
        ({"gender": "Female"}, "gender", "Groups have no gender."),
        ({"birthdate": "1990-01-01"}, "birthdate", "Groups have no date of birth."),
        ({"group_kind": "Tribe"}, "group_kind", "Unknown group kind 'Tribe'."),
        (
            {"group_ref": "1000000001"},
            "group_ref",
            "Only individuals belong to a group: leave group_ref empty for groups.",
        ),
        (
            {"membership_kinds": "Head"},
            "membership_kinds",
            "Only individuals have membership kinds.",
        ),
    ],
)
def test_bad_group_row(tmp_path, registry, changes, field, message):
    other = {"type": "group", KEY: "3000000001", "name": "Otieno household", **changes}

    result = run(tmp_path, [GROUP, other])

    assert result.errors == [RowError(3, field, message)]


def test_one_row_reports_each_bad_column(tmp_path, registry):
    bad = {**MEMBER, "gender": "X", "birthdate": "yesterday", "phones": "123"}

    result = run(tmp_path, [GROUP, bad])

    assert result.errors == [
        RowError(3, "gender", "Unknown gender 'X' (use one of: Female, Male, Other)."),
        RowError(3, "birthdate", "Enter a valid date as YYYY-MM-DD (got 'yesterday')."),
        RowError(3, "phones", "'123' is not a valid phone number."),
    ]
    assert result.rows_invalid == 1


def test_group_ref_to_an_individual_is_refused(tmp_path, registry):
    person = {**MEMBER, "group_ref": ""}
    other = {**MEMBER, KEY: "2000000002", "group_ref": "2000000001"}

    result = run(tmp_path, [GROUP, person, other])

    assert result.errors == [
        RowError(4, "group_ref", "National ID '2000000001' (row 3) is an individual, not a group.")
    ]


def test_group_ref_to_an_individual_in_the_registry_is_refused(tmp_path, registry):
    RegistrantIdFactory(registrant=IndividualFactory(), id_type=registry, value="7000000001")

    result = run(tmp_path, [{**MEMBER, "group_ref": "7000000001"}])

    assert result.errors == [
        RowError(
            2,
            "group_ref",
            "National ID '7000000001' is an individual in the registry, not a group.",
        )
    ]


def test_member_listed_before_its_group_is_fine(tmp_path, registry):
    result = run(tmp_path, [MEMBER, GROUP])

    assert (result.created, result.errors) == (2, [])


def test_key_matching_two_registrants_is_refused(tmp_path, registry):
    for _ in range(2):
        RegistrantIdFactory(registrant=IndividualFactory(), id_type=registry, value="2000000001")

    result = run(tmp_path, [GROUP, MEMBER])

    assert result.errors == [
        RowError(
            3,
            KEY,
            "National ID '2000000001' matches 2 registrants in the registry; "
            "resolve the duplicates first.",
        )
    ]
    assert Registrant.objects.count() == 2


def test_key_of_a_registrant_of_the_other_type_is_refused(tmp_path, registry):
    RegistrantIdFactory(registrant=GroupFactory(), id_type=registry, value="2000000001")

    result = run(tmp_path, [GROUP, MEMBER])

    assert result.errors == [
        RowError(
            3,
            "type",
            "National ID '2000000001' belongs to an existing group; a row "
            "cannot change the registrant's type.",
        )
    ]


def test_update_keeps_registration_after_birth_with_registry_values(tmp_path, registry):
    person = IndividualFactory(
        registration_date=datetime.date(2000, 1, 1), birthdate=datetime.date(1990, 1, 1)
    )
    RegistrantIdFactory(registrant=person, id_type=registry, value="2000000001")

    result = run(tmp_path, [{**MEMBER, "group_ref": "", "birthdate": "2001-01-01"}])

    assert result.errors == [
        RowError(2, "birthdate", "Registration date must be later than the birth date.")
    ]


def test_value_under_an_empty_header_is_refused(tmp_path, registry):
    header = ["type", KEY, "", "name"]
    path = tmp_path / "extra.csv"
    path.write_bytes(
        b"type,id:National ID,,name\r\ngroup,1000000001,oops,Mwangi household\r\n"
        b"group,1000000002,,Otieno household,surplus\r\n"
    )

    result = imports.registry_import_file(path=path)

    assert header[2] == ""
    assert result.errors == [
        RowError(2, "column 3", "This column has no header: name it or remove its values."),
        RowError(3, "column 5", "This column has no header: name it or remove its values."),
    ]


# --------------------------------------------------------------------------------------------
# File-level problems
# --------------------------------------------------------------------------------------------


def test_header_problems_stop_the_import(tmp_path, registry):
    header = ["Type", KEY, "id:Passport", "nickname", "name", "name"]
    path = tmp_path / "bad_header.csv"
    path.write_bytes(
        b"Type,id:National ID,id:Passport,nickname,name,Name\r\ngroup,1000000001,,,H,H\r\n"
    )

    result = imports.registry_import_file(path=path, mode="skip_invalid")

    assert header[0] == "Type"
    assert (result.file_error, result.written, result.rows_total, result.rows_invalid) == (
        True,
        False,
        1,
        1,
    )
    assert result.errors == [
        RowError(1, "Name", "Column 'Name' appears twice."),
        RowError(1, "id:Passport", "Unknown ID type 'Passport' (known ID types: National ID)."),
        RowError(
            1,
            "nickname",
            "Unknown column 'nickname'. Known columns: type, group_ref, membership_kinds, "
            "name, given_name, family_name, addl_name, gender, birthdate, birth_place, "
            "registration_date, email, address, tags, group_kind, phones, id:<ID type>.",
        ),
    ]
    assert Registrant.objects.count() == 0


def test_missing_type_and_id_columns(tmp_path, registry):
    path = write_csv(tmp_path, [{"name": "H"}], ["name"])

    result = imports.registry_import_file(path=path)

    assert result.errors == [
        RowError(
            1,
            "id:",
            "At least one ID column (id:<ID type>, e.g. 'id:National ID') is required: the first "
            "one is the key that identifies registrants on re-import.",
        ),
        RowError(1, "type", "The column 'type' is required (individual or group)."),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "The file is not a readable XLSX workbook"),
        (
            "latin1.csv",
            "type,id:National ID,name\r\ngroup,1000000001,Ménage\r\n".encode("latin-1"),
            "The file is not UTF-8 text (near row 1); save it as CSV UTF-8.",
        ),
        (
            "old.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "Old Excel (.xls) files are not supported",
        ),
        ("empty.csv", b"", "The file is empty."),
        (
            "header_only.csv",
            b"type,id:National ID,name\r\n",
            "The file has a header but no data rows.",
        ),
    ],
)
def test_unreadable_files(tmp_path, registry, xlsx_reader, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)

    result = imports.registry_import_file(path=path)

    assert result.file_error is True
    assert [(e.row, e.field) for e in result.errors] == [(0, "file")]
    assert result.errors[0].message.startswith(message)


# --------------------------------------------------------------------------------------------
# Write rules
# --------------------------------------------------------------------------------------------


def test_all_or_nothing_with_one_bad_row_writes_nothing(tmp_path, registry):
    run(tmp_path, household_rows()[:3])
    before = table_counts()
    rows = household_rows()
    rows[1]["given_name"] = "Changed"
    rows[5]["birthdate"] = TOMORROW

    result = run(tmp_path, rows)

    assert (
        result.rows_total,
        result.rows_invalid,
        result.created,
        result.updated,
        result.written,
    ) == (6, 1, 0, 0, False)
    assert result.errors == [
        RowError(7, "birthdate", "You can't select a date of birth greater than today.")
    ]
    assert table_counts() == before
    assert by_key("1000000002").given_name == "Grace"


def test_skip_invalid_writes_the_valid_rows_and_reports_members_of_a_bad_group(tmp_path, registry):
    rows = household_rows()
    rows[3]["group_kind"] = "Tribe"  # the Otieno group row (5) is invalid...
    rows[2]["phones"] = "123"  # ...and so is Peter (4)

    result = run(tmp_path, rows, mode="skip_invalid")

    assert (
        result.rows_total,
        result.rows_invalid,
        result.created,
        result.updated,
        result.written,
    ) == (6, 4, 2, 0, True)
    assert result.errors == [
        RowError(4, "phones", "'123' is not a valid phone number."),
        RowError(5, "group_kind", "Unknown group kind 'Tribe'."),
        RowError(
            6,
            "group_ref",
            "The group National ID '1000000004' (row 5) is invalid, so its members cannot "
            "be imported.",
        ),
        RowError(
            7,
            "group_ref",
            "The group National ID '1000000004' (row 5) is invalid, so its members cannot "
            "be imported.",
        ),
    ]
    assert sorted(Registrant.objects.values_list("name", flat=True)) == [
        "MWANGI, GRACE WANJIRU",
        "Mwangi household",
    ]
    assert table_counts() == {
        "registrants": 2,
        "ids": 2,
        "phones": 2,
        "memberships": 1,
        "kinds": 1,
        "tags": 3,
    }


def test_second_head_in_the_file_is_refused(tmp_path, registry):
    rows = household_rows()
    rows[2]["membership_kinds"] = "Head"

    result = run(tmp_path, rows)

    assert result.errors == [
        RowError(
            4,
            "membership_kinds",
            "Only one Head is allowed per group: group '1000000001' already has a Head in row 3.",
        )
    ]
    assert Registrant.objects.count() == 0


def test_second_head_against_the_registry_is_refused(tmp_path, registry):
    group = GroupFactory(name="Existing household")
    RegistrantIdFactory(registrant=group, id_type=registry, value="5000000001")
    head = MembershipFactory(group=group)
    head.kinds.set([MembershipKind.objects.get(name="Head")])
    ended = MembershipFactory(
        group=group,
        start_date=timezone.now() - datetime.timedelta(days=30),
        ended_date=timezone.now(),
    )
    ended.kinds.set([MembershipKind.objects.get(name="Head")])  # an ended Head does not count
    before = table_counts()
    rows = [
        {
            "type": "individual",
            KEY: "5000000002",
            "group_ref": "5000000001",
            "membership_kinds": "Head",
            "given_name": "Ann",
            "family_name": "Kamau",
        }
    ]

    result = run(tmp_path, rows)

    assert result.errors == [
        RowError(
            2,
            "membership_kinds",
            "Only one Head is allowed per group: group "
            "'5000000001' already has a Head in the registry.",
        )
    ]
    assert table_counts() == before


def test_head_whose_membership_ends_in_the_future_still_blocks_a_second_head(tmp_path, registry):
    group = GroupFactory(name="Existing household")
    RegistrantIdFactory(registrant=group, id_type=registry, value="5000000001")
    head = RegistrantIdFactory(
        registrant=IndividualFactory(), id_type=registry, value="5000000003"
    ).registrant
    ends = timezone.now() + datetime.timedelta(days=30)
    membership = MembershipFactory(group=group, individual=head, ended_date=ends)
    membership.kinds.set([MembershipKind.objects.get(name="Head")])
    rows = [
        {
            "type": "individual",
            KEY: "5000000002",
            "group_ref": "5000000001",
            "membership_kinds": "Head",
            "given_name": "Ann",
            "family_name": "Kamau",
        },
        {
            "type": "individual",
            KEY: "5000000003",
            "group_ref": "5000000001",
            "membership_kinds": "Head",
        },
    ]

    result = run(tmp_path, rows, mode="skip_invalid")

    assert result.errors == [
        RowError(
            2,
            "membership_kinds",
            "Only one Head is allowed per group: group "
            "'5000000001' already has a Head in the registry.",
        )
    ]
    membership.refresh_from_db()
    assert membership.ended_date == ends  # listed again, but its planned end is kept
    assert sorted(membership.kinds.values_list("name", flat=True)) == ["Head"]


def test_reopening_an_ended_head_is_refused_when_the_group_has_another(tmp_path, registry):
    run(tmp_path, household_rows())
    mwangi, grace, peter = by_key("1000000001"), by_key("1000000002"), by_key("1000000003")
    GroupMembership.objects.filter(group=mwangi, individual=grace).update(
        start_date=timezone.now() - datetime.timedelta(days=9),
        ended_date=timezone.now() - datetime.timedelta(days=1),
    )
    GroupMembership.objects.get(group=mwangi, individual=peter).kinds.set(
        [MembershipKind.objects.get(name="Head")]
    )
    header = [c for c in HEADER if c != "membership_kinds"]

    result = run(tmp_path, household_rows(), header)

    assert result.errors == [
        RowError(
            3,
            "group_ref",
            "Only one Head is allowed per group: group '1000000001' "
            "already has a Head in the registry.",
        )
    ]


def test_member_keeping_its_head_wins_over_a_newcomer(tmp_path, registry):
    run(tmp_path, household_rows())
    rows = household_rows()
    rows[2]["membership_kinds"] = "Head"
    rows[1], rows[2] = rows[2], rows[1]  # the newcomer (Peter) comes first in the file

    result = run(tmp_path, rows, mode="skip_invalid")

    assert result.errors == [
        RowError(
            3,
            "membership_kinds",
            "Only one Head is allowed per group: group "
            "'1000000001' already has a Head in the registry.",
        )
    ]
    assert kinds_of(by_key("1000000001"), by_key("1000000002")) == ["Head"]
    assert kinds_of(by_key("1000000001"), by_key("1000000003")) == []


# --------------------------------------------------------------------------------------------
# Back office: upload, validate, confirm
# --------------------------------------------------------------------------------------------


def test_viewer_cannot_create_an_import(viewer, registry):
    with pytest.raises(PermissionDenied):
        imports.registry_import_create(
            file_name="r.csv",
            content=csv_bytes(household_rows()),
            mode="all_or_nothing",
            actor=viewer,
        )
    assert RegistryImport.objects.count() == 0


def test_create_validates_without_writing(registrar, registry):
    rows = household_rows()
    rows[2]["gender"] = "F"

    ri = imports.registry_import_create(
        file_name="r.csv", content=csv_bytes(rows), mode="skip_invalid", actor=registrar
    )

    assert (ri.state, ri.rows_total, ri.rows_invalid, ri.mode, ri.created_by, ri.file_name) == (
        "validated",
        6,
        1,
        "skip_invalid",
        registrar,
        "r.csv",
    )
    assert ri.errors == [
        {
            "row": 4,
            "field": "gender",
            "message": "Unknown gender 'F' (use one of: Female, Male, Other).",
        }
    ]
    assert bytes(ri.content) == csv_bytes(rows)
    assert Registrant.objects.count() == 0


def test_create_with_an_unreadable_file_fails(registrar, registry):
    ri = imports.registry_import_create(
        file_name="r.xlsx", content=b"PK\x03\x04junk", mode="all_or_nothing", actor=registrar
    )

    assert (ri.state, ri.rows_total, ri.rows_invalid) == ("failed", 0, 0)
    assert [(e["row"], e["field"]) for e in ri.errors] == [(0, "file")]
    assert ri.errors[0]["message"].startswith("The file is not a readable XLSX workbook")


def test_create_refuses_an_unknown_mode(registrar, registry):
    with pytest.raises(ValidationError) as exc:
        imports.registry_import_create(
            file_name="r.csv", content=b"", mode="sometimes", actor=registrar
        )
    assert exc.value.message_dict == {
        "mode": ["Unknown mode 'sometimes': use all_or_nothing or skip_invalid."]
    }
    assert RegistryImport.objects.count() == 0


def test_confirm_small_import_writes_inline(registrar, registry):
    ri = imports.registry_import_create(
        file_name="r.csv",
        content=csv_bytes(household_rows()),
        mode="all_or_nothing",
        actor=registrar,
    )

    ri = imports.registry_import_confirm(registry_import=ri, actor=registrar)

    assert (ri.state, ri.created_count, ri.updated_count, ri.rows_invalid, ri.errors, ri.job) == (
        "done",
        6,
        0,
        0,
        [],
        None,
    )
    assert ri.finished_at is not None
    assert_households_imported()


def test_confirm_skip_invalid_writes_valid_rows(registrar, registry):
    rows = household_rows()
    rows[2]["gender"] = "F"
    ri = imports.registry_import_create(
        file_name="r.csv", content=csv_bytes(rows), mode="skip_invalid", actor=registrar
    )

    ri = imports.registry_import_confirm(registry_import=ri, actor=registrar)

    assert (ri.state, ri.created_count, ri.rows_invalid) == ("done", 5, 1)
    assert Registrant.objects.count() == 5


@pytest.mark.parametrize("state", ["draft", "queued", "running", "done", "failed"])
def test_confirm_refuses_an_import_that_is_not_validated(registrar, registry, state):
    ri = imports.registry_import_create(
        file_name="r.csv",
        content=csv_bytes(household_rows()),
        mode="all_or_nothing",
        actor=registrar,
    )
    RegistryImport.objects.filter(pk=ri.pk).update(state=state)
    ri.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        imports.registry_import_confirm(registry_import=ri, actor=registrar)

    assert list(exc.value.message_dict) == ["state"]
    ri.refresh_from_db()
    assert ri.state == state
    assert Registrant.objects.count() == 0


def test_confirm_refuses_all_or_nothing_with_invalid_rows(registrar, registry):
    rows = household_rows()
    rows[2]["gender"] = "F"
    ri = imports.registry_import_create(
        file_name="r.csv", content=csv_bytes(rows), mode="all_or_nothing", actor=registrar
    )

    with pytest.raises(ValidationError) as exc:
        imports.registry_import_confirm(registry_import=ri, actor=registrar)

    assert exc.value.message_dict == {
        "mode": [
            "1 row is invalid and the mode is all or nothing: fix the file and upload it "
            "again, or choose to skip invalid rows."
        ]
    }
    ri.refresh_from_db()
    assert ri.state == "validated"
    assert Registrant.objects.count() == 0


def test_confirm_fails_when_the_registry_changed_since_validation(registrar, registry):
    ri = imports.registry_import_create(
        file_name="r.csv",
        content=csv_bytes(household_rows()),
        mode="all_or_nothing",
        actor=registrar,
    )
    RegistrantIdFactory(
        registrant=GroupFactory(), id_type=registry, value="1000000002"
    )  # now a group's ID

    ri = imports.registry_import_confirm(registry_import=ri, actor=registrar)

    assert (ri.state, ri.rows_invalid, ri.created_count) == ("failed", 1, 0)
    assert ri.errors == [
        {
            "row": 3,
            "field": "type",
            "message": "National ID '1000000002' belongs to an existing "
            "group; a row cannot change the registrant's type.",
        }
    ]
    assert Registrant.objects.count() == 1


def test_viewer_cannot_confirm(registrar, viewer, registry):
    ri = imports.registry_import_create(
        file_name="r.csv",
        content=csv_bytes(household_rows()),
        mode="all_or_nothing",
        actor=registrar,
    )
    with pytest.raises(PermissionDenied):
        imports.registry_import_confirm(registry_import=ri, actor=viewer)
    ri.refresh_from_db()
    assert ri.state == "validated"


# --------------------------------------------------------------------------------------------
# Background job
# --------------------------------------------------------------------------------------------


def run_worker() -> None:
    """Run a real worker until the registry queue is empty (as ``g2p worker`` does: psycopg
    connector; the task's own Django connection is closed after each job)."""
    from procrastinate.contrib.django import app

    with app.replace_connector(app.connector.get_worker_connector()) as worker_app:
        worker_app.run_worker(
            queues=["registry"], wait=False, install_signal_handlers=False, listen_notify=False
        )


@pytest.mark.django_db(transaction=True)
def test_large_import_runs_as_an_idempotent_job(settings, registrar, monkeypatch):
    from procrastinate.contrib.django.models import ProcrastinateJob

    from g2p_registry_base.jobs import registry_import_run
    from pbms.models import JobProgress

    IdTypeFactory(name="National ID", id_validation="[0-9]{10}")
    RegistrantTagFactory(name="Urban")
    RegistrantTagFactory(name="Vulnerable")
    settings.G2P_MAX_ROWS_INLINE = 5
    # the worker thread's connection closes after each job instead of lingering
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    ri = imports.registry_import_create(
        file_name="big.csv",
        content=csv_bytes(household_rows()),
        mode="all_or_nothing",
        actor=registrar,
    )

    ri = imports.registry_import_confirm(registry_import=ri, actor=registrar)

    job = ri.job
    assert (
        ri.state,
        job.state,
        job.total,
        job.done,
        job.operation,
        job.target,
        job.created_by,
    ) == ("queued", "queued", 6, 0, "registry.import", f"registry.import:{ri.pk}", registrar)
    queued = ProcrastinateJob.objects.get(pk=job.procrastinate_job_id)
    assert (queued.task_name, queued.queue_name, queued.args, queued.status) == (
        "g2p_registry_base.registry_import_run",
        "registry",
        {"import_id": ri.pk},
        "todo",
    )
    assert Registrant.objects.count() == 0

    run_worker()

    ri.refresh_from_db()
    job.refresh_from_db()
    assert (ri.state, ri.created_count, ri.updated_count, ri.rows_invalid) == ("done", 6, 0, 0)
    assert (job.state, job.done, job.total, job.error_count) == ("done", 6, 6, 0)
    assert job.finished_at is not None
    assert ProcrastinateJob.objects.get(pk=job.procrastinate_job_id).status == "succeeded"
    assert_households_imported()
    counts = table_counts()

    # delivered twice: the second run sees the import done and changes nothing
    registry_import_run.defer(import_id=ri.pk)
    run_worker()
    assert table_counts() == counts

    # a retry after a crash that happened after the commit: matched by key, nothing created
    type(ri).objects.filter(pk=ri.pk).update(state="queued")
    JobProgress.objects.filter(pk=job.pk).update(state="queued", done=0)
    registry_import_run.defer(import_id=ri.pk)
    run_worker()
    ri.refresh_from_db()
    assert (ri.state, ri.created_count, ri.updated_count) == ("done", 0, 6)
    assert table_counts() == counts


# --------------------------------------------------------------------------------------------
# Audit, query count, reports, template
# --------------------------------------------------------------------------------------------


def test_imported_rows_are_audited_with_who_and_source(tmp_path, registry, registrar):
    result = run(tmp_path, household_rows(), actor=registrar, source="test upload")
    assert result.created == 6
    ids = set(Registrant.objects.values_list("pk", flat=True))
    events = apps.get_model("g2p_registry_base", "RegistrantEvent").objects.filter(
        pgh_label="insert"
    )

    assert set(events.values_list("pgh_obj_id", flat=True)) == ids
    assert {e.pgh_context.metadata["source"] for e in events} == {"test upload"}
    assert {e.pgh_context.metadata["user"] for e in events} == {registrar.pk}
    for model, n in (
        ("RegistrantIdEvent", 6),
        ("PhoneNumberEvent", 4),
        ("GroupMembershipEvent", 4),
    ):
        model_events = apps.get_model("g2p_registry_base", model).objects.filter(pgh_label="insert")
        assert model_events.count() == n
        assert {e.pgh_context.metadata["source"] for e in model_events} == {"test upload"}

    rows = household_rows()
    rows[0]["address"] = "Moved"
    run(tmp_path, rows, actor=registrar, source="second upload")
    update = apps.get_model("g2p_registry_base", "RegistrantEvent").objects.get(pgh_label="update")
    assert (update.pgh_obj_id, update.address, update.pgh_context.metadata["source"]) == (
        by_key("1000000001").pk,
        "Moved",
        "second upload",
    )


def generated_rows(households: int, offset: int = 0) -> list[dict[str, str]]:
    rows = []
    for h in range(households):
        group_key = f"{4_000_000_000 + offset + h * 10:010d}"
        rows.append(
            {
                "type": "group",
                KEY: group_key,
                "name": f"Household {h}",
                "group_kind": "Household",
                "tags": "Urban",
                "phones": f"07100{offset + h:05d}",
            }
        )
        for m in range(1, 4):
            rows.append(
                {
                    "type": "individual",
                    KEY: f"{int(group_key) + m:010d}",
                    "group_ref": group_key,
                    "membership_kinds": "Head" if m == 1 else "",
                    "given_name": f"Given{m}",
                    "family_name": f"Family{h}",
                    "gender": "Female",
                    "birthdate": "1990-01-01",
                    "phones": f"+2547200{offset + h:03d}{m:02d}"[:13],
                }
            )
    return rows


def test_query_count_does_not_grow_with_rows(tmp_path, registry):
    counts = []
    for households, offset in ((3, 0), (50, 500)):  # 12 and 200 rows
        rows = generated_rows(households, offset)
        path = write_csv(tmp_path, rows, name=f"{households}.csv")
        with CaptureQueriesContext(connection) as ctx:
            result = imports.registry_import_file(path=path)
        assert (result.created, result.errors) == (len(rows), [])
        counts.append(len(ctx.captured_queries))
        with CaptureQueriesContext(connection) as ctx:
            result = imports.registry_import_file(path=path)
        assert (result.updated, result.errors) == (len(rows), [])
        counts.append(len(ctx.captured_queries))

    assert counts[0] == counts[2]
    assert counts[1] == counts[3]
    assert counts[0] <= 30


def test_report_text_and_error_report(tmp_path, registry):
    rows = household_rows()
    rows[2]["gender"] = "F"
    result = run(tmp_path, rows)

    assert imports.report_text(result).splitlines()[:2] + imports.report_text(result).splitlines()[
        3:
    ] == [
        "Rows: 6, valid: 5, invalid: 1.",
        "Nothing written: the file has invalid rows and the mode is all or nothing.",
        "Errors (1 of 1):",
        "  row 4, gender: Unknown gender 'F' (use one of: Female, Male, Other).",
    ]
    report = tmp_path / "errors.csv"
    imports.write_error_report(result, report)
    assert list(csv.reader(report.open(encoding="utf-8"))) == [
        ["row", "field", "message"],
        ["4", "gender", "Unknown gender 'F' (use one of: Female, Male, Other)."],
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_template_imports_cleanly(tmp_path, national_id, xlsx_reader, fmt):
    content = imports.import_template(fmt)
    path = tmp_path / f"template.{fmt}"
    path.write_bytes(content)

    result = imports.registry_import_file(path=path)

    assert (result.rows_total, result.created, result.errors) == (6, 6, [])
    assert Registrant.objects.filter(is_group=True).count() == 2
    assert GroupMembership.kinds.through.objects.count() == 2
    assert GroupKind.objects.get(name="Household").pk in set(
        Registrant.objects.values_list("kind_id", flat=True)
    )


def test_template_refuses_an_unknown_format(national_id):
    with pytest.raises(ValidationError):
        imports.import_template("ods")


def test_a_database_refusal_rolls_everything_back_and_is_reported(tmp_path, registry, monkeypatch):
    monkeypatch.setattr(
        imports, "_check_unique_kinds", lambda *args: None
    )  # let a 2nd Head through
    rows = household_rows()
    rows[2]["membership_kinds"] = "Head"

    result = run(tmp_path, rows)

    assert (result.file_error, result.written, result.created, result.rows_invalid) == (
        True,
        False,
        0,
        0,
    )
    assert result.errors == [
        RowError(
            0,
            "file",
            "The registry refused the import, nothing was written: "
            "Only one Head is allowed per group",
        )
    ]
    assert table_counts() == {
        "registrants": 0,
        "ids": 0,
        "phones": 0,
        "memberships": 0,
        "kinds": 0,
        "tags": 0,
    }


def test_skip_invalid_with_only_invalid_rows_writes_nothing(tmp_path, registry):
    result = run(tmp_path, [{**GROUP, "name": ""}], mode="skip_invalid")

    assert (result.rows_total, result.rows_invalid, result.written, result.created) == (
        1,
        1,
        False,
        0,
    )
    assert Registrant.objects.count() == 0


@pytest.mark.parametrize("final", [False, True])
def test_job_failure_is_recorded_and_retried(registrar, registry, monkeypatch, final):
    from pbms.models import JobProgress
    from pbms.services import job_progress_create

    ri = imports.registry_import_create(
        file_name="r.csv",
        content=csv_bytes(household_rows()),
        mode="all_or_nothing",
        actor=registrar,
    )
    job = job_progress_create(operation="registry.import", total=6, created_by_id=registrar.pk)
    RegistryImport.objects.filter(pk=ri.pk).update(state="queued", job=job)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("connection lost")

    monkeypatch.setattr(imports, "_execute", crash)
    with pytest.raises(RuntimeError):
        imports.registry_import_execute(import_id=ri.pk, final_attempt=final)

    ri.refresh_from_db()
    job = JobProgress.objects.get(pk=job.pk)
    if final:
        assert (ri.state, job.state, job.message) == (
            "failed",
            "failed",
            "RuntimeError: connection lost",
        )
        assert ri.errors == [
            {
                "row": 0,
                "field": "file",
                "message": "The import failed: RuntimeError: connection lost",
            }
        ]
    else:
        assert (ri.state, job.state) == ("running", "running")
        assert job.message == "Attempt failed, will retry: RuntimeError: connection lost"
    assert Registrant.objects.count() == 0


def test_job_for_an_unconfirmed_or_finished_import_does_nothing(registrar, registry):
    ri = imports.registry_import_create(
        file_name="r.csv",
        content=csv_bytes(household_rows()),
        mode="all_or_nothing",
        actor=registrar,
    )
    assert imports.registry_import_execute(import_id=ri.pk) is None  # validated, not confirmed
    RegistryImport.objects.filter(pk=ri.pk).update(state="done")

    assert imports.registry_import_execute(import_id=ri.pk) is None
    assert imports.registry_import_execute(import_id=ri.pk + 1000) is None
    assert Registrant.objects.count() == 0


def test_a_row_reports_registry_checks_along_with_cell_errors(tmp_path, registry):
    bad = {**MEMBER, KEY: "99", "family_name": "", "group_ref": "9999999999"}

    result = run(tmp_path, [GROUP, bad])

    assert result.errors == [
        RowError(3, KEY, "The provided National ID ID '99' is invalid."),
        RowError(
            3,
            "group_ref",
            "No group with National ID '9999999999' in this file or in the registry.",
        ),
        RowError(3, "family_name", "The family name is required."),
    ]
    assert result.rows_invalid == 1
