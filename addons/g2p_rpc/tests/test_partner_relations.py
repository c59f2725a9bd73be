"""Registrant tags (``tags_ids`` / ``category_id``) and bank accounts (``bank_ids``) over RPC."""

from __future__ import annotations

import odooly
import odoorpc
import pytest

from g2p_registry_base.models import Bank, BankAccount, Registrant, RegistrantTag

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def connect(server, login):  # type: ignore[no-untyped-def]
    client = odoorpc.ODOO(server.host, port=server.port, timeout=60)
    client.login(server.db, login, f"{login}-pass-123")
    return client


def refused(call):  # type: ignore[no-untyped-def]
    with pytest.raises(odoorpc.error.RPCError) as error:
        call()
    return error.value.info["data"]


@pytest.fixture
def lists(transactional_db):  # type: ignore[no-untyped-def]
    return {
        "kcb": Bank.objects.create(name="Kenya Commercial Bank", bic="KCBLKENX"),
        "equity": Bank.objects.create(name="Equity Bank", bic="EQBLKENA"),
        "flood": RegistrantTag.objects.create(name="Flood affected"),
        "drought": RegistrantTag.objects.create(name="Drought affected"),
        "remote": RegistrantTag.objects.create(name="Remote area"),
    }


def test_create_and_read_tags_and_bank_accounts(server, registrar, lists):
    client = connect(server, "registrar")
    flood, remote = lists["flood"], lists["remote"]
    partner_id = client.execute_kw(
        "res.partner",
        "create",
        [
            {
                "given_name": "Dan",
                "family_name": "Dida",
                "is_group": False,
                "tags_ids": [(4, flood.pk), (4, remote.pk)],
                "bank_ids": [
                    (0, 0, {"acc_number": "0112 2334 45", "bank_id": lists["kcb"].pk}),
                    (0, 0, {"acc_number": "EQ-778899", "bank_id": lists["equity"].pk,
                            "acc_holder_name": "Dan Dida"}),
                ],
            }
        ],
    )  # fmt: skip
    dan = Registrant.objects.get(pk=partner_id)
    assert set(dan.tags.values_list("pk", flat=True)) == {flood.pk, remote.pk}
    accounts = list(BankAccount.objects.filter(registrant=dan).order_by("pk"))
    assert [(a.acc_number, a.bank_id, a.acc_holder_name) for a in accounts] == [
        ("0112233445", lists["kcb"].pk, ""),
        ("EQ-778899", lists["equity"].pk, "Dan Dida"),
    ]
    [row] = client.execute_kw(
        "res.partner", "read", [[partner_id], ["tags_ids", "category_id", "bank_ids"]]
    )
    assert row == {
        "id": partner_id,
        "tags_ids": sorted([flood.pk, remote.pk]),
        "category_id": sorted([flood.pk, remote.pk]),
        "bank_ids": [a.pk for a in accounts],
    }
    assert client.execute_kw(
        "res.partner.bank",
        "read",
        [[accounts[0].pk], ["acc_number", "bank_id", "bank_name", "partner_id"]],
    ) == [
        {
            "id": accounts[0].pk,
            "acc_number": "0112233445",
            "bank_id": [lists["kcb"].pk, "Kenya Commercial Bank"],
            "bank_name": "Kenya Commercial Bank",
            "partner_id": [partner_id, "DIDA, DAN"],
        }
    ]
    # browsing the relations with OdooRPC and Odooly
    record = client.env["res.partner"].browse(partner_id)
    assert sorted(t.name for t in record.tags_ids) == ["Flood affected", "Remote area"]
    assert [b.bank_id.name for b in record.bank_ids] == ["Kenya Commercial Bank", "Equity Bank"]
    odooly_client = odooly.Client(server.url, server.db, "registrar", "registrar-pass-123")
    browsed = odooly_client.env["res.partner"].browse(partner_id)
    assert sorted(browsed.category_id.name) == ["Flood affected", "Remote area"]
    assert browsed.bank_ids.acc_number == ["0112233445", "EQ-778899"]
    # domains over the relations
    assert client.execute_kw("res.partner", "search", [[("tags_ids", "in", [flood.pk])]]) == [
        partner_id
    ]
    assert client.execute_kw(
        "res.partner", "search", [[("category_id.name", "=", "Remote area")]]
    ) == [partner_id]
    assert client.execute_kw(
        "res.partner", "search", [[("bank_ids.acc_number", "=", "EQ-778899")]]
    ) == [partner_id]
    assert client.execute_kw(
        "res.partner.bank", "search", [[("bank_id.name", "ilike", "equity")]]
    ) == [accounts[1].pk]


