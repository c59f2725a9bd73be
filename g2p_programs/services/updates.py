"""Edits of a program's and a cycle's own fields (the back-office forms and RPC ``write``).

Upstream's forms decide what may change: a program's name and target type are read-only once
it has ended, its target type once it has beneficiaries; a cycle's name and dates only while
it is a draft. Here those rules hold on the server for every caller, with two more: a
program's currency is fixed once funds or entitlements are recorded in it (they carry it), and
a cycle's draft entitlements follow its new dates (they are valid for the cycle's period).

Each service is keyword-only, checks the actor's permission, locks the row, validates and
either saves everything or raises ``ValidationError`` naming the field, changing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from g2p_programs.choices import CycleState, EntitlementState, ProgramState
from g2p_programs.models import Cycle, Entitlement, Program, ProgramFund, ProgramMembership
from g2p_programs.services.cycles import lock_cycle
from g2p_registry_base.services import Actor, require_perm, validation_error_from_db

PERM = "g2p_programs"

PROGRAM_FIELDS = frozenset(
    {"name", "description", "target_type", "currency", "separation_of_duties"}
)
CYCLE_FIELDS = frozenset({"name", "start_date", "end_date"})


def _unknown(values: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(values) - allowed)
    if extra:
        raise ValidationError({name: _("This field cannot be changed here.") for name in extra})


def program_update(*, program: Program, values: Mapping[str, Any], actor: Actor) -> Program:
    """Change ``values`` (of :data:`PROGRAM_FIELDS`) on ``program``.

    Refused, naming the field: name, target type or currency of an ended program; the target
    type once the program has beneficiaries; the currency once it has funds or entitlements; a
    name another program of the company has (any case); the model's own checks (blank name,
    ISO currency code, target type choices). "Operation in progress: …" while a job holds the
    program. Queries: the row lock, one existence check per guarded field that changes, the
    save.
    """
    require_perm(actor, f"{PERM}.change_program")
    _unknown(values, PROGRAM_FIELDS)
    try:
        with transaction.atomic():
            locked = Program.objects.select_for_update().get(pk=program.pk)
            if locked.locked:
                raise ValidationError(_("Operation in progress: %s") % locked.locked_reason)
            changed = {k: v for k, v in values.items() if getattr(locked, k) != v}
            if "name" in changed and isinstance(changed["name"], str):
                changed["name"] = changed["name"].strip()
            errors: dict[str, str] = {}
            if locked.state == ProgramState.ENDED:
                for name in ("name", "target_type", "currency"):
                    if name in changed:
                        errors[name] = _(
                            "An ended program cannot be changed; re-activate it first."
                        )
            if (
                "target_type" in changed
                and ProgramMembership.objects.filter(program_id=locked.pk).exists()
            ):
                errors.setdefault(
                    "target_type",
                    _("The target type cannot be changed once the program has beneficiaries."),
                )
            if "currency" in changed and (
                ProgramFund.objects.filter(program_id=locked.pk).exists()
                or Entitlement.objects.filter(program_id=locked.pk).exists()
            ):
                errors.setdefault(
                    "currency",
                    _("The currency cannot be changed once funds or entitlements are recorded."),
                )
            if (
                "name" in changed
                and isinstance(changed["name"], str)
                and Program.objects.annotate(lower=Lower("name"))
                .filter(lower=changed["name"].lower(), company_id=locked.company_id)  # type: ignore[misc]
                .exclude(pk=locked.pk)
                .exists()
            ):
                errors.setdefault("name", _("A program with this name already exists."))
            if errors:
                raise ValidationError(errors)
            if changed:
                for name, value in changed.items():
                    setattr(locked, name, value)
                locked.save()
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    for name in (*PROGRAM_FIELDS, "write_date"):
        setattr(program, name, getattr(locked, name))
    return program


def cycle_update(*, cycle: Cycle, values: Mapping[str, Any], actor: Actor) -> Cycle:
    """Change the name and dates (:data:`CYCLE_FIELDS`) of a draft cycle.

    Refused, naming the field: any change once the cycle has left draft ("The Cycle is not in
    draft mode"); an end before the start; a name another cycle of the program has; a blank
    name or date. Entitlements still in draft or pending validation whose validity was the
    cycle's period move with it (one ``UPDATE``). Queries: the row lock (cycle and program),
    one name check, the save and that ``UPDATE``.
    """
    require_perm(actor, f"{PERM}.change_cycle")
    _unknown(values, CYCLE_FIELDS)
    try:
        with transaction.atomic():
            locked = lock_cycle(cycle)
            changed = {k: v for k, v in values.items() if getattr(locked, k) != v}
            if "name" in changed and isinstance(changed["name"], str):
                changed["name"] = changed["name"].strip()
            errors: dict[str, str] = {}
            if changed and locked.state != CycleState.DRAFT:
                errors = {name: _("The Cycle is not in draft mode") for name in sorted(changed)}
                raise ValidationError(errors)
            for name in sorted(changed):
                if changed[name] in (None, ""):
                    errors[name] = _("This field cannot be blank.")
            start = changed.get("start_date", locked.start_date)
            end = changed.get("end_date", locked.end_date)
            if not errors and ("start_date" in changed or "end_date" in changed) and end < start:
                errors["end_date"] = _("The end date cannot be before the start date.")
            if (
                not errors
                and "name" in changed
                and Cycle.objects.filter(program_id=locked.program_id, name=changed["name"])
                .exclude(pk=locked.pk)
                .exists()
            ):
                errors["name"] = _(
                    "Cycle with this name already exists.Please choose a different name."
                )
            if errors:
                raise ValidationError(errors)
            if changed:
                old_start, old_end = locked.start_date, locked.end_date
                for name, value in changed.items():
                    setattr(locked, name, value)
                locked.save()
                if (old_start, old_end) != (locked.start_date, locked.end_date):
                    Entitlement.objects.filter(
                        cycle_id=locked.pk,
                        state__in=[EntitlementState.DRAFT, EntitlementState.PENDING_VALIDATION],
                        valid_from=old_start,
                        valid_until=old_end,
                    ).update(valid_from=locked.start_date, valid_until=locked.end_date)
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    for name in (*CYCLE_FIELDS, "write_date"):
        setattr(cycle, name, getattr(locked, name))
    return cycle
