"""The Odoo external API driven by real Odoo client libraries against a live server."""

from __future__ import annotations

import json
import urllib.request
import xmlrpc.client

import odoolib
import odooly
import odoorpc
import pytest

from g2p_registry_base.models import PhoneNumber, Registrant, RegistrantId

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

VERSION = {
    "server_version": "17.0",
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": "17.0",
    "protocol_version": 1,
}


def post_json(server, path, params, request_id=7):  # type: ignore[no-untyped-def]
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": request_id})
    request = urllib.request.Request(
        server.url + path, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
        assert response.status == 200
        return json.loads(response.read())


def odoorpc_client(server, login, password):  # type: ignore[no-untyped-def]
    client = odoorpc.ODOO(server.host, port=server.port, timeout=30)
    client.login(server.db, login, password)
    return client


def test_version_info_on_every_path(server):
    assert post_json(server, "/web/webclient/version_info", {}) == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": VERSION,
    }
    answer = post_json(
        server, "/jsonrpc", {"service": "common", "method": "version", "args": []}, "ab12"
    )
    assert answer == {"jsonrpc": "2.0", "id": "ab12", "result": VERSION}
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    assert common.version() == VERSION
    db = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/db")
    assert db.server_version() == "17.0"
    assert db.list() == [server.db]
    assert post_json(server, "/web/database/list", {})["result"] == [server.db]


