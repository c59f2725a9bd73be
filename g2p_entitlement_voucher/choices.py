"""States of a voucher and of a signing key."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class VoucherState(models.TextChoices):
    ISSUED = "issued", _("Issued")
    REDEEMED = "redeemed", _("Redeemed")
    CANCELLED = "cancelled", _("Cancelled")


class KeyState(models.TextChoices):
    """``active``: signs new vouchers (exactly one); ``verify_only``: an older key whose
    vouchers still verify; ``retired``: its vouchers no longer verify."""

    ACTIVE = "active", _("Active (signs new vouchers)")
    VERIFY_ONLY = "verify_only", _("Verifies only")
    RETIRED = "retired", _("Retired")


ALGORITHM = "Ed25519"
