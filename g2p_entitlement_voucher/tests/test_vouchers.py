"""Vouchers: issued set-based on approval, signed tokens, verification, atomic redemption and
its refusals, key rotation and the JWKS, printable cards."""

from __future__ import annotations

import base64
import datetime
import io
import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from joserfc import jws
from joserfc.jwk import KeySet
from pypdf import PdfReader

from g2p_entitlement_voucher import keys, services
from g2p_entitlement_voucher.choices import KeyState, VoucherState
from g2p_entitlement_voucher.models import Voucher, VoucherDocument, VoucherKey
from g2p_entitlement_voucher.tests.conftest import voucher_cycle
from g2p_programs.choices import EntitlementState
from g2p_programs.models import Entitlement
from g2p_programs.services import entitlements as entitlement_services

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()


def _state(voucher: Voucher) -> tuple[str, object, object, str]:
    voucher.refresh_from_db()
    return voucher.state, voucher.redeemed_at, voucher.redeemed_by_id, voucher.redemption_reference


def test_approval_issues_one_voucher_per_entitlement(inline) -> None:  # type: ignore[no-untyped-def]
    cycle = voucher_cycle(5)
    vouchers = list(Voucher.objects.filter(cycle=cycle).order_by("entitlement_id"))
    entitlements = list(Entitlement.objects.filter(cycle=cycle).order_by("pk"))
    assert [v.entitlement_id for v in vouchers] == [e.pk for e in entitlements]
    assert {(v.amount, v.currency, v.state) for v in vouchers} == {
        (Decimal("25.00"), entitlements[0].currency, VoucherState.ISSUED)
    }
    # the validity is the entitlement's (the cycle's dates)
    assert [(v.valid_from, v.valid_until) for v in vouchers] == [
        (e.valid_from, e.valid_until) for e in entitlements
    ]
    assert vouchers[0].valid_from == TODAY - datetime.timedelta(days=1)
    assert len({v.code for v in vouchers}) == 5
    assert all(len(v.code) == 16 and v.code.startswith("V") for v in vouchers)
    assert {v.kid for v in vouchers} == {keys.active_key().kid}
    # approving again issues nothing new
    again = entitlement_services.entitlements_approve(cycle=cycle, actor=None)
    assert again.data["approved"] == 0
    assert Voucher.objects.filter(cycle=cycle).count() == 5


def test_issuing_is_one_statement_whatever_the_size(inline) -> None:  # type: ignore[no-untyped-def]
    from g2p_programs.services.entitlements import entitlement_manager

    counts = []
    for n in (10, 1000):
        cycle = voucher_cycle(n, name=f"Size {n}", config={"amount_per_cycle": "5.00",
                              "auto_generate_voucher_on_approval": False})  # fmt: skip
        assert not Voucher.objects.filter(cycle=cycle).exists()
        manager = entitlement_manager(program=cycle.program)
        with CaptureQueriesContext(connection) as ctx:
            issued = manager.generate_vouchers(cycle_id=cycle.pk)
        assert issued == n
        counts.append(len(ctx.captured_queries))
        assert manager.generate_vouchers(cycle_id=cycle.pk) == 0
    assert counts[0] == counts[1]


def test_token_verifies_with_the_published_jwks(inline) -> None:  # type: ignore[no-untyped-def]
    voucher = Voucher.objects.filter(cycle=voucher_cycle(1)).get()
    token = services.voucher_token(voucher)
    assert token == services.voucher_token(voucher)  # deterministic
    keyset = KeySet.import_key_set(keys.jwks())
    verified = jws.deserialize_compact(token, keyset, algorithms=["Ed25519"])
    assert json.loads(verified.payload) == {
        "code": voucher.code,
        "ent": voucher.entitlement_id,
        "sub": voucher.registrant_id,
        "prg": voucher.program_id,
        "amt": "25.00",
        "cur": voucher.currency,
        "nbf": voucher.valid_from.isoformat(),
        "exp": voucher.valid_until.isoformat(),
    }
    assert all("d" not in key for key in keys.jwks()["keys"])  # no private part published


