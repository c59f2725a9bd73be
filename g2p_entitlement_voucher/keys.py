"""The signing keys of vouchers: creation, rotation, retirement, signing and verifying.

Private keys are kept encrypted with a Fernet key derived from ``SECRET_KEY`` (changing the
secret makes the stored private keys unusable: rotate after changing it). Public keys are
published as a JWKS (RFC 7517) for any verifier; tokens are compact JWS (RFC 7515) with the
fully specified ``Ed25519`` algorithm (RFC 9864), deterministic, so a voucher's token is the
same every time it is printed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from g2p_entitlement_voucher.choices import ALGORITHM, KeyState
from g2p_entitlement_voucher.models import VoucherKey


class TokenError(ValueError):
    """A token that cannot be trusted; the message says why."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"g2p-voucher-keys:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def key_create(*, activate: bool = True) -> VoucherKey:
    """A new key pair; with ``activate`` it becomes the signing key and the previous active
    key turns ``verify_only`` (its vouchers keep verifying). One transaction."""
    kid = f"v{timezone.now():%Y%m%d}-{secrets.token_hex(4)}"
    pair = OKPKey.generate_key("Ed25519", parameters={"kid": kid})
    with transaction.atomic():
        if activate:
            VoucherKey.objects.select_for_update().filter(state=KeyState.ACTIVE).update(
                state=KeyState.VERIFY_ONLY
            )
        return VoucherKey.objects.create(
            kid=kid,
            algorithm=ALGORITHM,
            public_jwk=pair.as_dict(private=False),
            private_key_encrypted=_fernet().encrypt(pair.as_pem(private=True)),
            state=KeyState.ACTIVE if activate else KeyState.VERIFY_ONLY,
        )


def active_key() -> VoucherKey:
    """The signing key, created on first use."""
    with transaction.atomic():
        key = VoucherKey.objects.filter(state=KeyState.ACTIVE).first()
        return key or key_create()


def key_retire(*, key: VoucherKey) -> VoucherKey:
    """Vouchers signed with ``key`` stop verifying. The active key cannot be retired (rotate
    first)."""
    if key.state == KeyState.ACTIVE:
        raise ValueError("The active signing key cannot be retired; rotate the keys first.")
    VoucherKey.objects.filter(pk=key.pk).update(state=KeyState.RETIRED, retired_at=timezone.now())
    key.refresh_from_db()
    return key


def jwks() -> dict[str, Any]:
    """The public keys that verify vouchers (active and verify-only), as a JWKS document."""
    keys = VoucherKey.objects.exclude(state=KeyState.RETIRED).order_by("-created_at")
    return {"keys": [{**k.public_jwk, "alg": k.algorithm, "use": "sig"} for k in keys]}


class Signer:
    """Signs many tokens with the keys loaded once (one query per distinct kid)."""

    def __init__(self) -> None:
        self._keys: dict[str, OKPKey] = {}

    def _private(self, kid: str) -> OKPKey:
        if kid not in self._keys:
            row = VoucherKey.objects.get(kid=kid)
            self._keys[kid] = OKPKey.import_key(_fernet().decrypt(bytes(row.private_key_encrypted)))
        return self._keys[kid]

    def sign(self, claims: dict[str, Any], kid: str) -> str:
        payload = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
        return jws.serialize_compact(
            {"alg": ALGORITHM, "kid": kid}, payload, self._private(kid), algorithms=[ALGORITHM]
        )


def token_verify(token: str) -> tuple[dict[str, Any], str]:
    """The claims and kid of a genuine token; :class:`TokenError` naming the reason otherwise
    (malformed, unknown or retired key, bad signature)."""
    token = (token or "").strip()
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, TypeError) as exc:
        raise TokenError("This is not a voucher token.") from exc
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise TokenError("This is not a voucher token.")
    key = VoucherKey.objects.filter(kid=kid).first()
    if key is None:
        raise TokenError("Forged voucher: it is signed with an unknown key.")
    if key.state == KeyState.RETIRED:
        raise TokenError("The key that signed this voucher has been retired.")
    try:
        verified = jws.deserialize_compact(
            token, OKPKey.import_key(key.public_jwk), algorithms=[ALGORITHM]
        )
        claims = json.loads(verified.payload)
    except (JoseError, ValueError) as exc:
        raise TokenError("Forged voucher: the signature does not match.") from exc
    if not isinstance(claims, dict):
        raise TokenError("This is not a voucher token.")
    return claims, kid
