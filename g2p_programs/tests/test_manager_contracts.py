"""Contract tests every manager implementation inherits: parametrized over ``registry.keys``,
so a newly registered eligibility / deduplication / program / notification manager is tested
without writing a line."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from g2p_programs.choices import ManagerKind, MembershipState
from g2p_programs.factories import (
    ProgramMembershipFactory,
    beneficiaries_bulk_create,
    program_with_managers,
)
from g2p_programs.models import DuplicateGroup, ProgramMembership
from g2p_programs.program_managers.deduplication import deduplication_managers
from g2p_programs.program_managers.eligibility import eligibility_managers
from g2p_programs.registry import registry
from g2p_programs.services.programs import program_deduplicate, program_enroll_eligible
from g2p_registry_base.factories import IndividualFactory, PhoneNumberFactory, RegistrantIdFactory
from g2p_registry_base.services import registrants_disable

pytestmark = pytest.mark.django_db

KINDS = [
    ManagerKind.PROGRAM,
    ManagerKind.ELIGIBILITY,
    ManagerKind.DEDUPLICATION,
    ManagerKind.CYCLE,
    ManagerKind.NOTIFICATION,
]


def _all(kinds):  # type: ignore[no-untyped-def]
    return [(k, key) for k in kinds for key in registry.keys(k)]


@pytest.mark.parametrize(("kind", "key"), _all(KINDS))
def test_registered_under_its_key_and_config_round_trips(kind, key) -> None:  # type: ignore[no-untyped-def]
    cls = registry.get(kind, key)
    assert cls.key == key and cls.kind == kind and cls.label
    schema = cls.Config.model_json_schema()
    assert schema["type"] == "object" and schema.get("additionalProperties") is False
    dumped = cls.Config().model_dump(mode="json")
    assert cls.Config.model_validate(dumped).model_dump(mode="json") == dumped
    assert cls.validate_config(dumped).model_dump(mode="json") == dumped


# --- eligibility --------------------------------------------------------------------------------


def _eligibility_program(key: str, n: int):  # type: ignore[no-untyped-def]
    program = program_with_managers(eligibility=[key], deduplication=[])
    beneficiaries_bulk_create(program, n)
    return program


@pytest.mark.parametrize("key", registry.keys(ManagerKind.ELIGIBILITY))
def test_eligibility_filter_is_lazy(key: str) -> None:
    program = _eligibility_program(key, 10)
    managers = eligibility_managers(program)
    base = ProgramMembership.objects.filter(program=program)
    with CaptureQueriesContext(connection) as ctx:
        eligible = managers[0].eligible(base)
    assert len(ctx.captured_queries) == 0
    assert isinstance(eligible, QuerySet) and eligible._result_cache is None
    with CaptureQueriesContext(connection) as ctx:
        assert eligible.count() == 10
    assert len(ctx.captured_queries) == 1


@pytest.mark.parametrize("key", registry.keys(ManagerKind.ELIGIBILITY))
def test_eligibility_query_count_is_the_same_for_10_and_1000(key: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.G2P_MAX_ROWS_INLINE = 10_000  # the inline path; the job path: test_jobs.py
    counts = []
    for n in (10, 1000):
        program = _eligibility_program(key, n)
        with CaptureQueriesContext(connection) as ctx:
            note = program_enroll_eligible(program=program, actor=None)
        counts.append(len(ctx.captured_queries))
        assert note.data["enrolled"] == n
    assert counts[0] == counts[1]


@pytest.mark.parametrize("key", registry.keys(ManagerKind.ELIGIBILITY))
def test_eligibility_second_run_changes_nothing_and_skips_disabled_and_duplicated(
    key: str,
) -> None:
    program = _eligibility_program(key, 10)
    disabled = IndividualFactory()
    RegistrantIdFactory(registrant=disabled)
    PhoneNumberFactory(registrant=disabled)
    m_disabled = ProgramMembershipFactory(program=program, registrant=disabled)
    registrants_disable(registrant_ids=[disabled.pk], reason="Deceased", actor=None)
    dup_person = IndividualFactory()
    RegistrantIdFactory(registrant=dup_person)
    PhoneNumberFactory(registrant=dup_person)
    m_dup = ProgramMembershipFactory(
        program=program, registrant=dup_person, state=MembershipState.DUPLICATED
    )
    first = program_enroll_eligible(program=program, actor=None)
    assert first.data == {"enrolled": 10, "not_eligible": 1}
    second = program_enroll_eligible(program=program, actor=None)
    assert second.data == {"enrolled": 0, "not_eligible": 0}
    m_disabled.refresh_from_db()
    m_dup.refresh_from_db()
    assert m_disabled.state == MembershipState.NOT_ELIGIBLE
    assert m_dup.state == MembershipState.DUPLICATED


# --- deduplication ------------------------------------------------------------------------------


def _dedup_program(key: str, n: int):  # type: ignore[no-untyped-def]
    target = "group" if key == "default" else "individual"
    program = program_with_managers(target_type=target, eligibility=[], deduplication=[key])
    beneficiaries_bulk_create(program, n)
    return program


@pytest.mark.parametrize("key", registry.keys(ManagerKind.DEDUPLICATION))
def test_dedup_query_count_is_the_same_for_10_and_1000(key: str) -> None:
    counts = []
    for n in (10, 1000):
        program = _dedup_program(key, n)
        (manager,) = deduplication_managers(program)
        with CaptureQueriesContext(connection) as ctx:
            manager.deduplicate()
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == 1


@pytest.mark.parametrize("key", registry.keys(ManagerKind.DEDUPLICATION))
def test_dedup_second_run_changes_nothing(key: str) -> None:
    program = _dedup_program(key, 10)
    program_deduplicate(program=program, actor=None)
    states = dict(ProgramMembership.objects.filter(program=program).values_list("pk", "state"))
    groups = DuplicateGroup.objects.count()
    second = program_deduplicate(program=program, actor=None)
    assert second.data["marked"] == 0 and second.data["groups_created"] == 0
    assert DuplicateGroup.objects.count() == groups
    assert (
        dict(ProgramMembership.objects.filter(program=program).values_list("pk", "state")) == states
    )


@pytest.mark.parametrize("key", ["id", "phone_number", "attributes"])
def test_dedup_finds_the_pairs_and_skips_disabled(key: str) -> None:
    program = _dedup_program(key, 10)
    # a disabled registrant sharing the first pair's keys is not counted
    first = ProgramMembership.objects.filter(program=program).order_by("pk").first()
    registrants_disable(registrant_ids=[first.registrant_id], reason="Moved", actor=None)
    note = program_deduplicate(program=program, actor=None)
    assert note.data["found"] == 8 and note.data["groups_created"] == 4
    assert note.message == "8 Instances of Beneficiaries duplicate."
    first.refresh_from_db()
    assert first.state == MembershipState.DRAFT
    assert ProgramMembership.objects.filter(state=MembershipState.DUPLICATED).count() == 8


# --- program ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", registry.keys(ManagerKind.PROGRAM))
def test_program_manager_enrolment_query_count_and_second_run(key: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.G2P_MAX_ROWS_INLINE = 10_000  # the inline path; the job path: test_jobs.py
    counts = []
    for n in (10, 1000):
        program = program_with_managers(program=None, eligibility=["default"], deduplication=[])
        program.managers.filter(kind=ManagerKind.PROGRAM).update(manager_key=key)
        beneficiaries_bulk_create(program, n)
        with CaptureQueriesContext(connection) as ctx:
            note = program_enroll_eligible(program=program, actor=None)
        counts.append(len(ctx.captured_queries))
        assert note.data == {"enrolled": n, "not_eligible": 0}
        again = program_enroll_eligible(program=program, actor=None)
        assert again.data == {"enrolled": 0, "not_eligible": 0}
        assert again.message == "No new beneficiaries enrolled."
    assert counts[0] == counts[1]


# --- cycle --------------------------------------------------------------------------------------


def _enrolled_program(n: int):  # type: ignore[no-untyped-def]
    program = program_with_managers(eligibility=["default"], deduplication=[], cycle="default")
    beneficiaries_bulk_create(program, n)
    ProgramMembership.objects.filter(program=program).update(
        state=MembershipState.ENROLLED, enrollment_date=timezone.now()
    )
    return program


@pytest.mark.parametrize("key", registry.keys(ManagerKind.CYCLE))
def test_cycle_manager_steps_query_count_and_second_run(key: str, settings) -> None:  # type: ignore[no-untyped-def]
    from g2p_programs.services import cycles

    settings.G2P_MAX_ROWS_INLINE = 10_000  # the inline path; the job path: test_jobs_operations
    counts = []
    for n in (10, 1000):
        program = _enrolled_program(n)
        program.managers.filter(kind=ManagerKind.CYCLE).update(manager_key=key)
        with CaptureQueriesContext(connection) as ctx:
            cycle, note = cycles.program_create_new_cycle(program=program, actor=None)
            check = cycles.cycle_check_eligibility(cycle=cycle, actor=None)
        counts.append(len(ctx.captured_queries))
        assert note.data["beneficiaries"] == n
        assert check.data == {"enrolled": 0, "not_eligible": 0}
        again = cycles.cycle_copy_beneficiaries(cycle=cycle, actor=None)
        assert again.message == "No beneficiaries to import."
        assert cycle.memberships.count() == n
    assert counts[0] == counts[1]


# --- notification -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", registry.keys(ManagerKind.NOTIFICATION))
def test_notification_events_query_count_is_the_same_for_10_and_1000(key: str) -> None:
    from g2p_programs.program_managers.notification import EVENTS, notify

    assert set(EVENTS) == {"enrolled", "cycle_approved", "entitlements_approved", "payments_sent"}
    counts = []
    for n in (10, 1000):
        program = program_with_managers(eligibility=[], deduplication=[], notification=[key])
        beneficiaries_bulk_create(program, n)
        members = ProgramMembership.objects.filter(program=program)
        with CaptureQueriesContext(connection) as ctx:
            (manager,) = notify(program, "enrolled", membership_ids=members, actor=None)
        counts.append(len(ctx.captured_queries))
        if key == "log":
            assert manager.records[-1]["count"] == n
    assert counts[0] == counts[1]
