"""The npm ``odoo-await`` client (XML-RPC on ``/xmlrpc/2``) against the live server.

Needs Node.js; the client is installed next to the script from its lockfile (``npm ci`` in
``addons/g2p_rpc/tests/node``, which ``.ci/run`` runs and the test runs when it is missing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from addons.g2p_rpc.models import RpcExternalId
from g2p_registry_base.models import PhoneNumber, Registrant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NODE_DIR = Path(__file__).parent / "node"


def run_client(server, login, password):  # type: ignore[no-untyped-def]
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "Node.js is needed for the odoo-await client (see .ci/run)"
    if not (NODE_DIR / "node_modules" / "odoo-await").is_dir():
        # an install step, as pip's for the Python clients: the pinned lockfile, once
        npm = shutil.which("npm")
        assert npm, "npm is needed to install the odoo-await client (see .ci/run)"
        subprocess.run(  # noqa: S603 - fixed command
            [npm, "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=NODE_DIR,
            check=True,
            timeout=600,
        )
    options = {"baseUrl": server.url, "db": server.db, "username": login, "password": password}
    done = subprocess.run(  # noqa: S603 - fixed script, loopback server
        [node, str(NODE_DIR / "odoo_await_client.js"), json.dumps(options)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_odoo_await_reads_creates_and_writes(server, registrar, registry_data):
    out = run_client(server, "registrar", "registrar-pass-123")
    nia = Registrant.objects.get(given_name="Nina", family_name="Njeri")
    phone = PhoneNumber.objects.get(registrant=nia)
    assert out == {
        "uid": registrar.pk,
        "groups": [
            {"id": registry_data["first"].pk, "name": "Household Alpha"},
            {"id": registry_data["second"].pk, "name": "Household Beta"},
        ],
        "created": nia.pk,
        "updated": True,
        "read": [
            {
                "id": nia.pk,
                "name": "NJERI, NINA",
                "given_name": "Nina",
                "phone_number_ids": [phone.pk],
            }
        ],
        "byExternalId": nia.pk,
        "refusal": {
            "faultCode": 2,
            "faultString": "given_name: The given name is required.",
        },
    }
    assert phone.phone_sanitized == "+254733000111"
    external_id = RpcExternalId.objects.get(module="__api__", name="nia_njeri")
    assert (external_id.model, external_id.res_id) == ("res.partner", nia.pk)
    nia.refresh_from_db()
    assert nia.given_name == "Nina"


def test_odoo_await_bad_password_is_refused(server, registrar):
    node = shutil.which("node") or shutil.which("nodejs")
    assert node
    options = {"baseUrl": server.url, "db": server.db, "username": "registrar", "password": "x"}
    done = subprocess.run(  # noqa: S603 - fixed script, loopback server
        [node, str(NODE_DIR / "odoo_await_client.js"), json.dumps(options)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "invalid credentials" in done.stderr
    assert not Registrant.objects.filter(family_name="Njeri").exists()