def test_bad_password_gives_no_uid(server, registrar):
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    assert common.authenticate(server.db, "registrar", "wrong", {}) is False
    assert common.login(server.db, "registrar", "registrar-pass-123") == registrar.pk
    assert common.login("other-db", "registrar", "registrar-pass-123") is False
    with pytest.raises(odoorpc.error.RPCError, match="Wrong login ID or password"):
        odoorpc_client(server, "registrar", "wrong")
    answer = post_json(
        server,
        "/web/session/authenticate",
        {"db": server.db, "login": "registrar", "password": "wrong"},
    )
    assert answer["error"]["code"] == 200
    assert answer["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert answer["error"]["data"]["message"] == "Access Denied"
    # object calls re-check the password
    obj = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
    with pytest.raises(xmlrpc.client.Fault) as fault:
        obj.execute_kw(server.db, registrar.pk, "wrong", "res.partner", "search", [[]])
    assert fault.value.faultCode == 3
    assert fault.value.faultString == "Access Denied"


def test_odoorpc_reads_registrants_with_relations(server, registrar, registry_data):
    alice = registry_data["alice"]
    client = odoorpc_client(server, "registrar", "registrar-pass-123")
    assert client.env.uid == registrar.pk
    assert client.env.context["uid"] == registrar.pk
    assert client.env.user.login == "registrar"
    assert client.env.user.company_id.name == registry_data["alice"].company.name
    partners = client.env["res.partner"]
    record = partners.browse(alice.pk)
    assert record.name == "ACHIENG, ALICE"
    assert record.given_name == "Alice"
    assert record.is_group is False
    assert record.gender == "Female"
    assert record.phone == "+254712345678"
    assert [r.value for r in record.reg_ids] == ["1234567890"]
    assert record.reg_ids[0].id_type.name == "National ID"
    assert [p.phone_sanitized for p in record.phone_number_ids] == ["+254712345678"]
    [membership] = record.individual_membership_ids
    assert membership.group.name == "Household Alpha"
    rows = partners.read([alice.pk, 999_999], ["name", "company_id", "reg_ids", "birthdate"])
    assert rows == [
        {
            "id": alice.pk,
            "name": "ACHIENG, ALICE",
            "company_id": [alice.company_id, alice.company.name],
            "reg_ids": [registry_data["reg_id"].pk],
            "birthdate": "1980-03-01",
        }
    ]
    group = partners.browse(registry_data["first"].pk)
    members = sorted(m.individual.given_name for m in group.group_membership_ids)
    assert members == ["Alice", "Bob"]


def test_search_with_domains_order_and_limit(server, registrar, registry_data):
    client = odoorpc_client(server, "registrar", "registrar-pass-123")
    partners = client.env["res.partner"]
    alice, bob, carol = (registry_data[k] for k in ("alice", "bob", "carol"))
    individuals = [("is_group", "=", False)]
    assert partners.search(individuals, order="birthdate asc") == [carol.pk, alice.pk, bob.pk]
    assert partners.search(individuals, order="birthdate desc", limit=2) == [bob.pk, alice.pk]
    assert partners.search(individuals, order="birthdate", offset=1, limit=1) == [alice.pk]
    assert partners.search_count([("is_group", "=", True)]) == 2
    assert partners.search(["|", ("gender", "=", "Male"), ("age", ">=", 60)], order="id") == [
        bob.pk,
        carol.pk,
    ]
    assert partners.search([("reg_ids.value", "=", "1234567890")]) == [alice.pk]
    assert partners.search([("phone_number_ids.phone_sanitized", "=", "+254712345678")]) == [
        alice.pk
    ]
    found = client.execute_kw(
        "res.partner",
        "search_read",
        [[("name", "ilike", "household")]],
        {"fields": ["name", "is_group"], "order": "name desc", "limit": 0},
    )
    assert found == [
        {"id": registry_data["second"].pk, "name": "Household Beta", "is_group": True},
        {"id": registry_data["first"].pk, "name": "Household Alpha", "is_group": True},
    ]
    assert client.execute_kw("res.partner", "name_search", ["bob"]) == [[bob.pk, "BARAKA, BOB"]]


def test_odoolib_creates_individual_with_ids_and_phones(
    server, registrar, registry_admin, registry_data
):
    connection = odoolib.get_connection(
        hostname=server.host,
        protocol="xmlrpc",
        port=server.port,
        database=server.db,
        login="registrar",
        password="registrar-pass-123",
    )
    partners = connection.get_model("res.partner")
    national = registry_data["national"]
    new_id = partners.create(
        {
            "given_name": "Dina",
            "family_name": "Daudi",
            "gender": "Female",
            "birthdate": "1992-04-05",
            "is_registrant": True,
            "is_group": False,
            "reg_ids": [(0, 0, {"id_type": national.pk, "value": "5555555555"})],
            "phone_number_ids": [
                (0, 0, {"phone_no": "+254722000111"}),
                (0, 0, {"phone_no": "+254733000222"}),
            ],
            "individual_membership_ids": [(0, 0, {"group": registry_data["second"].pk})],
        }
    )
    dina = Registrant.objects.get(pk=new_id)
    assert dina.name == "DAUDI, DINA"
    assert list(dina.reg_ids.values_list("value", flat=True)) == ["5555555555"]
    assert sorted(dina.phone_numbers.values_list("phone_sanitized", flat=True)) == [
        "+254722000111",
        "+254733000222",
    ]
    assert list(dina.individual_memberships.values_list("group_id", flat=True)) == [
        registry_data["second"].pk
    ]
    phones = dict(dina.phone_numbers.values_list("phone_sanitized", "pk"))
    # registrars never delete: the whole write is refused and nothing changes
    with pytest.raises(xmlrpc.client.Fault) as fault:
        partners.write(
            [new_id],
            {
                "given_name": "Dinah",
                "phone_number_ids": [(2, phones["+254733000222"])],
            },
        )
    assert fault.value.faultCode.startswith("warning -- AccessError\n\n")
    dina.refresh_from_db()
    assert dina.given_name == "Dina"
    assert dina.phone_numbers.count() == 2
    # an administrator updates one phone, deletes the other and clears the IDs
    admin_connection = odoolib.get_connection(
        hostname=server.host,
        protocol="jsonrpc",
        port=server.port,
        database=server.db,
        login="regadmin",
        password="regadmin-pass-123",
    )
    partners = admin_connection.get_model("res.partner")
    partners.write(
        [new_id],
        {
            "phone_number_ids": [
                (1, phones["+254722000111"], {"phone_no": "+254722000999"}),
                (2, phones["+254733000222"]),
            ],
            "reg_ids": [(5,)],
        },
    )
    assert list(dina.phone_numbers.values_list("phone_sanitized", flat=True)) == ["+254722000999"]
    assert dina.reg_ids.count() == 0
    row = partners.read(new_id, ["phone_number_ids", "reg_ids", "name"])  # one id: one dict
    assert row == {
        "id": new_id,
        "phone_number_ids": [phones["+254722000111"]],
        "reg_ids": [],
        "name": "DAUDI, DINA",
    }


def test_viewer_reads_but_cannot_write(server, viewer, registry_data):
    alice = registry_data["alice"]
    client = odoorpc_client(server, "viewer", "viewer-pass-123")
    assert client.env["res.partner"].search_count([]) == 5
    with pytest.raises(odoorpc.error.RPCError) as error:
        client.execute_kw("res.partner", "write", [[alice.pk], {"given_name": "Changed"}])
    assert error.value.info["data"]["name"] == "odoo.exceptions.AccessError"
    with pytest.raises(odoorpc.error.RPCError) as error:
        client.execute_kw(
            "res.partner",
            "create",
            [{"given_name": "New", "family_name": "Person", "is_group": False}],
        )
    assert error.value.info["data"]["name"] == "odoo.exceptions.AccessError"
    with pytest.raises(odoorpc.error.RPCError) as error:
        client.execute_kw(
            "res.partner",
            "write",
            [[alice.pk], {"phone_number_ids": [(0, 0, {"phone_no": "+254799000111"})]}],
        )
    assert error.value.info["data"]["name"] == "odoo.exceptions.AccessError"
    alice.refresh_from_db()
    assert alice.given_name == "Alice"
    assert Registrant.objects.count() == 5
    assert PhoneNumber.objects.count() == 1
    assert client.execute_kw("res.partner", "check_access_rights", ["read"]) is True
    assert (
        client.execute_kw(
            "res.partner", "check_access_rights", ["write"], {"raise_exception": False}
        )
        is False
    )


def test_validation_error_names_the_field(server, registrar, registry_data):
    client = odoorpc_client(server, "registrar", "registrar-pass-123")
    with pytest.raises(odoorpc.error.RPCError) as error:
        client.execute_kw(
            "res.partner",
            "create",
            [
                {
                    "given_name": "Eve",
                    "family_name": "Evans",
                    "is_group": False,
                    "reg_ids": [(0, 0, {"id_type": registry_data["national"].pk, "value": "12"})],
                }
            ],
        )
    data = error.value.info["data"]
    assert data["name"] == "odoo.exceptions.ValidationError"
    assert data["message"] == "value: The provided National ID ID '12' is invalid."
    with pytest.raises(odoorpc.error.RPCError) as error:
        client.execute_kw("res.partner", "create", [{"family_name": "Nogiven", "is_group": False}])
    assert error.value.info["data"]["name"] == "odoo.exceptions.ValidationError"
    assert "given_name: The given name is required." in error.value.info["data"]["message"]
    # all or nothing: the individual of the first call was not kept
    assert not Registrant.objects.filter(given_name__in=["Eve"]).exists()
    assert RegistrantId.objects.count() == 1


def test_unknown_model_field_and_private_method(server, registrar, registry_data):
    uid = registrar.pk
    password = "registrar-pass-123"

    def call(model, method, args, kwargs=None):  # type: ignore[no-untyped-def]
        params = {
            "service": "object",
            "method": "execute_kw",
            "args": [server.db, uid, password, model, method, args, kwargs or {}],
        }
        return post_json(server, "/jsonrpc", params)

    answer = call("no.such.model", "search", [[]])
    assert answer["error"]["code"] == 200
    assert answer["error"]["message"] == "Odoo Server Error"
    assert answer["error"]["data"]["name"] == "odoo.exceptions.UserError"
    assert answer["error"]["data"]["message"] == "Object no.such.model doesn't exist"
    assert set(answer["error"]["data"]) == {"name", "message", "arguments", "context", "debug"}

    answer = call("res.partner", "search", [[("password", "=", "x")]])
    assert answer["error"]["data"]["name"] == "builtins.ValueError"
    assert answer["error"]["data"]["message"] == "Invalid field 'password' on model 'res.partner'"
    answer = call("res.partner", "read", [[registry_data["alice"].pk], ["nope"]])
    assert answer["error"]["data"]["message"] == "Invalid field 'nope' on model 'res.partner'"
    answer = call("res.partner", "search", [[("name", "~", "x")]])
    assert answer["error"]["data"]["name"] == "builtins.ValueError"

    answer = call("res.partner", "_search", [[]])
    assert answer["error"]["data"]["name"] == "odoo.exceptions.AccessError"
    assert answer["error"]["data"]["message"] == (
        "Private methods (such as _search) cannot be called remotely."
    )
    answer = call("res.partner", "unknown_method", [])
    assert answer["error"]["data"]["name"] == "builtins.AttributeError"

    obj = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
    with pytest.raises(xmlrpc.client.Fault) as fault:
        obj.execute_kw(server.db, uid, password, "res.partner", "_read", [[1]])
    assert fault.value.faultCode == 4
    with pytest.raises(xmlrpc.client.Fault) as fault:
        obj.execute_kw(server.db, uid, password, "no.such.model", "search", [[]])
    assert fault.value.faultCode == 2
    assert fault.value.faultString == "Object no.such.model doesn't exist"
    legacy = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/object")
    with pytest.raises(xmlrpc.client.Fault) as fault:
        legacy.execute_kw(server.db, uid, password, "no.such.model", "search", [[]])
    assert fault.value.faultCode == "warning -- UserError\n\nObject no.such.model doesn't exist"


def test_odooly_web_session(server, registrar, registry_data):
    client = odooly.Client(server.url, server.db, "registrar", "registrar-pass-123")
    assert client.env.uid == registrar.pk
    partners = client.env["res.partner"]
    alice = registry_data["alice"]
    record = partners.browse(alice.pk)
    assert record.name == "ACHIENG, ALICE"
    assert record.company_id.id == alice.company_id
    assert partners.search([("is_group", "=", True)], order="name").ids == [
        registry_data["first"].pk,
        registry_data["second"].pk,
    ]
    info = post_json(server, "/web/session/get_session_info", {})
    assert info["error"]["code"] == 100
    assert info["error"]["data"]["name"] == "odoo.http.SessionExpiredException"
