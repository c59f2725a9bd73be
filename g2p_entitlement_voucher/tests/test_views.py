"""The JWKS URL, the service providers' page and the back office pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from g2p_entitlement_voucher import keys, services
from g2p_entitlement_voucher.choices import KeyState, VoucherState
from g2p_entitlement_voucher.models import Voucher, VoucherKey
from g2p_entitlement_voucher.tests.conftest import voucher_cycle

pytestmark = pytest.mark.django_db


def test_jwks_is_public(client) -> None:  # type: ignore[no-untyped-def]
    key = keys.active_key()
    response = client.get("/voucher/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == {"keys": [{**key.public_jwk, "alg": "Ed25519", "use": "sig"}]}


def test_redeem_page(client, inline, redeemer, validator_user) -> None:  # type: ignore[no-untyped-def]
    voucher = Voucher.objects.filter(cycle=voucher_cycle(1)).get()
    url = reverse("g2p_voucher:verify")
    assert client.get(url).status_code == 302  # log in first
    client.force_login(validator_user)
    assert client.get(url).status_code == 403
    client.force_login(redeemer)
    page = client.post(url, {"voucher": services.voucher_token(voucher), "action": "verify"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Good: this voucher can be redeemed." in html and voucher.code in html
    page = client.post(url, {"voucher": voucher.code, "action": "redeem", "reference": "R-1"})
    assert page.status_code == 200
    assert f"Voucher {voucher.code} redeemed." in page.content.decode()
    voucher.refresh_from_db()
    assert (voucher.state, voucher.redemption_reference) == (VoucherState.REDEEMED, "R-1")
    page = client.post(url, {"voucher": voucher.code, "action": "redeem"})
    assert page.status_code == 422
    assert "Not redeemed:" in page.content.decode()
    voucher.refresh_from_db()
    assert voucher.redemption_reference == "R-1"


def test_back_office_pages(client, admin_user, inline) -> None:  # type: ignore[no-untyped-def]
    cycle = voucher_cycle(3)
    voucher = Voucher.objects.filter(cycle=cycle).order_by("pk").first()
    client.force_login(admin_user)
    assert (
        client.get(reverse("admin:g2p_entitlement_voucher_voucher_changelist")).status_code == 200
    )
    detail = client.get(reverse("admin:g2p_entitlement_voucher_voucher_change", args=[voucher.pk]))
    assert detail.status_code == 200 and "<svg" in detail.content.decode()
    card = client.get(reverse("admin:g2p_entitlement_voucher_voucher_card", args=[voucher.pk]))
    assert card["Content-Type"] == "application/pdf" and card.content.startswith(b"%PDF")
    generate = reverse("admin:g2p_entitlement_voucher_voucherdocument_generate_for_cycle")
    assert client.get(f"{generate}?cycle={cycle.pk}").status_code == 302
    document = cycle.voucher_documents.get()
    download = client.get(
        reverse("admin:g2p_entitlement_voucher_voucherdocument_download", args=[document.pk])
    )
    assert download.content == bytes(document.content)
    keys_url = reverse("admin:g2p_entitlement_voucher_voucherkey_changelist")
    page = client.get(keys_url)
    assert page.status_code == 200 and "PRIVATE" not in page.content.decode()
    before = VoucherKey.objects.count()
    assert client.get(reverse("admin:g2p_entitlement_voucher_voucherkey_rotate")).status_code == 302
    assert VoucherKey.objects.count() == before + 1
    assert VoucherKey.objects.filter(state=KeyState.ACTIVE).count() == 1