def test_verify_then_redeem_once(inline, redeemer) -> None:  # type: ignore[no-untyped-def]
    voucher = Voucher.objects.filter(cycle=voucher_cycle(1)).get()
    token = services.voucher_token(voucher)
    check = services.voucher_verify(text=token, actor=redeemer)
    assert (check.ok, check.reason, check.voucher) == (True, "", voucher)
    assert check.checks["signature"] == "Good"
    redeemed = services.voucher_redeem(text=token, actor=redeemer, reference="till 4")
    assert (redeemed.state, redeemed.redeemed_by_id, redeemed.redemption_reference) == (
        VoucherState.REDEEMED,
        redeemer.pk,
        "till 4",
    )
    before = _state(voucher)
    with pytest.raises(ValidationError) as refused:
        services.voucher_redeem(text=voucher.code.lower(), actor=redeemer, reference="again")
    assert refused.value.message_dict["voucher"][0].startswith(
        "This voucher was already redeemed on "
    )
    assert _state(voucher) == before


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["amt"] = "2500.00"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_forged_vouchers_are_refused_and_change_nothing(inline, redeemer) -> None:  # type: ignore[no-untyped-def]
    voucher = Voucher.objects.filter(cycle=voucher_cycle(1)).get()
    token = services.voucher_token(voucher)
    # a key nobody here knows, with the same kid
    from joserfc.jwk import OKPKey

    stranger = OKPKey.generate_key("Ed25519")
    foreign = jws.serialize_compact(
        {"alg": "Ed25519", "kid": "someone-else"}, b'{"code":"X"}', stranger, algorithms=["Ed25519"]
    )
    cases = {
        _tamper(token): "Forged voucher: the signature does not match.",
        foreign: "Forged voucher: it is signed with an unknown key.",
        "abc.def.ghi": "This is not a voucher token.",
        "VNOSUCHCODE0000": "No voucher has the code VNOSUCHCODE0000.",
    }
    before = _state(voucher)
    for text, reason in cases.items():
        check = services.voucher_verify(text=text, actor=redeemer)
        assert (check.ok, check.reason) == (False, reason)
        with pytest.raises(ValidationError) as refused:
            services.voucher_redeem(text=text, actor=redeemer)
        assert refused.value.message_dict == {"voucher": [reason]}
    assert _state(voucher) == before


def test_expired_not_yet_valid_and_cancelled_are_refused(inline, redeemer) -> None:  # type: ignore[no-untyped-def]
    cycle = voucher_cycle(3)
    late, early, gone = list(Voucher.objects.filter(cycle=cycle).order_by("pk"))
    Voucher.objects.filter(pk=late.pk).update(
        valid_from=TODAY - datetime.timedelta(days=20),
        valid_until=TODAY - datetime.timedelta(days=1),
    )
    Voucher.objects.filter(pk=early.pk).update(
        valid_from=TODAY + datetime.timedelta(days=2),
        valid_until=TODAY + datetime.timedelta(days=9),
    )
    Entitlement.objects.filter(pk=gone.entitlement_id).update(state=EntitlementState.EXPIRED)
    expected = {
        late: f"This voucher expired on {(TODAY - datetime.timedelta(days=1)).isoformat()}.",
        early: "This voucher is not valid before "
        f"{(TODAY + datetime.timedelta(days=2)).isoformat()}.",
        gone: "The entitlement of this voucher is Expired.",
    }
    for voucher, reason in expected.items():
        voucher.refresh_from_db()
        before = _state(voucher)
        check = services.voucher_verify(text=voucher.code, actor=redeemer)
        assert (check.ok, check.reason) == (False, reason)
        with pytest.raises(ValidationError) as refused:
            services.voucher_redeem(text=services.voucher_token(voucher), actor=redeemer)
        assert refused.value.message_dict == {"voucher": [reason]}
        assert _state(voucher) == before


def test_cancelling_entitlements_cancels_their_vouchers(inline, redeemer) -> None:  # type: ignore[no-untyped-def]
    from g2p_programs.services.entitlements import entitlement_manager

    cycle = voucher_cycle(2)
    entitlement_manager(program=cycle.program).cancel(cycle)
    assert set(Voucher.objects.filter(cycle=cycle).values_list("state", flat=True)) == {
        VoucherState.CANCELLED
    }
    voucher = Voucher.objects.filter(cycle=cycle).first()
    with pytest.raises(ValidationError) as refused:
        services.voucher_redeem(text=voucher.code, actor=redeemer)
    assert refused.value.message_dict == {"voucher": ["This voucher has been cancelled."]}


def test_only_redeemers_redeem(inline, validator_user) -> None:  # type: ignore[no-untyped-def]
    voucher = Voucher.objects.filter(cycle=voucher_cycle(1)).get()
    before = _state(voucher)
    with pytest.raises(PermissionDenied):
        services.voucher_verify(text=voucher.code, actor=validator_user)
    with pytest.raises(PermissionDenied):
        services.voucher_redeem(text=voucher.code, actor=validator_user)
    assert _state(voucher) == before


