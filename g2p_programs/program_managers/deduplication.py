"""Deduplication managers: beneficiaries that are the same person or household (upstream
``g2p.deduplication.manager.*``). Every active one runs; their counts are summed.

Each manager only says what a *key* is (an individual, an ID document, a phone number, a set of
attributes); :func:`g2p_programs.queries.programs.mark_duplicate_memberships` does the work in ONE
statement whatever the program size: ``GROUP BY key HAVING count(*) > 1`` finds the duplicate
sets, ``UPDATE … FROM`` marks memberships, ``INSERT … SELECT`` records the
:class:`~g2p_programs.models.DuplicateGroup` rows. Upstream's rules are kept:

- a set with exactly one enrolled membership keeps that one enrolled, the others become
  duplicated; with none or several enrolled, all do; exited / not_eligible ones are untouched;
- no second duplicate group when an open one of the same manager and reason shares a membership.

Differences from upstream, on purpose:

- one rule for individual and group programs (upstream's ID/phone managers recorded one
  single-membership group per membership and only flipped enrolled ones in individual
  programs);
- in group programs ID / phone / attribute keys are grouped by KEY, so two households whose
  different members share a national ID are duplicates (upstream grouped by individual and
  missed them, quirk 21);
- only enabled registrants, current (not ended) group memberships, IDs without expiry or
  expiring after today and phones that are not disabled count;
- when an officer clears a false match (:func:`g2p_programs.services.programs.duplicate_clear`),
  a later run does not flag that set again as long as it stays inside the cleared group; a new
  membership sharing the key opens a new set, which is flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import pydantic
from psycopg import sql

from g2p_programs.choices import ManagerKind, MembershipState, TargetType
from g2p_programs.queries import programs as queries
from g2p_programs.queries.programs import DedupOutcome
from g2p_programs.registry import BaseManager, ManagerConfig, registry

# Upstream passes [draft, enrolled, eligible, paused, duplicated]; "eligible" does not exist.
DEDUP_STATES = (
    MembershipState.DRAFT,
    MembershipState.ENROLLED,
    MembershipState.PAUSED,
    MembershipState.DUPLICATED,
)

AttributeName = Literal[
    "given_name", "family_name", "addl_name", "name", "birthdate", "gender", "birth_place", "email"
]
_ATTRIBUTE_COLUMNS = {"gender": "gender"}  # the model field gender_id is the column "gender"


class DeduplicationManager(BaseManager):
    """Contract of a deduplication manager.

    ``deduplicate(states)`` marks the program's duplicated memberships in ``states`` and returns
    how many memberships it found in duplicate sets (already marked ones included, as upstream
    counts). A fixed number of statements whatever the size; a re-run changes no row.
    ``last_outcome`` keeps the detail (:class:`DedupOutcome`) of the last run.
    """

    kind = ManagerKind.DEDUPLICATION
    reason: ClassVar[str] = ""
    last_outcome: DedupOutcome | None = None

    def deduplicate(self, states: Sequence[str] = DEDUP_STATES) -> int:
        raise NotImplementedError

    def _run(self, keys: sql.Composable, states: Sequence[str], *, own: bool, via: bool) -> int:
        self.last_outcome = queries.mark_duplicate_memberships(
            program_id=self.program.pk,
            manager_id=getattr(self.assignment, "pk", None),
            states=[str(s) for s in states],
            reason=self.reason,
            keys=keys,
            own=own,
            via_members=via,
        )
        return self.last_outcome.found

    @property
    def is_group_program(self) -> bool:
        return self.program.target_type == TargetType.GROUP


class DefaultDedupConfig(ManagerConfig):
    pass


@registry.register
class DefaultDeduplicationManager(DeduplicationManager):
    """Group programs: an individual currently member of more than one beneficiary group makes
    those groups duplicates. Individual programs: nothing to do (0)."""

    key = "default"
    label = "Default Deduplication"
    upstream_model = "g2p.deduplication.manager.default"
    reason = "Duplicate individuals"
    Config = DefaultDedupConfig

    def deduplicate(self, states: Sequence[str] = DEDUP_STATES) -> int:
        if not self.is_group_program:
            self.last_outcome = DedupOutcome(0, 0, 0)
            return 0
        return self._run(queries.KEYS_INDIVIDUAL, states, own=False, via=True)


class IdDedupConfig(ManagerConfig):
    id_types: list[str] = pydantic.Field(
        default_factory=list,
        description="Names of the ID types compared; empty means every ID type.",
    )


@registry.register
class IdDeduplicationManager(DeduplicationManager):
    """Beneficiaries holding the same ID (type and value). In group programs a group holds its
    own IDs and those of its current members."""

    key = "id"
    label = "ID Deduplication"
    upstream_model = "g2p.deduplication.manager.id_dedup"
    reason = "Duplicate ID Documents"
    Config = IdDedupConfig
    config: IdDedupConfig

    def deduplicate(self, states: Sequence[str] = DEDUP_STATES) -> int:
        keys = queries.keys_id_documents(self.config.id_types)
        return self._run(keys, states, own=True, via=self.is_group_program)


class PhoneDedupConfig(ManagerConfig):
    pass


@registry.register
class PhoneDeduplicationManager(DeduplicationManager):
    """Beneficiaries sharing a phone number (E.164); disabled numbers do not count."""

    key = "phone_number"
    label = "Phone Number Deduplication"
    upstream_model = "g2p.deduplication.manager.phone_number"
    reason = "Duplicate Phone Numbers"
    Config = PhoneDedupConfig

    def deduplicate(self, states: Sequence[str] = DEDUP_STATES) -> int:
        return self._run(queries.KEYS_PHONES, states, own=True, via=self.is_group_program)


class AttributeDedupConfig(ManagerConfig):
    fields: list[AttributeName] = pydantic.Field(
        default_factory=lambda: ["given_name", "family_name", "birthdate"],
        min_length=1,
        description="Individual fields that must all match (case-insensitive).",
    )


@registry.register
class AttributeDeduplicationManager(DeduplicationManager):
    """Individuals whose listed fields all match, ignoring case (beyond upstream). A registrant
    with one of the fields empty never matches. In group programs, groups whose current members
    match are duplicates."""

    key = "attributes"
    label = "Attribute Deduplication"
    reason = "Duplicate Attributes"
    Config = AttributeDedupConfig
    config: AttributeDedupConfig

    def deduplicate(self, states: Sequence[str] = DEDUP_STATES) -> int:
        columns = [_ATTRIBUTE_COLUMNS.get(f, f) for f in dict.fromkeys(self.config.fields)]
        keys = queries.keys_attributes(columns)
        return self._run(keys, states, own=not self.is_group_program, via=self.is_group_program)


def deduplication_managers(program: Any) -> list[DeduplicationManager]:
    """The program's active deduplication managers (one query)."""
    from g2p_programs.models import ManagerAssignment

    assignments = ManagerAssignment.objects.filter(
        program=program, kind=ManagerKind.DEDUPLICATION, active=True
    ).order_by("sequence", "pk")
    return [
        a.manager_class(
            program=program, config=a.manager_class.validate_config(a.config), assignment=a
        )
        for a in assignments
    ]
