"""API keys of the REST API."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A secret that lets a program call the REST API as ``user``.

    Only the SHA-256 digest of the key is stored; the key itself is shown once, when it is made
    (:func:`addons.g2p_rest.services.api_key_create`). Keys are 256-bit random values, so a
    plain digest (no salt, no slow hash) cannot be reversed and can be looked up by index.
    ``prefix`` (the first characters of the key) lets an operator tell keys apart.
    """

    name = models.CharField(_("name"), max_length=128)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("user"),
    )
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    key_hash = models.CharField(_("key digest"), max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(_("created on"), auto_now_add=True)
    last_used = models.DateTimeField(_("last used on"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
