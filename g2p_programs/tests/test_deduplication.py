"""Deduplication managers end to end: exact duplicated sets, the kept-one rule, clearing."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from g2p_programs.factories import ProgramMembershipFactory, program_with_managers
from g2p_programs.models import DuplicateGroup, ProgramMembership
from g2p_programs.selectors import duplicates_list
from g2p_programs.services.programs import (
    duplicate_clear,
    program_add_registrants,
    program_deduplicate,
    program_enroll_eligible,
)
from g2p_registry_base.factories import (
    GroupFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
    RegistrantIdFactory,
)

pytestmark = pytest.mark.django_db


def _state(registrant) -> str:  # type: ignore[no-untyped-def]
    return ProgramMembership.objects.get(registrant=registrant).state


def test_default_dedup_group_program_keeps_the_single_enrolled_group() -> None:
    program = program_with_managers(target_type="group", deduplication=["default"])
    a, b, c = GroupFactory.create_batch(3)
    shared = IndividualFactory()
    MembershipFactory(group=a, individual=shared)
    MembershipFactory(group=b, individual=shared)
    MembershipFactory(group=c)
    program_add_registrants(program=program, registrant_ids=[a.pk, b.pk, c.pk], actor=None)
    ProgramMembership.objects.filter(registrant=a).update(
        state="enrolled", enrollment_date=datetime.datetime.now(datetime.UTC)
    )
    note = program_deduplicate(program=program, actor=None)
    assert (note.title, note.type) == ("Deduplication", "warning")
    assert note.message == "2 Instances of Beneficiaries duplicate."
    assert (_state(a), _state(b), _state(c)) == ("enrolled", "duplicated", "draft")
    (group,) = duplicates_list(program=program)
    assert group.reason == "Duplicate individuals" and group.member_count == 2
    assert {m.registrant_id for m in group.memberships.all()} == {a.pk, b.pk}


def test_default_dedup_ignores_individual_programs_and_ended_memberships() -> None:
    program = program_with_managers(target_type="individual", deduplication=["default"])
    ProgramMembershipFactory(program=program)
    note = program_deduplicate(program=program, actor=None)
    assert (note.message, note.type) == ("No duplicates found.", "success")
    groups = program_with_managers(target_type="group", deduplication=["default"])
    a, b = GroupFactory.create_batch(2)
    mover = IndividualFactory()
    MembershipFactory(
        group=a,
        individual=mover,
        ended_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        start_date=datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC),
    )
    MembershipFactory(group=b, individual=mover)
    program_add_registrants(program=groups, registrant_ids=[a.pk, b.pk], actor=None)
    assert program_deduplicate(program=groups, actor=None).message == "No duplicates found."


def test_id_dedup_individual_program_two_enrolled_are_both_marked() -> None:
    program = program_with_managers(
        eligibility=[], deduplication=[("id", {"id_types": ["National ID"]})]
    )
    x = RegistrantIdFactory(value="A-1").registrant
    y = RegistrantIdFactory(value="A-1").registrant
    z = RegistrantIdFactory(value="A-2").registrant
    passport_twin = RegistrantIdFactory(value="A-2", id_type__name="Passport").registrant
    for r in (x, y, z, passport_twin):
        ProgramMembershipFactory(program=program, registrant=r, state="enrolled")
    note = program_deduplicate(program=program, actor=None)
    assert note.message == "2 Instances of Beneficiaries duplicate."
    assert [_state(r) for r in (x, y, z, passport_twin)] == [
        "duplicated",
        "duplicated",
        "enrolled",
        "enrolled",
    ]
    assert DuplicateGroup.objects.get().reason == "Duplicate ID Documents"


def test_id_dedup_skips_disabled_holders_and_expired_ids() -> None:
    """Keys of disabled registrants (beneficiary or household member) and expired IDs never
    make a duplicate; a group sharing a key with its own member is one holder, not two."""
    program = program_with_managers(
        target_type="group", deduplication=[("id", {"id_types": ["National ID"]})]
    )
    a, b, c, d = GroupFactory.create_batch(4)
    # a's member and b's member share an ID, but b's member is disabled
    live = RegistrantIdFactory(value="N-1").registrant
    gone = RegistrantIdFactory(value="N-1").registrant
    gone.disabled = datetime.datetime.now(datetime.UTC)
    gone.disabled_reason = "Deceased"
    gone.save()
    MembershipFactory(group=a, individual=live)
    MembershipFactory(group=b, individual=gone)
    # c's member and d's member share an ID that has expired on one side
    old = RegistrantIdFactory(value="N-2", expiry_date=datetime.date(2020, 1, 1)).registrant
    MembershipFactory(group=c, individual=old)
    MembershipFactory(group=d, individual=RegistrantIdFactory(value="N-2").registrant)
    # group a holds the same ID as its own member
    RegistrantIdFactory(registrant=a, value="N-1", id_type=live.reg_ids.get().id_type)
    program_add_registrants(program=program, registrant_ids=[a.pk, b.pk, c.pk, d.pk], actor=None)

    note = program_deduplicate(program=program, actor=None)

    assert (note.message, note.type) == ("No duplicates found.", "success")
    assert [_state(g) for g in (a, b, c, d)] == ["draft"] * 4
    assert DuplicateGroup.objects.count() == 0
    # enabling the member again makes the two households duplicates
    gone.disabled, gone.disabled_reason = None, ""
    gone.save()
    assert program_deduplicate(program=program, actor=None).message == (
        "2 Instances of Beneficiaries duplicate."
    )
    assert [_state(g) for g in (a, b, c, d)] == ["duplicated", "duplicated", "draft", "draft"]


def test_phone_dedup_group_program_groups_by_key() -> None:
    """Two households whose DIFFERENT members share a phone are duplicates (upstream missed it)."""
    program = program_with_managers(target_type="group", deduplication=["phone_number"])
    a, b = GroupFactory.create_batch(2)
    p1 = PhoneNumberFactory(phone_no="+254712000001").registrant
    p2 = PhoneNumberFactory(phone_no="+254712000001").registrant
    MembershipFactory(group=a, individual=p1)
    MembershipFactory(group=b, individual=p2)
    program_add_registrants(program=program, registrant_ids=[a.pk, b.pk], actor=None)
    note = program_deduplicate(program=program, actor=None)
    assert note.message == "2 Instances of Beneficiaries duplicate."
    assert (_state(a), _state(b)) == ("duplicated", "duplicated")
    assert DuplicateGroup.objects.get().reason == "Duplicate Phone Numbers"


def test_attribute_dedup_is_case_insensitive_on_all_fields() -> None:
    program = program_with_managers(
        eligibility=[],
        deduplication=[("attributes", {"fields": ["given_name", "family_name", "birthdate"]})],
    )
    a = IndividualFactory(
        given_name="Mary", family_name="Otieno", birthdate=datetime.date(1980, 2, 3)
    )
    b = IndividualFactory(
        given_name="MARY", family_name="otieno", birthdate=datetime.date(1980, 2, 3)
    )
    c = IndividualFactory(
        given_name="Mary", family_name="Otieno", birthdate=datetime.date(1981, 2, 3)
    )
    program_add_registrants(program=program, registrant_ids=[a.pk, b.pk, c.pk], actor=None)
    program_deduplicate(program=program, actor=None)
    assert [_state(r) for r in (a, b, c)] == ["duplicated", "duplicated", "draft"]


def test_attribute_config_refuses_fields_outside_the_whitelist() -> None:
    with pytest.raises(ValidationError, match="fields"):
        program_with_managers(deduplication=[("attributes", {"fields": ["password"]})])


def test_clear_false_match_and_rerun_does_not_reflag(viewer) -> None:  # type: ignore[no-untyped-def]
    program = program_with_managers(eligibility=["default"], deduplication=["id"])
    x = RegistrantIdFactory(value="S-9").registrant
    y = RegistrantIdFactory(value="S-9").registrant
    program_add_registrants(program=program, registrant_ids=[x.pk, y.pk], actor=None)
    program_enroll_eligible(program=program, actor=None)
    program_deduplicate(program=program, actor=None)
    group = DuplicateGroup.objects.get()
    with pytest.raises(PermissionDenied):
        duplicate_clear(duplicate_group=group, actor=viewer)
    assert (_state(x), _state(y), DuplicateGroup.objects.get().state) == (
        "duplicated",
        "duplicated",
        "duplicate",
    )
    assert duplicate_clear(duplicate_group=group, actor=None) == 2
    assert (_state(x), _state(y)) == ("draft", "draft")
    with pytest.raises(ValidationError, match="already been cleared"):
        duplicate_clear(duplicate_group=group, actor=None)
    note = program_deduplicate(program=program, actor=None)
    assert note.message == "No duplicates found."
    assert (_state(x), _state(y)) == ("draft", "draft")
    # a third holder of the same ID opens a new set: flagged again
    z = RegistrantIdFactory(value="S-9").registrant
    program_add_registrants(program=program, registrant_ids=[z.pk], actor=None)
    note = program_deduplicate(program=program, actor=None)
    assert note.message == "3 Instances of Beneficiaries duplicate."
    assert DuplicateGroup.objects.filter(state="duplicate").count() == 1


def test_no_dedup_manager_is_refused() -> None:
    program = program_with_managers(deduplication=[])
    m = ProgramMembershipFactory(program=program)
    with pytest.raises(ValidationError, match="No Deduplication Manager defined."):
        program_deduplicate(program=program, actor=None)
    m.refresh_from_db()
    assert m.state == "draft" and not DuplicateGroup.objects.exists()
