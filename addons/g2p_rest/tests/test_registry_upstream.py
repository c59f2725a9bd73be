"""Upstream's ID-keyed endpoints (``get_individual_ids``, ``update_individual``), bank
accounts on registrants, and existing individuals added to groups."""

from __future__ import annotations

import datetime

import pytest

from addons.g2p_rest.tests.helpers import post
from g2p_registry_base.factories import GroupFactory, IndividualFactory, RegistrantIdFactory
from g2p_registry_base.models import (
    Bank,
    BankAccount,
    GroupMembership,
    IdType,
    Registrant,
    RegistrantId,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/registry"


@pytest.fixture
def passport(db):  # type: ignore[no-untyped-def]
    return IdType.objects.create(name="Passport")


@pytest.fixture
def bank(db):  # type: ignore[no-untyped-def]
    return Bank.objects.create(name="Equity Bank", bic="EQBLKENA")


def _person(national_id, value, **fields):  # type: ignore[no-untyped-def]
    person = IndividualFactory(**fields)
    RegistrantIdFactory(registrant=person, id_type=national_id, value=value)
    return person


def test_get_individual_ids_filters_and_pages(client, as_viewer, national_id, passport):
    _person(national_id, "30000003")
    _person(national_id, "10000001")
    with_passport = _person(national_id, "20000002")
    RegistrantIdFactory(registrant=with_passport, id_type=passport, value="P1")
    gone = _person(national_id, "40000004")
    Registrant.objects.filter(pk=gone.pk).update(
        disabled=datetime.datetime.now(datetime.UTC), disabled_reason="moved"
    )
    bad = _person(national_id, "50000005")
    RegistrantId.objects.filter(registrant=bad).update(status="invalid")
    old = _person(national_id, "60000006")
    RegistrantId.objects.filter(registrant=old).update(expiry_date=datetime.date(2000, 1, 1))
    group = GroupFactory()
    RegistrantIdFactory(registrant=group, id_type=national_id, value="70000007")

    response = client.get(f"{URL}/get_individual_ids?include_id_type=national id", **as_viewer)
    assert response.status_code == 200
    assert response.json() == ["10000001", "20000002", "30000003"]
    assert response["X-Total-Count"] == "3"
    response = client.get(
        f"{URL}/get_individual_ids?include_id_type=National ID&exclude_id_type=Passport",
        **as_viewer,
    )
    assert response.json() == ["10000001", "30000003"]
    response = client.get(
        f"{URL}/get_individual_ids?include_id_type=National ID&limit=1&offset=1", **as_viewer
    )
    assert (response.json(), response["X-Total-Count"]) == (["20000002"], "3")


def test_get_individual_ids_bad_parameters_name_them(client, as_viewer, national_id):
    response = client.get(f"{URL}/get_individual_ids?include_id_type=Tax", **as_viewer)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["query", "include_id_type"],
                "msg": "ID type - Tax is not present in the database.",
                "type": "value_error",
            }
        ]
    }
    response = client.get(f"{URL}/get_individual_ids", **as_viewer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "include_id_type"]


def test_update_individual_by_id_value(client, as_registrar, national_id, passport):
    ana = _person(national_id, "12345678", given_name="Ana", family_name="Diaz")
    bo = _person(national_id, "87654321", given_name="Bo", family_name="Lee")
    body = [
        {"updateId": "12345678", "given_name": "Anna", "birth_place": "Kisumu"},
        {"updateId": "87654321", "ids": [{"id_type": "Passport", "value": "P-9"}]},
    ]
    response = post(
        client, f"{URL}/update_individual?id_type=National ID", body, as_registrar, "put"
    )
    assert response.status_code == 200
    out = response.json()
    assert [(i["id"], i["name"], i["birth_place"]) for i in out] == [
        (ana.pk, "DIAZ, ANNA", "Kisumu"),
        (bo.pk, "LEE, BO", None),
    ]
    assert sorted((i["id_type"], i["value"]) for i in out[1]["ids"]) == [
        ("National ID", "87654321"),
        ("Passport", "P-9"),
    ]
    ana.refresh_from_db()
    assert (ana.given_name, ana.family_name, ana.birth_place) == ("Anna", "Diaz", "Kisumu")


def test_update_individual_unknown_id_writes_nothing(client, as_registrar, national_id):
    ana = _person(national_id, "12345678", given_name="Ana", family_name="Diaz")
    body = [
        {"updateId": "12345678", "given_name": "Anna"},
        {"updateId": "99999999", "given_name": "Nobody"},
    ]
    response = post(
        client, f"{URL}/update_individual?id_type=National ID", body, as_registrar, "put"
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["body", 1, "updateId"],
                "msg": "No individual has the National ID 99999999.",
                "type": "value_error",
            }
        ]
    }
    ana.refresh_from_db()
    assert ana.given_name == "Ana"


