"""CSV / XLSX exports of the registrant lists: exact contents of a filtered list, escaping, and a
constant number of queries."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from g2p_registry_base import exports, factories
from g2p_registry_base.models import (
    GroupKind,
    GroupMembership,
    IdType,
    PhoneNumber,
    Registrant,
    RegistrantId,
    RegistrantTag,
)

pytestmark = pytest.mark.django_db

INDIVIDUAL_HEADER = [
    "id",
    "name",
    "given_name",
    "family_name",
    "addl_name",
    "gender",
    "birthdate",
    "registration_date",
    "email",
    "address",
    "ids",
    "phones",
    "tags",
    "disabled",
]
GROUP_HEADER = [
    "id",
    "name",
    "kind",
    "registration_date",
    "email",
    "address",
    "ids",
    "phones",
    "tags",
    "member_count",
    "disabled",
]


def url(name: str, *args: Any, **kwargs: Any) -> str:
    return reverse(f"admin:g2p_registry_base_{name}", args=args or None, kwargs=kwargs or None)


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def read_xlsx(response: Any) -> list[list[Any]]:
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return [
        ["" if v is None else v for v in row] for row in workbook.active.iter_rows(values_only=True)
    ]


@pytest.fixture
def registry():
    national = IdType.objects.create(name="National ID")
    passport = IdType.objects.create(name="Passport")
    farmer = RegistrantTag.objects.create(name="Farmer")
    widow = RegistrantTag.objects.create(name="Widow")
    amina = factories.IndividualFactory(
        given_name="Amina",
        family_name="Otieno",
        addl_name="Akinyi",
        birthdate=datetime.date(1980, 2, 3),
        registration_date=datetime.date(2024, 1, 10),
        email="amina@example.org",
        address="Plot 4, Kisumu",
    )
    RegistrantId.objects.create(registrant=amina, id_type=passport, value="P123")
    RegistrantId.objects.create(registrant=amina, id_type=national, value="12345678")
    PhoneNumber.objects.create(registrant=amina, phone_no="0712345678")
    PhoneNumber.objects.create(registrant=amina, phone_no="+254733000111")
    off = PhoneNumber.objects.create(registrant=amina, phone_no="+254722000222")
    PhoneNumber.objects.filter(pk=off.pk).update(disabled=timezone.now())
    amina.tags.add(widow, farmer)
    brian = factories.IndividualFactory(
        given_name="=HYPERLINK(1)",
        family_name="Kamau",
        gender_id="Male",
        birthdate=datetime.date(1975, 7, 8),
        registration_date=datetime.date(2023, 5, 6),
    )
    carol = factories.IndividualFactory(
        given_name="Carol",
        family_name="Wanjiru",
        birthdate=datetime.date(2001, 1, 1),
        registration_date=datetime.date(2024, 2, 2),
    )
    Registrant.objects.filter(pk=carol.pk).update(disabled=timezone.now(), disabled_reason="Moved")
    household = factories.GroupFactory(
        name="Otieno household",
        kind=GroupKind.objects.get(name="Household"),
        registration_date=datetime.date(2024, 1, 9),
        address="Kisumu",
    )
    RegistrantId.objects.create(registrant=household, id_type=national, value="H0001")
    GroupMembership.objects.create(group=household, individual=amina)
    GroupMembership.objects.create(group=household, individual=brian)
    GroupMembership.objects.create(group=household, individual=carol)  # disabled: not counted
    household.tags.add(farmer)
    empty = factories.GroupFactory(name="Empty family", registration_date=datetime.date(2024, 3, 3))
    return {"amina": amina, "brian": brian, "carol": carol, "household": household, "empty": empty}


def _amina_row(r: dict[str, Any]) -> list[str]:
    a = r["amina"]
    return [
        str(a.pk),
        "OTIENO, AMINA AKINYI",
        "Amina",
        "Otieno",
        "Akinyi",
        "Female",
        "1980-02-03",
        "2024-01-10",
        "amina@example.org",
        "Plot 4, Kisumu",
        "National ID: 12345678; Passport: P123",
        "+254712345678; +254733000111",
        "Farmer; Widow",
        "no",
    ]


def test_csv_export_of_the_filtered_list(client, admin_user, registry):
    client.force_login(admin_user)
    rows = read_csv(client.get(url("individual_export", file_format="csv"), {"gender": "Female"}))
    carol = registry["carol"]
    assert rows == [
        INDIVIDUAL_HEADER,
        [
            str(carol.pk),
            "WANJIRU, CAROL",
            "Carol",
            "Wanjiru",
            "",
            "Female",
            "2001-01-01",
            "2024-02-02",
            "",
            "",
            "",
            "",
            "",
            "yes",
        ],
        _amina_row(registry),
    ]


def test_csv_export_applies_search_and_neutralises_formulas(client, admin_user, registry):
    client.force_login(admin_user)
    rows = read_csv(client.get(url("individual_export", file_format="csv"), {"q": "kamau"}))
    brian = registry["brian"]
    assert rows == [
        INDIVIDUAL_HEADER,
        [
            str(brian.pk),
            "KAMAU, =HYPERLINK(1)",
            "'=HYPERLINK(1)",
            "Kamau",
            "",
            "Male",
            "1975-07-08",
            "2023-05-06",
            "",
            "",
            "",
            "",
            "",
            "no",
        ],
    ]


def test_xlsx_export_of_the_filtered_list(client, admin_user, registry):
    client.force_login(admin_user)
    response = client.get(
        url("individual_export", file_format="xlsx"), {"disabled": "no", "q": "otieno"}
    )
    assert response["Content-Disposition"].startswith('attachment; filename="individuals-')
    rows = read_xlsx(response)
    a = registry["amina"]
    assert rows == [
        INDIVIDUAL_HEADER,
        [
            a.pk,
            "OTIENO, AMINA AKINYI",
            "Amina",
            "Otieno",
            "Akinyi",
            "Female",
            datetime.datetime(1980, 2, 3),
            datetime.datetime(2024, 1, 10),
            "amina@example.org",
            "Plot 4, Kisumu",
            "National ID: 12345678; Passport: P123",
            "+254712345678; +254733000111",
            "Farmer; Widow",
            "no",
        ],
    ]


def test_xlsx_keeps_formula_like_text_as_text(client, admin_user, registry):
    client.force_login(admin_user)
    rows = read_xlsx(client.get(url("individual_export", file_format="xlsx"), {"gender": "Male"}))
    assert rows[1][1:3] == ["KAMAU, =HYPERLINK(1)", "=HYPERLINK(1)"]


def test_group_exports(client, admin_user, registry):
    client.force_login(admin_user)
    h, e = registry["household"], registry["empty"]
    expected = [
        GROUP_HEADER,
        [str(e.pk), "Empty family", "", "2024-03-03", "", "", "", "", "", "0", "no"],
        [
            str(h.pk),
            "Otieno household",
            "Household",
            "2024-01-09",
            "",
            "Kisumu",
            "National ID: H0001",
            "",
            "Farmer",
            "2",
            "no",
        ],
    ]
    assert read_csv(client.get(url("group_export", file_format="csv"))) == expected
    kind = GroupKind.objects.get(name="Household")
    rows = read_xlsx(
        client.get(url("group_export", file_format="xlsx"), {"kind__id__exact": kind.pk})
    )
    assert rows == [
        GROUP_HEADER,
        [
            h.pk,
            "Otieno household",
            "Household",
            datetime.datetime(2024, 1, 9),
            "",
            "Kisumu",
            "National ID: H0001",
            "",
            "Farmer",
            2,
            "no",
        ],
    ]


def test_export_needs_view_permission_and_a_known_format(
    client, admin_user, django_user_model, registry
):
    outsider = django_user_model.objects.create_user(
        "outsider", "o@example.org", "pw-123456789", is_staff=True
    )
    client.force_login(outsider)
    assert client.get(url("individual_export", file_format="csv")).status_code == 403
    client.force_login(admin_user)
    assert client.get(url("individual_export", file_format="pdf")).status_code == 404


def test_viewer_can_export(client, viewer, registry):
    client.force_login(viewer)
    rows = read_csv(client.get(url("individual_export", file_format="csv"), {"q": "12345678"}))
    assert rows == [INDIVIDUAL_HEADER, _amina_row(registry)]


def _export_queries(client: Any, name: str, fmt: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url(name, file_format=fmt))
        body = b"".join(response.streaming_content)
    assert response.status_code == 200
    rows = (
        len(list(csv.reader(io.StringIO(body.decode("utf-8")))))
        if fmt == "csv"
        else sum(1 for _row in load_workbook(io.BytesIO(body), read_only=True).active.iter_rows())
    )
    return len(ctx.captured_queries), rows


def test_export_query_count_is_the_same_for_5_and_50(client, admin_user):
    national = IdType.objects.create(name="National ID")
    tag = RegistrantTag.objects.create(name="Farmer")
    client.force_login(admin_user)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            p = factories.IndividualFactory(given_name=f"Given{i}", family_name="Family")
            RegistrantId.objects.create(registrant=p, id_type=national, value=f"{i:08d}")
            PhoneNumber.objects.create(registrant=p, phone_no=f"+2547{i:08d}")
            p.tags.add(tag)
            g = factories.GroupFactory(name=f"Household {i}")
            GroupMembership.objects.create(group=g, individual=p)
            g.tags.add(tag)

    add(5, 0)
    small = [
        _export_queries(client, name, fmt)
        for name in ("individual_export", "group_export")
        for fmt in ("csv", "xlsx")
    ]
    add(45, 5)
    large = [
        _export_queries(client, name, fmt)
        for name in ("individual_export", "group_export")
        for fmt in ("csv", "xlsx")
    ]
    assert [q for q, _rows in small] == [q for q, _rows in large]
    assert [rows for _q, rows in small] == [6, 6, 6, 6]
    assert [rows for _q, rows in large] == [51, 51, 51, 51]
    print("export queries (individuals csv/xlsx, groups csv/xlsx):", [q for q, _rows in small])


def test_csv_safe():
    assert [
        exports.csv_safe(v) for v in ["=1+1", "@SUM(A1)", "+254712", "-3", "+x", "-", "plain", 5]
    ] == [
        "'=1+1",
        "'@SUM(A1)",
        "+254712",
        "-3",
        "'+x",
        "'-",
        "plain",
        5,
    ]
