"""Choices and constants of the registry."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegIdStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    INVALID = "invalid", _("Invalid")


class PartnerType(models.TextChoices):
    """Registrant types a relationship type may join (upstream ``get_partner_types``)."""

    GROUP = "g", _("Group")
    INDIVIDUAL = "i", _("Individual")


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Ended")


HEAD_KIND_NAME = "Head"

# Age bands offered by the list filters: (key, label, min years, max years inclusive or None).
AGE_BANDS: list[tuple[str, str, int, int | None]] = [
    ("0-4", "0–4", 0, 4),
    ("5-17", "5–17", 5, 17),
    ("18-59", "18–59", 18, 59),
    ("60+", "60 and over", 60, None),
]

ROLE_ADMIN = "Registry Administrator"
ROLE_REGISTRAR = "Registrar"
ROLE_VIEWER = "Registry Viewer"