def test_write_commands_on_tags_and_bank_accounts(server, registrar, registry_admin, lists):
    client = connect(server, "registrar")
    flood, drought, remote = lists["flood"], lists["drought"], lists["remote"]
    partner_id = client.execute_kw(
        "res.partner",
        "create",
        [{"given_name": "Eli", "family_name": "Eko", "is_group": False,
          "tags_ids": [(6, 0, [flood.pk, drought.pk])],
          "bank_ids": [(0, 0, {"acc_number": "11112222", "bank_id": lists["kcb"].pk})]}],
    )  # fmt: skip
    eli = Registrant.objects.get(pk=partner_id)
    account = BankAccount.objects.get(registrant=eli)

    def tags() -> set[int]:
        return set(eli.tags.values_list("pk", flat=True))

    assert client.execute_kw(
        "res.partner", "write", [[partner_id], {"category_id": [(3, drought.pk), (4, remote.pk)]}]
    )
    assert tags() == {flood.pk, remote.pk}
    client.execute_kw("res.partner", "write", [[partner_id], {"tags_ids": [[5]]}])
    assert tags() == set()
    client.execute_kw("res.partner", "write", [[partner_id], {"tags_ids": [(6, 0, [drought.pk])]}])
    assert tags() == {drought.pk}
    # bank accounts: update, add, and a refused delete (registrars do not delete)
    client.execute_kw(
        "res.partner",
        "write",
        [[partner_id], {"bank_ids": [(1, account.pk, {"acc_number": "11113333"}),
                                      (0, 0, {"acc_number": "22224444",
                                              "bank_id": lists["equity"].pk})]}],
    )  # fmt: skip
    assert sorted(
        BankAccount.objects.filter(registrant=eli).values_list("acc_number", flat=True)
    ) == [
        "11113333",
        "22224444",
    ]
    data = refused(
        lambda: client.execute_kw(
            "res.partner", "write", [[partner_id], {"bank_ids": [(2, account.pk, 0)]}]
        )
    )
    assert data["name"] == "odoo.exceptions.AccessError"
    assert BankAccount.objects.filter(registrant=eli).count() == 2
    # registrars do not create tags: nothing of the call is kept
    data = refused(
        lambda: client.execute_kw(
            "res.partner",
            "write",
            [[partner_id], {"given_name": "Elias", "tags_ids": [(0, 0, {"name": "Orphan"})]}],
        )
    )
    assert data["name"] == "odoo.exceptions.AccessError"
    eli.refresh_from_db()
    assert eli.given_name == "Eli"
    assert not RegistrantTag.objects.filter(name="Orphan").exists()
    # an administrator creates, renames and deletes tags through the same commands
    admin = connect(server, "regadmin")
    admin.execute_kw(
        "res.partner",
        "write",
        [[partner_id], {"tags_ids": [(0, 0, {"name": "Orphan"}),
                                      (1, drought.pk, {"name": "Drought (2024)"}),
                                      (2, flood.pk, 0)]}],
    )  # fmt: skip
    orphan = RegistrantTag.objects.get(name="Orphan")
    assert tags() == {drought.pk, orphan.pk}
    assert RegistrantTag.objects.get(pk=drought.pk).name == "Drought (2024)"
    assert not RegistrantTag.objects.filter(pk=flood.pk).exists()
    assert admin.execute_kw("res.partner.bank", "unlink", [[account.pk]]) is True
    assert list(
        BankAccount.objects.filter(registrant=eli).values_list("acc_number", flat=True)
    ) == ["22224444"]


def test_bad_relation_values_change_nothing(server, registrar, viewer, lists, registry_data):
    client = connect(server, "registrar")
    before = Registrant.objects.count()
    data = refused(
        lambda: client.execute_kw(
            "res.partner",
            "create",
            [{"given_name": "Fay", "family_name": "Fumo", "is_group": False,
              "tags_ids": [(4, lists["flood"].pk)],
              "bank_ids": [(0, 0, {"acc_number": "12", "bank_id": lists["kcb"].pk})]}],
        )
    )  # fmt: skip
    assert data["name"] == "odoo.exceptions.ValidationError"
    assert data["message"] == "acc_number: Invalid account number."
    data = refused(
        lambda: client.execute_kw(
            "res.partner",
            "create",
            [{"given_name": "Fay", "family_name": "Fumo", "is_group": False,
              "tags_ids": [(4, 999999)]}],
        )
    )  # fmt: skip
    assert data["name"] == "odoo.exceptions.MissingError"
    data = refused(
        lambda: client.execute_kw(
            "res.partner",
            "create",
            [{"given_name": "Fay", "family_name": "Fumo", "is_group": False,
              "tags_ids": [(7, 1)]}],
        )
    )  # fmt: skip
    assert data["name"] == "builtins.ValueError"
    assert data["message"] == "Invalid x2many command [7, 1] for field 'tags_ids'"
    assert Registrant.objects.count() == before
    assert BankAccount.objects.count() == 0
    # the same account twice for one registrant is refused
    alice = registry_data["alice"]
    client.execute_kw(
        "res.partner.bank",
        "create",
        [{"partner_id": alice.pk, "bank_id": lists["kcb"].pk, "acc_number": "55556666"}],
    )
    data = refused(
        lambda: client.execute_kw(
            "res.partner.bank",
            "create",
            [{"partner_id": alice.pk, "bank_id": lists["kcb"].pk, "acc_number": "5555 6666"}],
        )
    )
    assert data["name"] == "odoo.exceptions.ValidationError"
    assert data["message"] == "This account is already recorded for this registrant."
    assert BankAccount.objects.filter(registrant=alice).count() == 1
    # a viewer changes neither tags nor accounts
    viewer_client = connect(server, "viewer")
    for vals in (
        {"tags_ids": [(4, lists["flood"].pk)]},
        {"bank_ids": [(0, 0, {"acc_number": "77778888", "bank_id": lists["kcb"].pk})]},
    ):
        data = refused(
            lambda v=vals: viewer_client.execute_kw("res.partner", "write", [[alice.pk], v])
        )
        assert data["name"] == "odoo.exceptions.AccessError"
    assert alice.tags.count() == 0
    assert BankAccount.objects.filter(registrant=alice).count() == 1
    assert viewer_client.execute_kw("res.partner", "read", [[alice.pk], ["bank_ids"]]) == [
        {"id": alice.pk, "bank_ids": list(alice.bank_accounts.values_list("pk", flat=True))}
    ]
