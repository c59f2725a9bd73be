"""Eligibility managers: who of a program's candidates may be enrolled (upstream
``g2p.program_membership.manager.*``).

A program's eligibility managers are CHAINED in ``ManagerAssignment.sequence`` order: each one
narrows the queryset the previous one returned, so the whole chain is one SQL statement run
when the caller evaluates (or updates through) the result. With no eligibility manager at all
everyone is eligible (upstream: the chain returns its input).

Rules are Odoo domains over registrants, parsed as literals and compiled to ``Q`` by
:mod:`pbms.domains` over :data:`pbms.domains.REGISTRANT_SCHEMA` — never evaluated. A bad domain
is refused when the manager's configuration is saved.
"""

from __future__ import annotations

from typing import Any

import pydantic
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from g2p_programs.choices import ManagerKind, TargetType
from g2p_programs.registry import BaseManager, ManagerConfig, registry
from pbms.domains import REGISTRANT_SCHEMA, DomainError, compile_domain


def _check_domain(value: str) -> str:
    try:
        compile_domain(value or "[]", schema=REGISTRANT_SCHEMA)
    except DomainError as exc:
        raise ValueError(f"invalid eligibility domain: {exc.message}") from exc
    return value or "[]"


class EligibilityManager(BaseManager):
    """Contract of an eligibility manager.

    Subclasses implement :meth:`registrant_filter`, a ``Q`` over
    :class:`~g2p_registry_base.models.Registrant`; the two public methods derive from it:

    - ``eligible(memberships)`` -> the memberships of THIS program in ``memberships`` whose
      registrant passes; LAZY (returns a filtered QuerySet, runs no query).
    - ``verify_cycle_eligibility(cycle, cycle_memberships)`` -> the cycle memberships of THAT
      cycle whose registrant passes (upstream forgot the cycle filter); lazy too.
    """

    kind = ManagerKind.ELIGIBILITY

    def registrant_filter(self) -> Q:
        raise NotImplementedError

    def _eligible_registrants(self) -> QuerySet[Any]:
        from g2p_registry_base.models import Registrant

        # Every implementation excludes disabled registrants (the contract), whatever its rule.
        return (
            Registrant.objects.filter(disabled__isnull=True)
            .filter(self.registrant_filter())
            .values("pk")
        )

    def eligible(self, memberships: QuerySet[Any]) -> QuerySet[Any]:
        return memberships.filter(
            program_id=self.program.pk, registrant__in=self._eligible_registrants()
        )

    def verify_cycle_eligibility(
        self, cycle: Any, cycle_memberships: QuerySet[Any]
    ) -> QuerySet[Any]:
        return cycle_memberships.filter(
            cycle_id=cycle.pk, registrant__in=self._eligible_registrants()
        )


class DefaultEligibilityConfig(ManagerConfig):
    eligibility_domain: str = pydantic.Field(
        default="[]",
        description="Odoo domain over registrants, e.g. [('age', '>=', 60)].",
    )

    @pydantic.field_validator("eligibility_domain")
    @classmethod
    def check_domain(cls, value: str) -> str:
        return _check_domain(value)


@registry.register
class DefaultEligibilityManager(EligibilityManager):
    """Enabled registrants (``is_registrant``) of the program's target kind matching a domain."""

    key = "default"
    label = "Default Eligibility"
    upstream_model = "g2p.program_membership.manager.default"
    Config = DefaultEligibilityConfig
    config: DefaultEligibilityConfig

    def registrant_filter(self) -> Q:
        return Q(
            disabled__isnull=True,
            is_registrant=True,
            is_group=self.program.target_type == TargetType.GROUP,
        ) & compile_domain(self.config.eligibility_domain, schema=REGISTRANT_SCHEMA)


class IdDocumentEligibilityConfig(ManagerConfig):
    id_types: list[str] = pydantic.Field(
        default_factory=list,
        description="Names of the ID types that count; empty means any ID type.",
    )
    eligibility_domain: str = "[]"

    @pydantic.field_validator("eligibility_domain")
    @classmethod
    def check_domain(cls, value: str) -> str:
        return _check_domain(value)


@registry.register
class IdDocumentEligibilityManager(EligibilityManager):
    """Registrants holding an ID (of the configured types) that has not expired."""

    key = "id_document"
    label = "ID Document Eligibility"
    upstream_model = "g2p.program_membership.manager.id_dedup"
    Config = IdDocumentEligibilityConfig
    config: IdDocumentEligibilityConfig

    def registrant_filter(self) -> Q:
        from g2p_registry_base.models import RegistrantId

        ids = RegistrantId.objects.filter(registrant=OuterRef("pk")).filter(
            Q(expiry_date__isnull=True) | Q(expiry_date__gt=timezone.localdate())
        )
        if self.config.id_types:
            ids = ids.filter(id_type__name__in=self.config.id_types)
        return Q(Exists(ids)) & compile_domain(
            self.config.eligibility_domain, schema=REGISTRANT_SCHEMA
        )


class PhoneEligibilityConfig(ManagerConfig):
    eligibility_domain: str = "[]"

    @pydantic.field_validator("eligibility_domain")
    @classmethod
    def check_domain(cls, value: str) -> str:
        return _check_domain(value)


@registry.register
class PhoneNumberEligibilityManager(EligibilityManager):
    """Registrants with at least one phone number that is not disabled."""

    key = "phone_number"
    label = "Phone Number Eligibility"
    upstream_model = "g2p.program_membership.manager.phone_number"
    Config = PhoneEligibilityConfig
    config: PhoneEligibilityConfig

    def registrant_filter(self) -> Q:
        from g2p_registry_base.models import PhoneNumber

        phones = PhoneNumber.objects.filter(registrant=OuterRef("pk"), disabled__isnull=True)
        return Q(Exists(phones)) & compile_domain(
            self.config.eligibility_domain, schema=REGISTRANT_SCHEMA
        )


def eligibility_managers(program: Any) -> list[EligibilityManager]:
    """The program's active eligibility managers in chain order (one query)."""
    from g2p_programs.models import ManagerAssignment

    assignments = ManagerAssignment.objects.filter(
        program=program, kind=ManagerKind.ELIGIBILITY, active=True
    ).order_by("sequence", "pk")
    return [
        a.manager_class(
            program=program, config=a.manager_class.validate_config(a.config), assignment=a
        )
        for a in assignments
    ]


def chain_eligible(managers: list[EligibilityManager], memberships: QuerySet[Any]) -> QuerySet[Any]:
    """``memberships`` narrowed by every manager in turn; lazy, one SQL statement in the end."""
    for manager in managers:
        memberships = manager.eligible(memberships)
    return memberships


def chain_cycle_eligible(
    managers: list[EligibilityManager], cycle: Any, cycle_memberships: QuerySet[Any]
) -> QuerySet[Any]:
    """``cycle_memberships`` of ``cycle`` narrowed by every manager in turn; lazy."""
    cycle_memberships = cycle_memberships.filter(cycle_id=cycle.pk)
    for manager in managers:
        cycle_memberships = manager.verify_cycle_eligibility(cycle, cycle_memberships)
    return cycle_memberships
