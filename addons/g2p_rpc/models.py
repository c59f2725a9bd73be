"""API keys of the Odoo-compatible RPC API (upstream ``res.users.apikeys``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RpcApiKey(models.Model):
    """A key a user puts where the password goes in ``common.login`` and ``object.execute_kw``.

    As in Odoo 14+, a key is 20 random bytes written as 40 hex characters; the first 8 are kept
    in clear as a lookup index and the whole key only as a salted slow hash
    (:func:`django.contrib.auth.hashers.make_password`). The key is shown once, when it is made
    (:func:`addons.g2p_rpc.keys.api_key_create`). Only the ``rpc`` scope exists.
    """

    SCOPE_RPC = "rpc"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="rpc_api_keys",
        verbose_name=_("user"),
    )
    name = models.CharField(_("description"), max_length=128)
    scope = models.CharField(
        _("scope"), max_length=16, default=SCOPE_RPC, choices=[(SCOPE_RPC, "rpc")]
    )
    index = models.CharField(_("index"), max_length=8, db_index=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=256, editable=False)
    active = models.BooleanField(_("active"), default=True)
    create_date = models.DateTimeField(_("created on"), auto_now_add=True)
    expiration_date = models.DateTimeField(_("expiration date"), null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("RPC API key")
        verbose_name_plural = _("RPC API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.index}…)"


class RpcWizardRecord(models.Model):
    """A record of an upstream transient (wizard) model made over RPC, e.g.
    ``g2p.assign.program.wizard``: its values and context until its action runs. Only the
    user who made it can read it or run its action."""

    model = models.CharField(_("model"), max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    values = models.JSONField(_("values"), default=dict)
    context = models.JSONField(_("context"), default=dict)
    create_date = models.DateTimeField(_("created on"), auto_now_add=True)

    class Meta:
        verbose_name = _("RPC wizard record")

    def __str__(self) -> str:
        return f"{self.model},{self.pk}"
