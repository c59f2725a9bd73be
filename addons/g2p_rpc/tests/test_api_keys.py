"""API keys in place of the password, with odoo-client-lib and plain XML-RPC."""

from __future__ import annotations

import io
import xmlrpc.client

import odoolib
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from addons.g2p_rpc import dispatch
from addons.g2p_rpc.models import RpcApiKey

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def make_key(username: str, name: str) -> str:
    out = io.StringIO()
    call_command("g2p_rpc_key", username, name, stdout=out)
    return out.getvalue().strip()


def test_key_is_printed_once_and_stored_hashed(registrar):
    key = make_key("registrar", "Nightly export")
    assert len(key) == 40
    int(key, 16)
    record = RpcApiKey.objects.get()
    assert record.user == registrar
    assert record.name == "Nightly export"
    assert record.scope == "rpc"
    assert record.index == key[:8]
    assert key not in record.key_hash
    with pytest.raises(CommandError, match="No user 'nobody'"):
        make_key("nobody", "x")


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc"])
def test_odoolib_logs_in_with_a_key(server, registrar, registry_data, protocol):
    key = make_key("registrar", "Integration")
    connection = odoolib.get_connection(
        hostname=server.host,
        protocol=protocol,
        port=server.port,
        database=server.db,
        login="registrar",
        password=key,
    )
    partners = connection.get_model("res.partner")
    rows = partners.search_read([["id", "=", registry_data["alice"].pk]], ["given_name"])
    assert rows == [{"id": registry_data["alice"].pk, "given_name": "Alice"}]
    assert connection.user_id == registrar.pk


def test_revoked_or_foreign_key_is_refused(server, registrar, viewer):
    key = make_key("registrar", "Old")
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    assert common.authenticate(server.db, "registrar", key, {}) == registrar.pk
    # someone else's login with this key
    assert common.authenticate(server.db, "viewer", key, {}) is False
    RpcApiKey.objects.update(active=False)
    dispatch._checked.clear()
    assert common.authenticate(server.db, "registrar", key, {}) is False
    obj = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
    with pytest.raises(xmlrpc.client.Fault) as fault:
        obj.execute_kw(server.db, registrar.pk, key, "res.partner", "search", [[]])
    assert fault.value.faultCode == 3
    # the password still works
    assert (
        obj.execute_kw(server.db, registrar.pk, "registrar-pass-123", "res.partner", "search", [[]])
        == []
    )
