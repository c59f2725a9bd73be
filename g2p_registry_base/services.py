"""Writes to the registry. Admin, CLI, imports and APIs call these; nothing else changes state.

Every service takes keyword arguments, checks the actor's permission server-side (``actor=None``
means the system itself, e.g. the command line run by the operator), runs in one transaction
and raises :class:`django.core.exceptions.ValidationError` naming the field on bad input, or
:class:`django.core.exceptions.PermissionDenied` on a missing right. On any refusal nothing is
written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from g2p_registry_base.models import (
    BankAccount,
    GroupMembership,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
    RegistrantTag,
    Relationship,
)
from g2p_registry_base.signals import send_registrants_changed

Actor = AbstractUser | AnonymousUser | None

_DB_ERROR_FIELD = re.compile(r"^(?P<field>[a-z_]+): (?P<message>.+)$")


def require_perm(actor: Actor, *perms: str) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` holds every permission (None = system)."""
    if actor is None:
        return
    missing = [p for p in perms if not actor.has_perm(p)]
    if missing:
        raise PermissionDenied(
            _("You are not allowed to do this (missing permission: %s).") % ", ".join(missing)
        )


def validation_error_from_db(exc: IntegrityError) -> ValidationError:
    """Turn an error raised by one of the registry's triggers into a field-named ValidationError.

    Trigger messages are written ``"<field>: <message>"``; other integrity errors keep their text.
    """
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    text = (getattr(diag, "message_primary", None) or str(exc)).strip()
    match = _DB_ERROR_FIELD.match(text)
    if match:
        return ValidationError({match["field"]: match["message"]})
    return ValidationError(text)


def registrant_save(*, registrant: Registrant, actor: Actor) -> Registrant:
    """Create or update a registrant (validated in full)."""
    verb = "change" if registrant.pk else "add"
    model = "group" if registrant.is_group else "individual"
    require_perm(actor, f"g2p_registry_base.{verb}_{model}")
    try:
        with transaction.atomic():
            if _changes_disabled_state(registrant):
                require_perm(actor, "g2p_registry_base.disable_registrant")
            registrant.save()
            send_registrants_changed([registrant.pk])
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    return registrant


def _changes_disabled_state(registrant: Registrant) -> bool:
    """Whether saving ``registrant`` disables or enables it (locks the stored row: one query)."""
    if registrant.pk is None:
        return registrant.disabled is not None
    stored = (
        Registrant.objects.select_for_update()
        .filter(pk=registrant.pk)
        .values_list("disabled", "disabled_reason", "disabled_by_id")
        .first()
    )
    if stored is None:
        return registrant.disabled is not None
    wanted = (registrant.disabled, registrant.disabled_reason or "", registrant.disabled_by_id)
    return tuple(stored) != wanted


def registrants_disable(*, registrant_ids: Sequence[int], reason: str, actor: Actor) -> int:
    """Disable the given registrants, recording when, why and by whom.

    One ``UPDATE``; already disabled registrants keep their original date and reason. Returns the
    number of registrants disabled now. Disabling hides the registrant's memberships from member
    counts and (later) from programs; nothing is deleted.
    """
    require_perm(actor, "g2p_registry_base.disable_registrant")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"disabled_reason": _("A reason is required to disable a registrant.")}
        )
    user_id = getattr(actor, "pk", None)
    with transaction.atomic():
        count = Registrant.objects.filter(
            pk__in=list(registrant_ids), disabled__isnull=True
        ).update(
            disabled=timezone.now(),
            disabled_reason=reason,
            disabled_by_id=user_id,
            write_date=timezone.now(),
        )
        if count:
            send_registrants_changed(registrant_ids)
        return count


def registrants_enable(*, registrant_ids: Sequence[int], actor: Actor) -> int:
    """Enable disabled registrants again (clears date, reason and author). One ``UPDATE``."""
    require_perm(actor, "g2p_registry_base.disable_registrant")
    with transaction.atomic():
        count = Registrant.objects.filter(
            pk__in=list(registrant_ids), disabled__isnull=False
        ).update(disabled=None, disabled_reason="", disabled_by_id=None, write_date=timezone.now())
        if count:
            send_registrants_changed(registrant_ids)
        return count


def membership_save(
    *, membership: GroupMembership, kinds: Iterable[MembershipKind] | None = None, actor: Actor
) -> GroupMembership:
    """Create or update a membership and (when given) set its kinds.

    A unique kind already held by another open membership of the group is refused with
    "Only one Head is allowed per group" on ``kinds``; the database trigger backs this check.
    """
    require_perm(actor, f"g2p_registry_base.{'change' if membership.pk else 'add'}_groupmembership")
    kind_list = list(kinds) if kinds is not None else None
    try:
        with transaction.atomic():
            membership.save()
            if kind_list is not None:
                membership_check_unique_kinds(membership=membership, kinds=kind_list)
                membership.kinds.set(kind_list)
            send_registrants_changed([membership.individual_id])
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    return membership


