"""Authentication: API keys (Bearer or X-API-Key) and HTTP Basic; 401 otherwise."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from addons.g2p_rest.models import ApiKey
from addons.g2p_rest.services import api_key_create, api_key_deactivate, key_digest
from addons.g2p_rest.tests.conftest import basic
from g2p_registry_base.models import Registrant

pytestmark = pytest.mark.django_db

URL = "/api/v1/registry/individual"
UNAUTHORIZED = {"detail": "Authentication credentials were not provided or are invalid."}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("viewer", "wrong"),
        basic("nobody", "x"),
        {"HTTP_AUTHORIZATION": "Bearer g2p_not-a-key"},
        {"HTTP_X_API_KEY": "g2p_not-a-key"},
        {"HTTP_AUTHORIZATION": "Basic !!!"},
    ],
)
def test_missing_or_bad_credentials_are_401(client, viewer, headers):
    response = client.get(URL, **headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Basic")


def test_basic_auth_with_a_django_user(client, as_viewer):
    response = client.get(URL, **as_viewer)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "limit": 50, "offset": 0, "items": []}


def test_inactive_user_is_401(client, viewer, as_viewer):
    viewer.is_active = False
    viewer.save()
    assert client.get(URL, **as_viewer).status_code == 401


def test_api_key_is_stored_hashed_and_works_as_bearer_and_header(client, viewer):
    key, raw = api_key_create(user=viewer, name="MIS sync")
    assert raw.startswith("g2p_") and len(raw) > 40
    assert key.key_hash == key_digest(raw) and raw not in (key.key_hash, key.prefix)
    assert raw.startswith(key.prefix)
    assert key.last_used is None
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    key.refresh_from_db()
    assert key.last_used is not None
    assert client.get(URL, HTTP_X_API_KEY=raw).status_code == 200


def test_deactivated_key_or_user_is_401(client, viewer):
    key, raw = api_key_create(user=viewer, name="old")
    api_key_deactivate(key=key)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    _key2, raw2 = api_key_create(user=viewer, name="new")
    viewer.is_active = False
    viewer.save()
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw2}").status_code == 401


def test_key_rights_are_the_users_rights(client, viewer):
    _key, raw = api_key_create(user=viewer, name="read only")
    response = client.post(
        URL,
        '{"given_name": "A", "family_name": "B"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 403
    assert Registrant.objects.count() == 0


def test_command_prints_the_key_once(client, viewer):
    out = io.StringIO()
    call_command("g2p_api_key", "viewer", "cli key", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip()
    key = ApiKey.objects.get()
    assert (key.name, key.user, key.key_hash) == ("cli key", viewer, key_digest(raw))
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_admin_add_shows_the_key_once(client, admin_user, viewer):
    client.force_login(admin_user)
    response = client.post(
        "/admin/g2p_rest/apikey/add/",
        {"name": "from admin", "user": viewer.pk, "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) >= 1
    raw = next(w for m in shown for w in m.split() if w.startswith(key.prefix))
    assert key_digest(raw) == key.key_hash
    page = client.get(f"/admin/g2p_rest/apikey/{key.pk}/change/")
    assert raw not in page.content.decode()