def test_viewer_cannot_update_individuals(client, as_viewer, national_id):
    ana = _person(national_id, "12345678", given_name="Ana", family_name="Diaz")
    body = [{"updateId": "12345678", "given_name": "Anna"}]
    response = post(client, f"{URL}/update_individual?id_type=National ID", body, as_viewer, "put")
    assert response.status_code == 403
    ana.refresh_from_db()
    assert ana.given_name == "Ana"


def test_bank_accounts_on_create_and_update(client, as_registrar, bank):
    body = {
        "given_name": "Ana",
        "family_name": "Diaz",
        "bank_ids": [{"bank_name": "equity bank", "acc_number": "0101 2345 6789"}],
    }
    response = post(client, f"{URL}/individual", body, as_registrar)
    assert response.status_code == 200
    ana = Registrant.objects.get()
    account = BankAccount.objects.get(registrant=ana)
    assert response.json()["bank_ids"] == [
        {
            "id": account.pk,
            "bank_name": "Equity Bank",
            "acc_number": "010123456789",
            "acc_holder_name": None,
        }
    ]
    again = {
        "bank_ids": [
            {"bank_name": "EQBLKENA", "acc_number": "010123456789"},
            {"bank_name": "Equity Bank", "acc_number": "555-777", "acc_holder_name": "A. Diaz"},
        ]
    }
    response = post(client, f"{URL}/individual/{ana.pk}", again, as_registrar, "put")
    assert response.status_code == 200
    assert [(a["acc_number"], a["acc_holder_name"]) for a in response.json()["bank_ids"]] == [
        ("010123456789", None),
        ("555-777", "A. Diaz"),
    ]


@pytest.mark.parametrize(
    ("account", "loc", "msg"),
    [
        (
            {"bank_name": "Nowhere Bank", "acc_number": "12345"},
            ["body", "bank_ids", 0, "bank_name"],
            "Bank - Nowhere Bank is not present in the database.",
        ),
        (
            {"bank_name": "Equity Bank", "acc_number": "1!"},
            ["body", "bank_ids", 0, "acc_number"],
            None,
        ),
    ],
)
def test_bad_bank_account_writes_nothing(client, as_registrar, bank, account, loc, msg):
    body = {"given_name": "Ana", "family_name": "Diaz", "bank_ids": [account]}
    response = post(client, f"{URL}/individual", body, as_registrar)
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == loc
    if msg is not None:
        assert error["msg"] == msg
    assert (Registrant.objects.count(), BankAccount.objects.count()) == (0, 0)


def test_existing_individuals_join_a_group(client, as_registrar):
    ana = IndividualFactory(given_name="Ana", family_name="Diaz")
    group = GroupFactory(name="Diaz household")
    body = {"members": [{"id": ana.pk, "kind": [{"name": "Head"}]}, {"given_name": "Luis",
            "family_name": "Diaz"}]}  # fmt: skip
    response = post(client, f"{URL}/group/{group.pk}", body, as_registrar, "put")
    assert response.status_code == 200
    members = response.json()["members"]
    assert [(m["individual"]["id"] == ana.pk, m["kind"]) for m in members] == [
        (True, [{"name": "Head"}]),
        (False, []),
    ]
    assert Registrant.objects.filter(is_group=False).count() == 2


@pytest.mark.parametrize(
    ("member", "msg"),
    [
        ({"id": 999999}, "Individual 999999 is not present in the registry."),
        ({"id": "group"}, None),
        ({"id": "ana"}, "is already a member of this group."),
        ({"given_name": "Luis"}, "Field required"),
    ],
)
def test_bad_member_is_refused_and_nothing_changes(client, as_registrar, member, msg):
    ana = IndividualFactory(given_name="Ana", family_name="Diaz")
    group = GroupFactory(name="Diaz household")
    GroupMembership.objects.create(group=group, individual=ana)
    if member.get("id") == "group":
        member = {"id": GroupFactory().pk}
        msg = f"Individual {member['id']} is not present in the registry."
    elif member.get("id") == "ana":
        member = {"id": ana.pk}
        msg = f"Individual {ana.pk} is already a member of this group."
    before = (Registrant.objects.count(), GroupMembership.objects.count())
    body = {"name": "Renamed", "members": [member]}
    response = post(client, f"{URL}/group/{group.pk}", body, as_registrar, "put")
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == msg
    assert (Registrant.objects.count(), GroupMembership.objects.count()) == before
    group.refresh_from_db()
    assert group.name == "Diaz household"
