"""``/api/v1/registry``: exact bodies, searches, writes through the registry services."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from addons.g2p_rest.tests.helpers import post, stamp, stamps
from g2p_registry_base.factories import (
    GroupFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
    RegistrantIdFactory,
)
from g2p_registry_base.models import (
    GroupMembership,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/registry"


def _counts() -> tuple[int, int, int, int]:
    return (
        Registrant.objects.count(),
        RegistrantId.objects.count(),
        PhoneNumber.objects.count(),
        GroupMembership.objects.count(),
    )


def _ana(national_id):  # type: ignore[no-untyped-def]
    ana = IndividualFactory(
        given_name="Ana",
        family_name="Diaz",
        addl_name="Maria",
        birthdate=datetime.date(1990, 5, 17),
        birth_place="Kisumu",
        email="ana@example.org",
        address="1 Lake Road",
    )
    rid = RegistrantIdFactory(registrant=ana, id_type=national_id, value="12345678")
    phone = PhoneNumberFactory(registrant=ana, phone_no="0712345678")
    return ana, rid, phone


def _ana_body(ana, rid, phone):  # type: ignore[no-untyped-def]
    return {
        "id": ana.pk,
        "name": "DIAZ, ANA MARIA",
        "ids": [
            {
                "id": rid.pk,
                "id_type": "National ID",
                "value": "12345678",
                "expiry_date": None,
                "status": None,
                "description": None,
            }
        ],
        "is_group": False,
        "registration_date": "2024-01-10",
        "phone_numbers": [
            {
                "id": phone.pk,
                "phone_no": "0712345678",
                "phone_sanitized": "+254712345678",
                "date_collected": stamp(phone.date_collected),
            }
        ],
        "bank_ids": [],
        "email": "ana@example.org",
        "address": "1 Lake Road",
        "active": True,
        **stamps(ana),
        "given_name": "Ana",
        "addl_name": "Maria",
        "family_name": "Diaz",
        "gender": "Female",
        "birthdate": "1990-05-17",
        "age": str(ana.age),
        "birth_place": "Kisumu",
    }


def test_individual_get_returns_every_field(client, as_viewer, national_id):
    ana, rid, phone = _ana(national_id)
    response = client.get(f"{URL}/individual/{ana.pk}", **as_viewer)
    assert response.status_code == 200
    assert response.json() == _ana_body(ana, rid, phone)


def test_individual_get_unknown_or_group_is_404(client, as_viewer):
    group = GroupFactory()
    for pk in (group.pk, group.pk + 1000):
        response = client.get(f"{URL}/individual/{pk}", **as_viewer)
        assert response.status_code == 404
        assert response.json() == {"detail": "Record is not present in the database."}


def test_group_get_lists_members_with_kinds(client, as_viewer, national_id):
    ana, rid, phone = _ana(national_id)
    group = GroupFactory(name="Diaz household")
    membership = MembershipFactory(group=group, individual=ana)
    membership.kinds.set([MembershipKind.objects.get(name="Head")])
    response = client.get(f"{URL}/group/{group.pk}", **as_viewer)
    assert response.status_code == 200
    assert response.json() == {
        "id": group.pk,
        "name": "Diaz household",
        "ids": [],
        "is_group": True,
        "registration_date": "2024-01-10",
        "phone_numbers": [],
        "bank_ids": [],
        "email": None,
        "address": None,
        "active": True,
        **stamps(group),
        "kind": None,
        "is_partial_group": False,
        "members": [
            {
                "id": membership.pk,
                "individual": _ana_body(ana, rid, phone),
                "kind": [{"name": "Head"}],
                "start_date": stamp(membership.start_date),
                "ended_date": None,
                "status": "active",
            }
        ],
    }


def test_individual_search_filters_and_pages(client, as_viewer, national_id):
    ana, _rid, _phone = _ana(national_id)
    others = [IndividualFactory(given_name="Bo", family_name=f"Lee{i}") for i in range(3)]
    GroupFactory(name="Ana's group")

    def ids(query: str) -> tuple[int, list[int]]:
        body = client.get(f"{URL}/individual?{query}", **as_viewer).json()
        return body["count"], [item["id"] for item in body["items"]]

    assert ids("name=ana") == (1, [ana.pk])
    assert ids("id_type=national%20id&id_value=12345678") == (1, [ana.pk])
    assert ids("id_type=National%20ID&id_value=99999999") == (0, [])
    assert ids("phone=%2B254712345678") == (1, [ana.pk])
    assert ids("phone=0712%20345%20678") == (1, [ana.pk])
    assert ids(f"_id={others[0].pk}") == (1, [others[0].pk])
    everyone = [ana.pk] + [o.pk for o in others]
    assert ids("limit=2") == (4, everyone[:2])
    assert ids("limit=2&offset=2") == (4, everyone[2:])
    assert ids("offset=10") == (4, [])
    body = client.get(f"{URL}/individual?limit=1&offset=1", **as_viewer).json()
    assert (body["count"], body["limit"], body["offset"]) == (4, 1, 1)


def test_search_bad_parameters_are_422_naming_them(client, as_viewer):
    response = client.get(f"{URL}/individual?phone=hello", **as_viewer)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["query", "phone"],
                "msg": "'hello' is not a phone number.",
                "type": "value_error",
            }
        ]
    }
    response = client.get(f"{URL}/individual?limit=0", **as_viewer)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", "limit"]]


def test_group_search_with_and_without_members(client, as_viewer):
    group = GroupFactory(name="Otieno household")
    MembershipFactory(group=group)
    GroupFactory(name="Other")
    short = client.get(f"{URL}/group?name=otieno", **as_viewer).json()
    assert short["count"] == 1
    assert short["items"][0]["id"] == group.pk
    assert short["items"][0]["members"] is None
    full = client.get(f"{URL}/group?name=otieno&include_members_full=true", **as_viewer).json()
    assert len(full["items"][0]["members"]) == 1


def test_registrant_search_by_is_group(client, as_viewer):
    person = IndividualFactory()
    group = GroupFactory()
    both = client.get(f"{URL}/registrant", **as_viewer).json()
    assert [i["id"] for i in both["items"]] == [person.pk, group.pk]
    groups = client.get(f"{URL}/registrant?is_group=true", **as_viewer).json()
    assert (groups["count"], [i["id"] for i in groups["items"]]) == (1, [group.pk])
    people = client.get(f"{URL}/registrant?is_group=false", **as_viewer).json()
    assert [i["id"] for i in people["items"]] == [person.pk]
    assert set(people["items"][0]) == {
        "id", "name", "ids", "is_group", "registration_date", "phone_numbers", "bank_ids",
        "email", "address", "active", "create_date", "write_date",
    }  # fmt: skip


def test_group_search_query_count_does_not_grow_with_page_size(client, as_viewer, national_id):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.get(f"{URL}/group?include_members_full=true", **as_viewer)
        return len(ctx.captured_queries)

    serial = iter(range(10_000_000, 10_000_100))

    def household() -> None:
        group = GroupFactory()
        member = MembershipFactory(group=group)
        RegistrantIdFactory(
            registrant=member.individual, id_type=national_id, value=str(next(serial))
        )
        PhoneNumberFactory(registrant=member.individual)

    household()
    one = queries()
    for _ in range(5):
        household()
    assert queries() == one


INDIVIDUAL = {
    "name": "ignored",
    "given_name": "Ana",
    "family_name": "Diaz",
    "gender": "female",
    "birthdate": "1990-05-17",
    "registration_date": "2024-01-10",
    "email": "ana@example.org",
    "ids": [{"id_type": "National ID", "value": "12345678", "expiry_date": "2030-01-01"}],
    "phone_numbers": [{"phone_no": "0712345678", "date_collected": "2024-01-10"}],
}


def test_individual_create_stores_and_returns_everything(client, as_registrar, national_id):
    response = post(client, f"{URL}/individual", INDIVIDUAL, as_registrar)
    assert response.status_code == 200
    ana = Registrant.objects.get()
    rid = ana.reg_ids.get()
    phone = ana.phone_numbers.get()
    assert response.json() == {
        "id": ana.pk,
        "name": "DIAZ, ANA",
        "ids": [
            {
                "id": rid.pk,
                "id_type": "National ID",
                "value": "12345678",
                "expiry_date": "2030-01-01",
                "status": None,
                "description": None,
            }
        ],
        "is_group": False,
        "registration_date": "2024-01-10",
        "phone_numbers": [
            {
                "id": phone.pk,
                "phone_no": "0712345678",
                "phone_sanitized": "+254712345678",
                "date_collected": "2024-01-10",
            }
        ],
        "bank_ids": [],
        "email": "ana@example.org",
        "address": None,
        "active": True,
        **stamps(ana),
        "given_name": "Ana",
        "addl_name": None,
        "family_name": "Diaz",
        "gender": "Female",
        "birthdate": "1990-05-17",
        "age": str(ana.age),
        "birth_place": None,
    }


@pytest.mark.parametrize(
    ("change", "loc", "msg"),
    [
        (
            {"ids": [{"id_type": "Passport", "value": "1"}]},
            ["body", "ids", 0, "id_type"],
            "ID type - Passport is not present in the database.",
        ),
        (
            {"ids": [{"id_type": "National ID", "value": "12"}]},
            ["body", "ids", 0, "value"],
            "The provided National ID ID '12' is invalid.",
        ),
        (
            {"phone_numbers": [{"phone_no": "12"}]},
            ["body", "phone_numbers", 0, "phone_no"],
            "'12' is not a valid phone number.",
        ),
        ({"gender": "robot"}, ["body", "gender"], "Invalid gender: robot."),
        ({"email": "not-an-email"}, ["body", "email"], "Enter a valid email address."),
        (
            {"registration_date": "2999-01-01"},
            ["body", "registration_date"],
            "Registration date must be less than the current date.",
        ),
    ],
)
def test_individual_create_bad_input_names_field_and_writes_nothing(
    client, as_registrar, national_id, change, loc, msg
):
    before = _counts()
    response = post(client, f"{URL}/individual", INDIVIDUAL | change, as_registrar)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}
    assert _counts() == before


def test_individual_create_missing_given_name_is_422(client, as_registrar):
    body = {k: v for k, v in INDIVIDUAL.items() if k != "given_name"}
    response = post(client, f"{URL}/individual", body, as_registrar)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "payload", "given_name"]]
    assert Registrant.objects.count() == 0


def test_malformed_json_is_400_with_detail(client, as_registrar):
    response = client.post(
        f"{URL}/individual", "{", content_type="application/json", **as_registrar
    )
    assert response.status_code in (400, 422)
    assert "detail" in response.json()
    assert Registrant.objects.count() == 0


GROUP = {
    "name": "Diaz household",
    "kind": "Household",
    "is_partial_group": True,
    "phone_numbers": [{"phone_no": "+254700000001"}],
    "members": [
        {"given_name": "Ana", "family_name": "Diaz", "kind": [{"name": "Head"}]},
        {"given_name": "Luis", "family_name": "Diaz", "gender": "Male"},
    ],
}


def test_group_create_makes_members_and_memberships(client, as_registrar):
    response = post(client, f"{URL}/group", GROUP, as_registrar)
    assert response.status_code == 200
    body = response.json()
    group = Registrant.objects.get(is_group=True)
    assert body["id"] == group.pk
    assert (body["name"], body["kind"], body["is_partial_group"]) == (
        "Diaz household",
        "Household",
        True,
    )
    assert [p["phone_sanitized"] for p in body["phone_numbers"]] == ["+254700000001"]
    assert [(m["individual"]["name"], m["kind"]) for m in body["members"]] == [
        ("DIAZ, ANA", [{"name": "Head"}]),
        ("DIAZ, LUIS", []),
    ]
    assert body["members"][1]["individual"]["gender"] == "Male"
    assert GroupMembership.objects.filter(group=group).count() == 2


@pytest.mark.parametrize(
    ("change", "loc", "msg"),
    [
        ({"kind": "Tribe"}, ["body", "kind"], "Group type Not Found"),
        (
            {"members": [{"given_name": "A", "family_name": "B", "kind": [{"name": "Boss"}]}]},
            ["body", "members", 0, "kind", 0, "name"],
            "Member's kind not found.",
        ),
        (
            {
                "members": [
                    {"given_name": "A", "family_name": "B", "kind": [{"name": "Head"}]},
                    {"given_name": "C", "family_name": "D", "kind": [{"name": "Head"}]},
                ]
            },
            ["body", "members", 1, "kind"],
            "Only one Head is allowed per group",
        ),
        (
            {
                "members": [
                    {"given_name": "A", "family_name": "B"},
                    {"given_name": "C", "family_name": "D", "phone_numbers": [{"phone_no": "x"}]},
                ]
            },
            ["body", "members", 1, "phone_numbers", 0, "phone_no"],
            "'x' is not a phone number.",
        ),
    ],
)
def test_group_create_bad_input_writes_nothing(client, as_registrar, change, loc, msg):
    before = _counts()
    response = post(client, f"{URL}/group", GROUP | change, as_registrar)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}
    assert _counts() == before


def test_individual_update_changes_sent_fields_upserts_ids_adds_phones(
    client, as_registrar, national_id
):
    ana, rid, phone = _ana(national_id)
    change = {
        "given_name": "Anna",
        "birth_place": None,
        "ids": [
            {"id_type": "National ID", "value": "87654321", "status": "valid"},
        ],
        "phone_numbers": [{"phone_no": "+254712345678"}, {"phone_no": "0722000111"}],
    }
    response = post(client, f"{URL}/individual/{ana.pk}", change, as_registrar, method="put")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["given_name"], body["family_name"]) == (
        "DIAZ, ANNA MARIA",
        "Anna",
        "Diaz",
    )
    assert body["birth_place"] is None
    assert body["email"] == "ana@example.org"
    assert body["ids"] == [
        {
            "id": rid.pk,
            "id_type": "National ID",
            "value": "87654321",
            "expiry_date": None,
            "status": "valid",
            "description": None,
        }
    ]
    assert [p["phone_sanitized"] for p in body["phone_numbers"]] == [
        "+254712345678",
        "+254722000111",
    ]


def test_individual_update_bad_input_changes_nothing(client, as_registrar, national_id):
    ana, _rid, _phone = _ana(national_id)
    change = {"given_name": "Anna", "phone_numbers": [{"phone_no": "nope"}]}
    response = post(client, f"{URL}/individual/{ana.pk}", change, as_registrar, method="put")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "phone_numbers", 0, "phone_no"]
    ana.refresh_from_db()
    assert ana.given_name == "Ana"


def test_group_update_adds_members_and_renames(client, as_registrar):
    group = GroupFactory(name="Old")
    existing = MembershipFactory(group=group)
    change = {"name": "New", "members": [{"given_name": "Zed", "family_name": "Ali"}]}
    response = post(client, f"{URL}/group/{group.pk}", change, as_registrar, method="put")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "New"
    assert [m["id"] for m in body["members"]][0] == existing.pk
    assert [m["individual"]["name"] for m in body["members"]][1] == "ALI, ZED"


def test_update_unknown_is_404(client, as_registrar):
    response = post(client, f"{URL}/individual/999999", {"given_name": "X"}, as_registrar, "put")
    assert response.status_code == 404
    assert response.json() == {"detail": "Record is not present in the database."}


def test_viewer_reads_but_every_write_is_403_and_changes_nothing(client, as_viewer, national_id):
    ana, _rid, _phone = _ana(national_id)
    group = GroupFactory(name="Kept")
    assert client.get(f"{URL}/individual/{ana.pk}", **as_viewer).status_code == 200
    before = _counts()
    calls = [
        post(client, f"{URL}/individual", INDIVIDUAL, as_viewer),
        post(client, f"{URL}/group", GROUP, as_viewer),
        post(client, f"{URL}/individual/{ana.pk}", {"given_name": "X"}, as_viewer, "put"),
        post(client, f"{URL}/group/{group.pk}", {"name": "Changed"}, as_viewer, "put"),
    ]
    for response in calls:
        assert response.status_code == 403
        assert response.json()["detail"].startswith("You are not allowed to do this")
    assert _counts() == before
    ana.refresh_from_db()
    group.refresh_from_db()
    assert (ana.given_name, group.name) == ("Ana", "Kept")
