"""Vouchers of approved entitlements and the key pairs that sign them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from g2p_entitlement_voucher.choices import ALGORITHM, KeyState, VoucherState
from g2p_programs.models import Cycle, Entitlement, Program
from g2p_registry_base.models import Registrant


class VoucherKey(models.Model):
    """An Ed25519 key pair. The private key is stored encrypted (Fernet, keyed from
    ``SECRET_KEY``); only the public part is ever shown or published (JWKS)."""

    kid = models.CharField(_("key id"), max_length=64, unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=16, default=ALGORITHM)
    public_jwk = models.JSONField(_("public key (JWK)"))
    private_key_encrypted = models.BinaryField(editable=False)
    state = models.CharField(_("state"), max_length=16, choices=KeyState.choices)
    created_at = models.DateTimeField(_("created on"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired on"), null=True, blank=True)

    class Meta:
        verbose_name = _("voucher signing key")
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["state"],
                condition=Q(state=KeyState.ACTIVE),
                name="voucherkey_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.get_state_display()})"


class Voucher(models.Model):
    """One voucher per approved entitlement of a program using the ``voucher`` manager.

    The token in its QR code is a compact JWS (Ed25519, deterministic) over the voucher's
    claims, signed with the key ``kid`` that was active when it was issued; it is recomputed
    when needed, never stored.
    """

    entitlement = models.OneToOneField(
        Entitlement, on_delete=models.CASCADE, related_name="voucher", verbose_name=_("entitlement")
    )
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="vouchers")
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="vouchers")
    registrant = models.ForeignKey(
        Registrant, on_delete=models.CASCADE, related_name="vouchers", verbose_name=_("beneficiary")
    )
    code = models.CharField(_("code"), max_length=32, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    kid = models.CharField(_("signing key"), max_length=64)
    state = models.CharField(
        _("state"), max_length=16, choices=VoucherState.choices, default=VoucherState.ISSUED
    )
    issued_at = models.DateTimeField(_("issued on"), auto_now_add=True)
    redeemed_at = models.DateTimeField(_("redeemed on"), null=True, blank=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("redeemed by"),
    )
    redemption_reference = models.CharField(_("redemption reference"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("voucher")
        permissions = [("redeem_voucher", _("Can verify and redeem vouchers"))]
        indexes = [models.Index(fields=["cycle", "id"], name="voucher_cycle_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gte=models.F("valid_from")),
                name="voucher_valid_period",
            ),
            models.CheckConstraint(
                condition=Q(state=VoucherState.REDEEMED, redeemed_at__isnull=False)
                | (~Q(state=VoucherState.REDEEMED) & Q(redeemed_at__isnull=True)),
                name="voucher_redeemed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class VoucherDocument(models.Model):
    """A printable PDF of voucher cards: a cycle's cards in parts of at most one job chunk
    (``first_id``..``last_id`` are voucher ids), so no process holds a whole national cycle."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="voucher_documents")
    part = models.PositiveIntegerField(_("part"))
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    cards = models.PositiveIntegerField(_("cards"))
    content = models.BinaryField(editable=False)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("created on"), auto_now_add=True)

    class Meta:
        verbose_name = _("voucher cards document")
        ordering = ("cycle", "part")
        constraints = [
            models.UniqueConstraint(fields=["cycle", "part"], name="voucherdocument_part_unique")
        ]

    def __str__(self) -> str:
        return f"{self.cycle} — cards part {self.part}"
