"""Reads of the registry: lazy querysets and single aggregate queries."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Upper

from g2p_registry_base.models import (
    GroupMembership,
    PhoneNumber,
    Registrant,
    RegistrantId,
    normalize_phone,
)
from g2p_registry_base.querysets import birthdate_range_for_age


def registrant_search(*, queryset: QuerySet[Registrant], term: str) -> QuerySet[Registrant]:
    """Registrants whose name contains ``term``, or with an ID value or phone equal to it.

    Lazy; the ID and phone branches are ``EXISTS`` subqueries on indexed columns, so the list
    stays one query however many registrants match.
    """
    term = (term or "").strip()
    if not term:
        return queryset
    # Trunk and international prefixes ("0712…", "00254…") are not part of the E.164 suffix.
    digits = "".join(ch for ch in term if ch.isdigit()).lstrip("0")
    id_match = RegistrantId.objects.filter(registrant=OuterRef("pk"), value=term)
    phone_q = Q(phone_sanitized=term)
    try:
        phone_q |= Q(phone_sanitized=normalize_phone(term))
    except ValidationError:
        pass
    if len(digits) >= 6:
        phone_q |= Q(phone_sanitized__endswith=digits)
    phone_match = PhoneNumber.objects.filter(phone_q, registrant=OuterRef("pk"))
    return queryset.annotate(_name_upper=Upper("name")).filter(
        Q(_name_upper__contains=term.upper()) | Exists(id_match) | Exists(phone_match)
    )


def registrant_list(
    *,
    is_group: bool | None = None,
    include_disabled: bool = True,
    min_age: int | None = None,
    max_age: int | None = None,
    search: str = "",
) -> QuerySet[Registrant]:
    qs = Registrant.objects.registrants()
    if is_group is not None:
        qs = qs.filter(is_group=is_group)
    if not include_disabled:
        qs = qs.enabled()
    if min_age is not None or max_age is not None:
        qs = qs.filter(birthdate_range_for_age(min_age=min_age, max_age=max_age))
    return registrant_search(queryset=qs, term=search)


def group_member_count(*, group_id: int) -> int:
    """Current, enabled members of a group (same rule as the ``member_count`` annotation)."""
    return (
        GroupMembership.objects.current()
        .filter(group_id=group_id, individual__disabled__isnull=True)
        .count()
    )


def registry_counts() -> dict[str, int]:
    """Dashboard figures in one aggregate query."""
    return Registrant.objects.registrants().aggregate(
        individuals=Count("pk", filter=Q(is_group=False)),
        groups=Count("pk", filter=Q(is_group=True)),
        disabled=Count("pk", filter=Q(disabled__isnull=False)),
    )