def test_rotation_keeps_old_vouchers_valid_until_the_key_is_retired(inline, redeemer) -> None:  # type: ignore[no-untyped-def]
    old = Voucher.objects.filter(cycle=voucher_cycle(1, name="Before")).get()
    old_token = services.voucher_token(old)
    first = keys.active_key()
    second = services.voucher_keys_rotate(actor=None)
    first.refresh_from_db()
    assert (first.state, second.state) == (KeyState.VERIFY_ONLY, KeyState.ACTIVE)
    assert VoucherKey.objects.filter(state=KeyState.ACTIVE).count() == 1
    new = Voucher.objects.filter(cycle=voucher_cycle(1, name="After")).get()
    assert (old.kid, new.kid) == (first.kid, second.kid)
    assert services.voucher_verify(text=old_token, actor=redeemer).ok
    assert {k["kid"] for k in keys.jwks()["keys"]} == {first.kid, second.kid}
    with pytest.raises(ValidationError):
        services.voucher_key_retire(key=second, actor=None)  # the active key
    services.voucher_key_retire(key=first, actor=None)
    check = services.voucher_verify(text=old_token, actor=redeemer)
    assert (check.ok, check.reason) == (False, "The key that signed this voucher has been retired.")
    assert {k["kid"] for k in keys.jwks()["keys"]} == {second.kid}
    assert services.voucher_verify(text=services.voucher_token(new), actor=redeemer).ok


def test_private_keys_are_stored_encrypted(inline) -> None:  # type: ignore[no-untyped-def]
    key = keys.active_key()
    stored = bytes(key.private_key_encrypted)
    assert b"PRIVATE KEY" not in stored
    assert "d" not in key.public_jwk


def test_cards_pdf_one_per_beneficiary_and_per_cycle(inline, finance) -> None:  # type: ignore[no-untyped-def]
    cycle = voucher_cycle(10)
    voucher = Voucher.objects.filter(cycle=cycle).order_by("pk").first()
    card = PdfReader(io.BytesIO(services.voucher_card_pdf(voucher=voucher, actor=finance)))
    assert len(card.pages) == 1
    assert voucher.code in card.pages[0].extract_text()
    note = services.cycle_cards_generate(cycle=cycle, actor=finance)
    assert note.message == "10 voucher cards ready."
    document = VoucherDocument.objects.get(cycle=cycle)
    reader = PdfReader(io.BytesIO(bytes(document.content)))
    assert (document.cards, len(reader.pages)) == (10, 2)  # 8 cards per page
    text = "".join(page.extract_text() for page in reader.pages)
    assert all(
        code in text for code in Voucher.objects.filter(cycle=cycle).values_list("code", flat=True)
    )


def test_cycle_cards_of_a_large_cycle_run_as_a_job(inline, settings, finance) -> None:  # type: ignore[no-untyped-def]
    from g2p_programs import jobs

    cycle = voucher_cycle(12)
    settings.G2P_MAX_ROWS_INLINE = 5
    settings.G2P_JOB_CHUNK_SIZE = 5
    note = services.cycle_cards_generate(cycle=cycle, actor=finance)
    assert note.data == {"queued": 12}
    cycle.refresh_from_db()
    assert (cycle.locked, cycle.locked_reason) == (True, "Generating voucher cards of the cycle.")
    from pbms.models import JobProgress

    progress = JobProgress.objects.get(operation="g2p_voucher.cards")
    jobs.operation_execute(progress_id=progress.pk, operation_key="g2p_voucher.cards",
                           holder_id=cycle.pk, params={})  # fmt: skip
    parts = list(VoucherDocument.objects.filter(cycle=cycle).values_list("part", "cards"))
    assert sum(c for _p, c in parts) == 12 and len(parts) > 1
    cycle.refresh_from_db()
    assert cycle.locked is False


def test_validity_days_when_the_entitlement_has_no_end(inline) -> None:  # type: ignore[no-untyped-def]
    from g2p_programs.services.entitlements import entitlement_manager

    cycle = voucher_cycle(
        2,
        config={
            "amount_per_cycle": "5.00",
            "validity_days": 10,
            "auto_generate_voucher_on_approval": False,
        },
    )
    Entitlement.objects.filter(cycle=cycle).update(valid_from=TODAY, valid_until=None)
    assert entitlement_manager(program=cycle.program).generate_vouchers(cycle_id=cycle.pk) == 2
    assert set(Voucher.objects.filter(cycle=cycle).values_list("valid_from", "valid_until")) == {
        (TODAY, TODAY + datetime.timedelta(days=10))
    }
