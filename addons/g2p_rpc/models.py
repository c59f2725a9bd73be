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


class RpcExternalId(models.Model):
    """An external identifier (upstream ``ir.model.data``): ``module.name`` naming one record
    of a model the RPC API exposes (``model`` is its Odoo name, ``res_id`` its id).

    Rows marked ``builtin`` name the server's own records (``base.main_company``, the roles,
    the seeded membership and group kinds, the registry's configuration lists) and are kept by
    :func:`addons.g2p_rpc.xmlids.xmlids_sync_builtin`; clients cannot change them. Clients add
    their own (OdooRPC, Odooly ``_set_external_id``, odoo-await ``createExternalId``).
    """

    module = models.CharField(_("module"), max_length=128)
    name = models.CharField(_("name"), max_length=255)
    model = models.CharField(_("model"), max_length=128)
    res_id = models.BigIntegerField(_("record id"))
    noupdate = models.BooleanField(_("non updatable"), default=False)
    builtin = models.BooleanField(_("built in"), default=False, editable=False)
    create_date = models.DateTimeField(_("created on"), auto_now_add=True)
    write_date = models.DateTimeField(_("last updated on"), auto_now=True)

    class Meta:
        ordering = ["module", "name"]
        verbose_name = _("external identifier")
        constraints = [
            models.UniqueConstraint(fields=["module", "name"], name="rpc_external_id_unique"),
        ]
        indexes = [models.Index(fields=["model", "res_id"], name="rpc_external_id_target_idx")]

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"
