"""External identifiers (``ir.model.data``), access checks (``ir.model.access``,
``check_access_rights``) and ``/web/dataset/call_button``, driven by real clients."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request

import odooly
import odoorpc
import pytest
from django.contrib.auth.models import Group

from addons.g2p_rpc.models import RpcExternalId
from g2p_programs.choices import ProgramState
from g2p_programs.models import Program
from g2p_programs.roles import ROLE_PROGRAM_MANAGER
from g2p_programs.services import programs
from g2p_registry_base.choices import ROLE_REGISTRAR
from g2p_registry_base.factories import IdTypeFactory
from g2p_registry_base.models import Company, GroupKind, IdType, MembershipKind, Registrant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def odoorpc_client(server, login, password):  # type: ignore[no-untyped-def]
    client = odoorpc.ODOO(server.host, port=server.port, timeout=60)
    client.login(server.db, login, password)
    return client


def rpc_error(call):  # type: ignore[no-untyped-def]
    with pytest.raises(odoorpc.error.RPCError) as error:
        call()
    return error.value.info["data"]


def test_env_ref_resolves_the_servers_records(server, admin_user, registrar, registry_data):
    client = odoorpc_client(server, "root", "root-pass-123")
    company = client.env.ref("base.main_company")
    assert company._name == "res.company"
    assert company.id == Company.objects.order_by("pk").first().pk
    assert company.name == "Default Company"
    head = client.env.ref("g2p_registry_membership.group_membership_kind_head")
    assert head._name == "g2p.group.membership.kind"
    assert head.id == MembershipKind.objects.get(name="Head").pk
    assert head.name == "Head"
    assert head.is_unique is True
    household = client.env.ref("g2p_registry_group.group_kind_household")
    assert household.id == GroupKind.objects.get(name="Household").pk
    national = client.env.ref("g2p_registry_base.id_type_national_id")
    assert national.id == registry_data["national"].pk
    admin = client.env.ref("base.user_admin")
    assert (admin._name, admin.id, admin.login) == ("res.users", admin_user.pk, "root")
    internal = client.env.ref("base.group_user")
    assert internal._name == "res.groups"
    assert internal.name == "Internal User"
    assert sorted(internal.users.ids) == sorted([admin_user.pk, registrar.pk])
    assert client.env.ref("base.group_system").users.ids == [admin_user.pk]
    registrars = client.env.ref("g2p_registry_base.group_g2p_registrar")
    assert registrars.name == ROLE_REGISTRAR
    assert registrars.users.ids == [registrar.pk]
    # the wire call OdooRPC makes, and the older lookups
    assert client.execute(
        "ir.model.data", "check_object_reference", "base", "main_company", True
    ) == ["res.company", company.id]
    assert client.execute("ir.model.data", "xmlid_to_res_model_res_id", "base.main_company") == [
        "res.company",
        company.id,
    ]
    assert client.execute("ir.model.data", "xmlid_to_res_id", "base.nothing") is False
    assert client.execute("ir.model.data", "xmlid_to_res_model_res_id", "base.nothing", False) == [
        False,
        False,
    ]
    row = RpcExternalId.objects.get(module="base", name="main_company")
    assert client.execute("ir.model.data", "xmlid_lookup", "base.main_company") == [
        row.pk,
        "res.company",
        company.id,
    ]
    # unknown identifiers: Odoo's ValueError
    for call in (
        lambda: client.env.ref("base.nothing"),
        lambda: client.execute("ir.model.data", "xmlid_lookup", "base.nothing"),
        lambda: client.execute("ir.model.data", "xmlid_to_res_model_res_id", "base.nothing", True),
    ):
        data = rpc_error(call)
        assert data["name"] == "builtins.ValueError"
        assert data["message"] == "External ID not found in the system: base.nothing"
    data = rpc_error(lambda: client.execute("ir.model.data", "_xmlid_lookup", "base.main_company"))
    assert data["name"] == "odoo.exceptions.AccessError"


def test_references_follow_the_users_rights(server, admin_user, registrar):
    client = odoorpc_client(server, "registrar", "registrar-pass-123")
    # a registrar reads only their own user record
    assert client.execute("ir.model.data", "check_object_reference", "base", "user_admin") == [
        "res.users",
        False,
    ]
    data = rpc_error(lambda: client.env.ref("base.user_admin"))
    assert data["name"] == "odoo.exceptions.AccessError"
    assert data["message"] == "Not enough access rights on the external ID 'base.user_admin'"
    assert client.env.ref("base.main_company").name == "Default Company"


def test_ir_model_data_search_read_and_config_records(server, admin_user, registry_data):
    client = odoorpc_client(server, "root", "root-pass-123")
    rows = client.execute_kw(
        "ir.model.data",
        "search_read",
        [[("module", "=", "g2p_registry_membership")]],
        {"fields": ["module", "name", "model", "res_id", "complete_name"]},
    )
    head = MembershipKind.objects.get(name="Head")
    assert [{k: v for k, v in r.items() if k != "id"} for r in rows] == [
        {
            "module": "g2p_registry_membership",
            "name": "group_membership_kind_head",
            "model": "g2p.group.membership.kind",
            "res_id": head.pk,
            "complete_name": "g2p_registry_membership.group_membership_kind_head",
        }
    ]
    # a configuration record made later gets its identifier; a rename keeps it
    voter = IdTypeFactory(name="Voter Card")
    rows = client.execute_kw(
        "ir.model.data",
        "search_read",
        [[("model", "=", "g2p.id.type")]],
        {"fields": ["complete_name", "res_id"], "order": "name"},
    )
    assert [(r["complete_name"], r["res_id"]) for r in rows] == [
        ("g2p_registry_base.id_type_national_id", registry_data["national"].pk),
        ("g2p_registry_base.id_type_voter_card", voter.pk),
    ]
    names = dict(RpcExternalId.objects.filter(model="g2p.id.type").values_list("res_id", "name"))
    assert names == {
        registry_data["national"].pk: "id_type_national_id",
        voter.pk: "id_type_voter_card",
    }
    IdType.objects.filter(pk=voter.pk).update(name="Electoral Card")
    assert client.execute(
        "ir.model.data", "check_object_reference", "g2p_registry_base", "id_type_voter_card"
    ) == ["g2p.id.type", voter.pk]
    # a deleted configuration record loses its identifier
    IdType.objects.filter(pk=voter.pk).delete()
    data = rpc_error(
        lambda: client.execute(
            "ir.model.data", "check_object_reference", "g2p_registry_base", "id_type_voter_card"
        )
    )
    assert data["message"] == (
        "External ID not found in the system: g2p_registry_base.id_type_voter_card"
    )
    # the server's own identifiers cannot be changed or removed
    builtin = RpcExternalId.objects.get(module="base", name="main_company")
    for method, args in (
        ("write", [[builtin.pk], {"res_id": 999}]),
        ("unlink", [[builtin.pk]]),
    ):
        data = rpc_error(lambda m=method, a=args: client.execute_kw("ir.model.data", m, a))
        assert data["name"] == "odoo.exceptions.AccessError"
        assert data["message"] == "The server's own external identifiers cannot be changed."
    builtin.refresh_from_db()
    assert builtin.res_id == Company.objects.order_by("pk").first().pk


def test_clients_name_records_with_external_ids(server, registrar, viewer, registry_data):
    alice = registry_data["alice"]
    client = odooly.Client(server.url, server.db, "registrar", "registrar-pass-123")
    record = client.env["res.partner"].browse(alice.pk)
    record._set_external_id("__import__.alice_achieng")
    assert record._external_id == "__import__.alice_achieng"
    assert client.env.ref("__import__.alice_achieng").id == alice.pk
    row = RpcExternalId.objects.get(module="__import__", name="alice_achieng")
    assert (row.model, row.res_id, row.builtin) == ("res.partner", alice.pk, False)
    with pytest.raises(ValueError, match="collides with another entry"):
        client.env["res.partner"].browse(registry_data["bob"].pk)._set_external_id(
            "__import__.alice_achieng"
        )
    # the same name again, a missing record, a bad module: refused naming the field
    rpc = odoorpc_client(server, "registrar", "registrar-pass-123")
    for vals, message in (
        (
            {"module": "__import__", "name": "alice_achieng", "model": "res.partner",
             "res_id": registry_data["bob"].pk},
            "name: The external ID __import__.alice_achieng already exists.",
        ),
        (
            {"module": "__api__", "name": "ghost", "model": "res.partner", "res_id": 999999},
            "res_id: No res.partner record has id 999999.",
        ),
        (
            {"module": "bad module", "name": "x", "model": "res.partner", "res_id": alice.pk},
            "module: A module is letters, digits and underscores, e.g. __api__.",
        ),
        (
            {"module": "__api__", "name": "x", "model": "no.such.model", "res_id": 1},
            "model: Unknown model no.such.model.",
        ),
    ):  # fmt: skip
        data = rpc_error(lambda v=vals: rpc.execute_kw("ir.model.data", "create", [v]))
        assert data["name"] == "odoo.exceptions.ValidationError"
        assert data["message"] == message
    assert RpcExternalId.objects.filter(builtin=False).count() == 1
    # a viewer may read identifiers but not name records
    viewer_client = odoorpc_client(server, "viewer", "viewer-pass-123")
    assert viewer_client.env.ref("__import__.alice_achieng").id == alice.pk
    data = rpc_error(
        lambda: viewer_client.execute_kw(
            "ir.model.data",
            "create",
            [{"module": "__api__", "name": "bob", "model": "res.partner",
              "res_id": registry_data["bob"].pk}],
        )
    )  # fmt: skip
    assert data["name"] == "odoo.exceptions.AccessError"
    data = rpc_error(lambda: viewer_client.execute_kw("ir.model.data", "unlink", [[row.pk]]))
    assert data["name"] == "odoo.exceptions.AccessError"
    assert RpcExternalId.objects.filter(builtin=False).count() == 1
    # the registrar removes the identifier; the registrant stays
    assert rpc.execute_kw("ir.model.data", "unlink", [[row.pk]]) is True
    assert not RpcExternalId.objects.filter(pk=row.pk).exists()
    assert Registrant.objects.filter(pk=alice.pk).exists()


def test_access_rights_answer_from_the_users_permissions(server, registrar, viewer):
    registrar_client = odooly.Client(server.url, server.db, "registrar", "registrar-pass-123")
    viewer_client = odooly.Client(server.url, server.db, "viewer", "viewer-pass-123")
    assert registrar_client.env.access("res.partner", "write") is True
    assert registrar_client.env.access("res.partner", "unlink") is False
    assert registrar_client.env.access("g2p.id.type", "read") is True
    assert registrar_client.env.access("g2p.id.type", "create") is False
    assert viewer_client.env.access("res.partner", "read") is True
    assert viewer_client.env.access("res.partner", "write") is False
    assert viewer_client.env.access("no.such.model") is False
    assert registrar_client.env["res.partner"].access("create") is True

    rpc = odoorpc_client(server, "viewer", "viewer-pass-123")
    assert rpc.execute("ir.model.access", "check", "res.partner", "read") is True
    assert rpc.execute("ir.model.access", "check", "res.partner", "write", False) is False
    data = rpc_error(lambda: rpc.execute("ir.model.access", "check", "res.partner", "write"))
    assert data["name"] == "odoo.exceptions.AccessError"
    assert data["message"] == "You are not allowed to modify 'res.partner' records."
    data = rpc_error(lambda: rpc.execute("ir.model.access", "check", "res.partner", "explode"))
    assert data == {**data, "name": "builtins.ValueError", "message": "Invalid access mode"}
    # the model-level method on every model
    for model, operation, expected in (
        ("res.partner", "read", True),
        ("res.partner", "unlink", False),
        ("g2p.program", "read", False),
        ("g2p.cycle", "write", False),
        ("ir.model.data", "read", True),
        ("res.groups", "write", False),
    ):
        assert (
            rpc.execute_kw(model, "check_access_rights", [operation], {"raise_exception": False})
            is expected
        )
    data = rpc_error(lambda: rpc.execute_kw("res.partner", "check_access_rights", ["unlink"]))
    assert data["name"] == "odoo.exceptions.AccessError"
    assert data["message"] == "You are not allowed to delete 'res.partner' records."

    # ir.model.access lines tell each role's rights on each model
    lines = rpc.execute_kw(
        "ir.model.access",
        "search_read",
        [[("model_id", "=", "res.partner"), ("group_id", "in", ["Registrar", "Registry Viewer"])]],
        {"fields": ["name", "group_id", "perm_read", "perm_write", "perm_create", "perm_unlink"]},
    )
    registrar_group = Group.objects.get(name=ROLE_REGISTRAR)
    assert [{k: v for k, v in line.items() if k != "id"} for line in lines] == [
        {
            "name": "access_res_partner_registrar",
            "group_id": [registrar_group.pk + 2, "Registrar"],
            "perm_read": True,
            "perm_write": True,
            "perm_create": True,
            "perm_unlink": False,
        },
        {
            "name": "access_res_partner_registry_viewer",
            "group_id": [Group.objects.get(name="Registry Viewer").pk + 2, "Registry Viewer"],
            "perm_read": True,
            "perm_write": False,
            "perm_create": False,
            "perm_unlink": False,
        },
    ]
    # configuration lists are read-only over RPC whatever the role
    config = rpc.execute_kw(
        "ir.model.access",
        "search_read",
        [[("model_id", "=", "g2p.id.type"), ("perm_write", "=", True)]],
        {"fields": ["name"]},
    )
    assert config == []
    groups = rpc.execute_kw("res.groups", "search_read", [[("name", "=", "Registrar")]])
    assert [(g["id"], g["users"]) for g in groups] == [(registrar_group.pk + 2, [registrar.pk])]


class Session:
    """A web session (cookie) on the live server, as the web client and Odooly use it."""

    def __init__(self, server, login, password):  # type: ignore[no-untyped-def]
        self.server = server
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        answer = self.post(
            "/web/session/authenticate",
            {"db": server.db, "login": login, "password": password},
        )
        assert answer["result"]["username"] == login

    def post(self, path, params):  # type: ignore[no-untyped-def]
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": 3})
        request = urllib.request.Request(
            self.server.url + path, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=60) as response:
            return json.loads(response.read())


def make_user(django_user_model, username, role):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(username, password=f"{username}-pass-123")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


def test_call_button_returns_the_cleaned_action(server, django_user_model, viewer):
    make_user(django_user_model, "pm", ROLE_PROGRAM_MANAGER)
    session = Session(server, "pm", "pm-pass-123")
    call_kw = {
        "model": "g2p.program.create.wizard",
        "method": "create",
        "args": [{"name": "Cash for Work", "currency": "KES", "amount_per_cycle": 50.0}],
        "kwargs": {},
    }
    wizard_id = session.post("/web/dataset/call_kw", call_kw)["result"]
    answer = session.post(
        "/web/dataset/call_button",
        {
            "model": "g2p.program.create.wizard",
            "method": "create_program",
            "args": [[wizard_id]],
            "kwargs": {"context": {"lang": "en_US"}},
        },
    )
    program = Program.objects.get(name="Cash for Work")
    assert answer == {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {
            "name": "Programs",
            "type": "ir.actions.act_window",
            "res_model": "g2p.program",
            "res_id": program.pk,
            "view_mode": "form",
            "target": "current",
            "views": [[False, "form"]],
        },
    }
    # a button whose method gives no action answers False
    answer = session.post(
        "/web/dataset/call_button/g2p.program/end_program",
        {"model": "g2p.program", "method": "end_program", "args": [[program.pk]], "kwargs": {}},
    )
    assert answer["result"] is False
    program.refresh_from_db()
    assert program.state == ProgramState.ENDED
    # a refusal is Odoo's error; a notification comes back as the client action it is
    answer = session.post(
        "/web/dataset/call_button",
        {"model": "g2p.program", "method": "end_program", "args": [[program.pk]], "kwargs": {}},
    )
    assert answer["error"]["data"]["name"] == "odoo.exceptions.ValidationError"
    assert answer["error"]["data"]["message"] == "Ony 'active' programs can be ended."
    programs.program_reactivate(program=program, actor=None)
    answer = session.post(
        "/web/dataset/call_button",
        {
            "model": "g2p.program",
            "method": "deduplicate_beneficiaries",
            "args": [[program.pk]],
            "kwargs": {},
        },
    )
    assert answer["result"] == {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {
            "title": "Deduplication",
            "message": "No duplicates found.",
            "sticky": False,
            "type": "success",
        },
    }
    # refusals: private methods, no session, a viewer's button
    answer = session.post(
        "/web/dataset/call_button",
        {"model": "g2p.program", "method": "_end", "args": [[program.pk]], "kwargs": {}},
    )
    assert answer["error"]["data"]["name"] == "odoo.exceptions.AccessError"
    anonymous = Session.__new__(Session)
    anonymous.server = server
    anonymous.opener = urllib.request.build_opener()
    answer = anonymous.post(
        "/web/dataset/call_button",
        {"model": "g2p.program", "method": "end_program", "args": [[program.pk]], "kwargs": {}},
    )
    assert answer["error"]["code"] == 100
    viewer_session = Session(server, "viewer", "viewer-pass-123")
    answer = viewer_session.post(
        "/web/dataset/call_button",
        {"model": "g2p.program", "method": "end_program", "args": [[program.pk]], "kwargs": {}},
    )
    assert answer["error"]["data"]["name"] == "odoo.exceptions.AccessError"
    program.refresh_from_db()
    assert program.state == ProgramState.ACTIVE
