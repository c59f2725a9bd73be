"""Kinds of PMT indicators and the eligibility direction."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IndicatorSource(models.TextChoices):
    """Where an indicator's value is read from."""

    FIELD = "field", _("Registrant field")
    INFO = "info", _("Additional information key")


class ValueType(models.TextChoices):
    """How the value read is turned into a number before it is weighted."""

    NUMBER = "number", _("Number")
    BOOLEAN = "boolean", _("Yes / no (1 or 0)")
    CHOICE = "choice", _("Choice (value mapped to a number)")


class Aggregate(models.TextChoices):
    """For group programs: how the values of the group's current members are combined.

    ``own`` reads the registrant itself (the individual, or the group's own data)."""

    OWN = "own", _("The registrant's own value")
    COUNT = "count", _("Number of members (with a non-zero value when a key is given)")
    SUM = "sum", _("Sum over members")
    ANY = "any", _("1 if any member has a non-zero value")
    ALL = "all", _("1 if every member has a non-zero value")


class Direction(models.TextChoices):
    """Which side of the threshold is eligible."""

    AT_OR_BELOW = "at_or_below", _("Score at or below the threshold")
    ABOVE = "above", _("Score above the threshold")


# Registrant columns an indicator of source "field" may read (a whitelist: nothing else of the
# table is reachable). ``age`` is whole years since ``birthdate`` on the day of computing.
NUMERIC_FIELDS = ("income", "age")