def membership_check_unique_kinds(
    *, membership: GroupMembership, kinds: Iterable[MembershipKind]
) -> None:
    """Refuse a unique kind another current membership of the group already holds (one query).

    Current = no end date or an end date still ahead, by the clock (not the transaction start,
    so that a head ended earlier in the same transaction has handed over), as the trigger.
    """
    now = timezone.now()
    if membership.ended_date is not None and membership.ended_date <= now:
        return
    unique = [k for k in kinds if k.is_unique]
    if not unique:
        return
    still_current = Q(ended_date__isnull=True) | Q(ended_date__gt=now)
    taken = set(
        GroupMembership.objects.filter(
            still_current, group_id=membership.group_id, kinds__in=unique
        )
        .exclude(pk=membership.pk)
        .values_list("kinds__name", flat=True)
    )
    if taken:
        name = sorted(taken)[0]
        raise ValidationError({"kinds": _("Only one %s is allowed per group") % name})


def membership_end(
    *, membership: GroupMembership, when: Any = None, actor: Actor
) -> GroupMembership:
    """End a membership at ``when`` (default now); it stops counting from that moment."""
    membership.ended_date = when or timezone.now()
    return membership_save(membership=membership, actor=actor)


def reg_id_save(*, reg_id: RegistrantId, actor: Actor) -> RegistrantId:
    require_perm(actor, f"g2p_registry_base.{'change' if reg_id.pk else 'add'}_registrantid")
    with transaction.atomic():
        reg_id.save()
    return reg_id


def phone_save(*, phone: PhoneNumber, actor: Actor) -> PhoneNumber:
    require_perm(actor, f"g2p_registry_base.{'change' if phone.pk else 'add'}_phonenumber")
    with transaction.atomic():
        phone.save()
    return phone


def phones_set_disabled(*, phone_ids: Sequence[int], disabled: bool, actor: Actor) -> int:
    """Disable (or enable) phone numbers; a disabled number is kept but no longer used."""
    require_perm(actor, "g2p_registry_base.change_phonenumber")
    qs = PhoneNumber.objects.filter(pk__in=list(phone_ids))
    with transaction.atomic():
        if disabled:
            return qs.filter(disabled__isnull=True).update(
                disabled=timezone.now(), disabled_by_id=getattr(actor, "pk", None)
            )
        return qs.filter(disabled__isnull=False).update(disabled=None, disabled_by_id=None)


def bank_account_save(*, account: BankAccount, actor: Actor) -> BankAccount:
    """Create or update a registrant's bank account (validated; a duplicate is refused)."""
    require_perm(actor, f"g2p_registry_base.{'change' if account.pk else 'add'}_bankaccount")
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    return account


def tag_save(*, tag: RegistrantTag, actor: Actor) -> RegistrantTag:
    """Create or update a registrant tag (a configuration list: administrators only)."""
    require_perm(actor, f"g2p_registry_base.{'change' if tag.pk else 'add'}_registranttag")
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    return tag


def registrant_tags_set(
    *, registrant: Registrant, tags: Iterable[RegistrantTag], actor: Actor
) -> Registrant:
    """Replace the registrant's tags (editing the registrant: its change permission). At most
    one ``DELETE`` and one ``INSERT`` on the link table; eligibility rules may test tags, so
    the registrant is reported changed."""
    model = "group" if registrant.is_group else "individual"
    require_perm(actor, f"g2p_registry_base.change_{model}")
    wanted = list(tags)
    with transaction.atomic():
        registrant.tags.set(wanted)
        send_registrants_changed([registrant.pk])
    return registrant


def relationship_save(*, relationship: Relationship, actor: Actor) -> Relationship:
    require_perm(actor, f"g2p_registry_base.{'change' if relationship.pk else 'add'}_relationship")
    try:
        with transaction.atomic():
            relationship.save()
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    return relationship


def registrant_delete(*, registrant: Registrant, actor: Actor) -> None:
    """Delete a registrant for good (administrators only; registrars disable instead)."""
    model = "group" if registrant.is_group else "individual"
    require_perm(actor, f"g2p_registry_base.delete_{model}")
    with transaction.atomic():
        # The groups it belonged to lose a member: they change once it is gone.
        groups = list(
            GroupMembership.objects.filter(individual=registrant).values_list("group_id", flat=True)
        )
        registrant.delete()
        send_registrants_changed(groups)
