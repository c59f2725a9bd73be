"""Making and checking RPC API keys."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from addons.g2p_rpc.models import RpcApiKey

INDEX_LENGTH = 8


def api_key_create(*, user: Any, name: str) -> tuple[RpcApiKey, str]:
    """A new ``rpc`` key for ``user``; returns the record and the key (not stored anywhere)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A description of the key is required."})
    if not user.is_active:
        raise ValidationError("Keys can only be made for active users.")
    key = secrets.token_hex(20)
    record = RpcApiKey.objects.create(
        user=user, name=name, index=key[:INDEX_LENGTH], key_hash=make_password(key)
    )
    return record, key


def api_key_user(*, user: Any, key: str) -> bool:
    """Whether ``key`` is a valid, unexpired ``rpc`` key of ``user``."""
    if len(key) != 40:
        return False
    candidates = RpcApiKey.objects.filter(
        Q(expiration_date__isnull=True) | Q(expiration_date__gt=timezone.now()),
        user=user,
        active=True,
        scope=RpcApiKey.SCOPE_RPC,
        index=key[:INDEX_LENGTH],
    )
    return any(check_password(key, c.key_hash) for c in candidates)
