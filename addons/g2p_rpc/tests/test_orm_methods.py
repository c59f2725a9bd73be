"""``read_group``, ``name_create`` and ``copy`` through real Odoo client libraries."""

from __future__ import annotations

import datetime
from decimal import Decimal

import odoorpc
import pytest

from addons.g2p_rpc.tests.test_clients import odoorpc_client
from g2p_registry_base.models import IdType, Registrant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_read_group_counts_sums_and_domains(server, registrar, registry_data):
    Registrant.objects.filter(pk=registry_data["alice"].pk).update(income=Decimal("100.50"))
    Registrant.objects.filter(pk=registry_data["bob"].pk).update(income=Decimal("20"))
    client = odoorpc_client(server, "registrar", "registrar-pass-123")
    partners = client.env["res.partner"]
    people = [("is_group", "=", False)]
    groups = partners.read_group(people, ["income:sum"], ["gender"], orderby="gender")
    assert groups == [
        {
            "gender": "Female",
            "gender_count": 2,
            "income": 100.5,
            "__domain": ["&", ["gender", "=", "Female"], ["is_group", "=", False]],
        },
        {
            "gender": "Male",
            "gender_count": 1,
            "income": 20.0,
            "__domain": ["&", ["gender", "=", "Male"], ["is_group", "=", False]],
        },
    ]
    by_gender = {g["gender"]: (g["gender_count"], g["income"]) for g in groups}
    assert by_gender == {"Female": (2, 100.5), "Male": (1, 20.0)}
    # the group's domain selects exactly its records
    for group in groups:
        assert partners.search_count(group["__domain"]) == group["gender_count"]
    years = partners.read_group(
        people, ["count_people:count(id)"], ["birthdate:year", "gender"], lazy=False
    )
    assert sorted((g["birthdate:year"], g["gender"], g["__count"]) for g in years) == [
        ("1955", "Female", 1),
        ("1980", "Female", 1),
        ("2001", "Male", 1),
    ]
    lazy = partners.read_group(people, [], ["gender", "birthdate:year"])
    assert all(g["__context"] == {"group_by": ["birthdate:year"]} for g in lazy)
    with pytest.raises(odoorpc.error.RPCError, match="Invalid field 'nope'"):
        partners.read_group(people, [], ["nope"])


def test_read_group_on_many2one_gives_id_and_name(server, registrar, registry_data):
    client = odoorpc_client(server, "registrar", "registrar-pass-123")
    groups = client.env["g2p.reg.id"].read_group([], ["value"], ["id_type"])
    national = registry_data["national"]
    assert groups == [
        {
            "id_type": [national.pk, "National ID"],
            "id_type_count": 1,
            "__domain": [["id_type", "=", national.pk]],
        }
    ]


def test_name_create_and_copy(server, registrar, viewer, registry_admin, registry_data):
    from g2p_programs.models import Program

    admin = odoorpc_client(server, "regadmin", "regadmin-pass-123")
    # a program needs its currency: the name alone is refused naming the field, nothing written
    with pytest.raises(odoorpc.error.RPCError, match="currency: This field cannot be blank"):
        admin.execute_kw("g2p.program", "name_create", ["Quick Relief"])
    assert not Program.objects.filter(name="Quick Relief").exists()
    # copy: a new program with the stored values, the name marked, defaults applied
    source = admin.env["g2p.program"].create({"name": "Relief", "currency": "KES"})
    copied = admin.execute_kw("g2p.program", "copy", [source], {"default": {"currency": "UGX"}})
    twin = Program.objects.get(pk=copied)
    assert (twin.name, twin.currency, twin.target_type) == (
        "Relief (copy)",
        "UGX",
        Program.objects.get(pk=source).target_type,
    )
    registrar_client = odoorpc_client(server, "registrar", "registrar-pass-123")
    # configuration lists are back-office only: refused with Odoo's error, nothing written
    with pytest.raises(odoorpc.error.RPCError, match="read-only over RPC"):
        registrar_client.execute_kw("g2p.id.type", "name_create", ["Voter card"])
    with pytest.raises(odoorpc.error.RPCError, match="read-only over RPC"):
        registrar_client.execute_kw("g2p.id.type", "copy", [registry_data["national"].pk])
    assert IdType.objects.count() == 1
    viewer_client = odoorpc_client(server, "viewer", "viewer-pass-123")
    before = Registrant.objects.count()
    with pytest.raises(odoorpc.error.RPCError, match="not allowed"):
        viewer_client.execute_kw("res.partner", "copy", [registry_data["alice"].pk])
    assert Registrant.objects.count() == before
    # copying an individual keeps its data, not its IDs or memberships
    alice = registry_data["alice"]
    twin = registrar_client.execute_kw(
        "res.partner", "copy", [alice.pk], {"default": {"given_name": "Alicia"}}
    )
    copy_row = Registrant.objects.get(pk=twin)
    assert (copy_row.given_name, copy_row.family_name, copy_row.birthdate) == (
        "Alicia",
        "Achieng",
        datetime.date(1980, 3, 1),
    )
    assert copy_row.reg_ids.count() == 0 and copy_row.group_memberships.count() == 0
