"""Model managers and querysets of the registry (Django's "managers", not PBMS managers)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import models
from django.db.models import Count, DateField, F, Func, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Now
from django.utils import timezone


def years_before(day: datetime.date, years: int) -> datetime.date:
    """``day`` moved back by whole calendar years (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class Age(Func):
    """Whole years between ``birthdate`` and today, computed by PostgreSQL at query time.

    Calendar-correct (PostgreSQL ``age()``), so it is never stale the way a stored age is.
    """

    template = "date_part('year', age(%(expressions)s))::integer"
    output_field = IntegerField()

    def __init__(self, birthdate: Any, *, today: datetime.date | None = None, **extra: Any) -> None:
        # The calendar day of the active time zone, as Registrant.age and
        # birthdate_range_for_age use; CURRENT_DATE would be the day in UTC.
        today_value = Value(today or timezone.localdate(), output_field=DateField())
        super().__init__(today_value, birthdate, **extra)


def birthdate_range_for_age(
    *, min_age: int | None, max_age: int | None, today: datetime.date | None = None
) -> Q:
    """A sargable filter on ``birthdate`` for ``min_age <= age <= max_age`` (index-friendly)."""
    today = today or timezone.localdate()
    q = Q(birthdate__isnull=False)
    if min_age is not None:
        q &= Q(birthdate__lte=years_before(today, min_age))
    if max_age is not None:
        q &= Q(birthdate__gt=years_before(today, max_age + 1))
    return q


class RegistrantQuerySet(models.QuerySet):
    def registrants(self) -> RegistrantQuerySet:
        return self.filter(is_registrant=True)

    def individuals(self) -> RegistrantQuerySet:
        return self.filter(is_registrant=True, is_group=False)

    def groups(self) -> RegistrantQuerySet:
        return self.filter(is_registrant=True, is_group=True)

    def enabled(self) -> RegistrantQuerySet:
        return self.filter(disabled__isnull=True)

    def with_age(self) -> RegistrantQuerySet:
        return self.annotate(age=Age(F("birthdate")))

    def with_member_count(self) -> RegistrantQuerySet:
        """Annotate ``member_count``: current members who are not disabled (one subquery).

        A membership counts while it has no end date or its end date is still ahead; each
        membership counts once however many kinds it holds (upstream counted it once per kind).
        """
        from g2p_registry_base.models import GroupMembership

        counts = (
            GroupMembership.objects.filter(group=OuterRef("pk"), individual__disabled__isnull=True)
            .filter(Q(ended_date__isnull=True) | Q(ended_date__gt=Now()))
            .order_by()
            .values("group")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(
            member_count=Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))
        )


class GroupMembershipQuerySet(models.QuerySet):
    def current(self) -> GroupMembershipQuerySet:
        """Memberships that have not ended (no end date, or an end date still ahead)."""
        return self.filter(Q(ended_date__isnull=True) | Q(ended_date__gt=Now()))

    def ended(self) -> GroupMembershipQuerySet:
        return self.filter(ended_date__isnull=False, ended_date__lte=Now())

    def visible(self) -> GroupMembershipQuerySet:
        """Memberships whose group and individual are both enabled (upstream's record rules)."""
        return self.filter(group__disabled__isnull=True, individual__disabled__isnull=True)
