"""Writes of the REST app: API keys."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from addons.g2p_rest.models import ApiKey

KEY_PREFIX = "g2p_"
# last_used is refreshed at most this often, so busy clients do not write on every call.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_key_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiKey, str]:
    """Make a key for ``user``; returns the row and the key, which is never retrievable again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name, user=user, prefix=raw[: len(KEY_PREFIX) + 6], key_hash=key_digest(raw)
        )
    return key, raw


def api_key_user(*, raw: str) -> AbstractBaseUser | None:
    """The active user of an active key, or None.

    One query, plus one ``UPDATE`` of ``last_used`` at most once a minute.
    """
    if not raw or not raw.isascii():
        return None
    key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=key_digest(raw), active=True, user__is_active=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used is None or now - key.last_used >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used=now)
    return key.user


def api_key_deactivate(*, key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk).update(active=False)
