"""The cycle workflow: creation and dating, beneficiaries, approval, distribution, refusals."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from g2p_programs.choices import CycleState, EntitlementState, ManagerKind, MembershipState
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    Program,
    ProgramMembership,
)
from g2p_programs.roles import ROLE_CYCLE_APPROVER, ROLE_PROGRAM_MANAGER, ROLE_PROGRAM_VALIDATOR
from g2p_programs.services import cycles
from g2p_registry_base.factories import IndividualFactory
from g2p_registry_base.services import registrants_disable

pytestmark = pytest.mark.django_db

DAILY_30 = {"recurrence": {"rrule_type": "daily", "cycle_duration": 30}}


def _program(*, cycle_config: dict | None = None, with_entitlement_manager: bool = True) -> Program:
    program = Program(name="Cash for elders", target_type="individual", currency="KES")
    program.save()
    ManagerAssignment(program=program, kind=ManagerKind.PROGRAM, manager_key="default").save()
    ManagerAssignment(
        program=program,
        kind=ManagerKind.CYCLE,
        manager_key="default",
        config=cycle_config or DAILY_30,
    ).save()
    if with_entitlement_manager:
        ManagerAssignment(
            program=program,
            kind=ManagerKind.ENTITLEMENT,
            manager_key="default",
            config={"amount_per_cycle": "100.00"},
        ).save()
    return program


def _enrol(
    program: Program, count: int, state: str = MembershipState.ENROLLED
) -> list[ProgramMembership]:
    members = []
    for person in IndividualFactory.create_batch(count):
        membership = ProgramMembership(
            program=program,
            registrant=person,
            state=state,
            enrollment_date=timezone.now() if state == MembershipState.ENROLLED else None,
        )
        membership.save()
        members.append(membership)
    return members


def _user(django_user_model, name: str, *roles: str):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(name, password=f"{name}-pass-123", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def _entitlements(cycle: Cycle, state: str = EntitlementState.DRAFT) -> None:
    for membership in cycle.memberships.all():
        Entitlement(
            registrant_id=membership.registrant_id,
            cycle=cycle,
            program=cycle.program,
            initial_amount=Decimal("100.00"),
            currency="KES",
            state=state,
        ).save()


def _snapshot(cycle: Cycle) -> tuple:
    fresh = Cycle.objects.get(pk=cycle.pk)
    states = sorted(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True))
    return (fresh.state, fresh.approved_by_id, fresh.approved_date, states)


# --- creation --------------------------------------------------------------------------------


def test_first_cycle_is_dated_by_the_recurrence_and_gets_enrolled_enabled_members() -> None:
    program = _program()
    enrolled = _enrol(program, 3)
    _enrol(program, 2, state=MembershipState.DRAFT)
    registrants_disable(
        registrant_ids=[enrolled[0].registrant_id], reason="Moved abroad", actor=None
    )

    cycle, note = cycles.program_create_new_cycle(program=program, actor=None)

    today = timezone.localdate()
    assert (cycle.name, cycle.sequence, cycle.state) == ("Cycle 1", 1, CycleState.DRAFT)
    assert (cycle.start_date, cycle.end_date) == (today, today + datetime.timedelta(days=29))
    assert (note.title, note.message, note.data["beneficiaries"]) == (
        "Cycle",
        "New cycle Cycle 1 created.",
        2,
    )
    assert set(cycle.memberships.values_list("registrant_id", "state")) == {
        (enrolled[1].registrant_id, "enrolled"),
        (enrolled[2].registrant_id, "enrolled"),
    }


def test_next_cycle_starts_the_day_after_the_previous_one_ends() -> None:
    program = _program()
    _enrol(program, 2)
    first, _ = cycles.program_create_new_cycle(program=program, actor=None)
    second, note = cycles.program_create_new_cycle(program=program, actor=None)
    assert (second.name, second.sequence) == ("Cycle 2", 2)
    assert second.start_date == first.end_date + datetime.timedelta(days=1)
    assert second.end_date == second.start_date + datetime.timedelta(days=29)
    assert note.message == "New cycle Cycle 2 created."
    assert second.memberships.count() == 2


def test_weekly_cycles_follow_the_rule() -> None:
    program = _program(cycle_config={"recurrence": {"rrule_type": "weekly", "mon": True}})
    _enrol(program, 1)
    cycle, _ = cycles.program_create_new_cycle(program=program, actor=None)
    assert cycle.start_date.weekday() == 0
    assert cycle.end_date == cycle.start_date + datetime.timedelta(days=6)
    assert cycle.start_date >= timezone.localdate()


def test_new_cycle_refused_without_enrolled_beneficiaries() -> None:
    program = _program()
    _enrol(program, 2, state=MembershipState.DRAFT)
    with pytest.raises(ValidationError) as exc:
        cycles.program_create_new_cycle(program=program, actor=None)
    assert exc.value.messages == [
        "No enrolled registrants. Enroll registrants to program to create new cycle."
    ]
    assert Cycle.objects.count() == 0


def test_new_cycle_refused_without_cycle_manager() -> None:
    program = _program()
    _enrol(program, 1)
    ManagerAssignment.objects.filter(program=program, kind=ManagerKind.CYCLE).delete()
    with pytest.raises(ValidationError) as exc:
        cycles.program_create_new_cycle(program=program, actor=None)
    assert exc.value.messages == ["No Cycle Manager defined."]
    assert Cycle.objects.count() == 0


def test_new_cycle_refused_while_the_program_is_locked() -> None:
    program = _program()
    _enrol(program, 1)
    Program.objects.filter(pk=program.pk).update(
        locked=True, locked_reason="Eligibility check of beneficiaries"
    )
    with pytest.raises(ValidationError) as exc:
        cycles.program_create_new_cycle(program=program, actor=None)
    assert exc.value.messages == ["Operation in progress: Eligibility check of beneficiaries"]
    assert Cycle.objects.count() == 0


def test_cycle_manager_config_is_validated_naming_the_field() -> None:
    program = _program()
    assignment = ManagerAssignment.objects.get(program=program, kind=ManagerKind.CYCLE)
    assignment.config = {"recurrence": {"rrule_type": "hourly"}}
    with pytest.raises(ValidationError) as exc:
        assignment.save()
    assert "recurrence.rrule_type" in exc.value.message_dict["config"][0]
    assert (
        ManagerAssignment.objects.get(pk=assignment.pk).config["recurrence"]["rrule_type"]
        == "daily"
    )


def test_create_cycle_query_count_does_not_grow_with_beneficiaries(settings) -> None:
    settings.G2P_MAX_ROWS_INLINE = 10_000  # the inline path; the job path: test_jobs.py
    small = _program()
    _enrol(small, 10)
    big = Program(name="Big", target_type="individual", currency="KES")
    big.save()
    for assignment in ManagerAssignment.objects.filter(program=small):
        ManagerAssignment(
            program=big,
            kind=assignment.kind,
            manager_key=assignment.manager_key,
            config=assignment.config,
        ).save()
    people = IndividualFactory.create_batch(2)
    with connection.cursor() as cursor:
        # 1,000 enrolled beneficiaries set-based: copies of one person's registrant row.
        cursor.execute(
            """
            INSERT INTO g2p_registry_base_registrant
                (is_registrant, is_group, name, given_name, family_name, addl_name,
                 birthdate_not_exact, birth_place, registration_date, address, email,
                 civil_status, occupation, is_partial_group, additional_g2p_info, company_id,
                 active, disabled_reason, create_date, write_date)
            SELECT true, false, 'BULK ' || g, 'P', 'Q', '', false, '', CURRENT_DATE, '', '', '', '',
                   false, '{}', %s, true, '', now(), now()
              FROM generate_series(1, 1000) g
            """,
            [people[0].company_id],
        )
        cursor.execute(
            """
            INSERT INTO g2p_programs_programmembership
                (registrant_id, program_id, state, enrollment_date, create_date, write_date)
            SELECT id, %s, 'enrolled', now(), now(), now()
              FROM g2p_registry_base_registrant WHERE name LIKE 'BULK %%'
            """,
            [big.pk],
        )
    with CaptureQueriesContext(connection) as few:
        cycles.program_create_new_cycle(program=small, actor=None)
    with CaptureQueriesContext(connection) as many:
        cycle, _ = cycles.program_create_new_cycle(program=big, actor=None)
    assert cycle.memberships.count() == 1000
    assert len(few) == len(many)


# --- beneficiaries -----------------------------------------------------------------------------


def test_copy_beneficiaries_adds_only_the_missing_ones_and_is_idempotent() -> None:
    program = _program()
    _enrol(program, 2)
    cycle, _ = cycles.program_create_new_cycle(program=program, actor=None)
    late = _enrol(program, 1)[0]

    note = cycles.cycle_copy_beneficiaries(cycle=cycle, actor=None)
    assert (note.title, note.message, note.type) == (
        "Enrollment",
        "1 beneficiaries imported.",
        "success",
    )
    assert cycle.memberships.filter(registrant_id=late.registrant_id, state="enrolled").count() == 1

    again = cycles.cycle_copy_beneficiaries(cycle=cycle, actor=None)
    assert (again.message, again.type) == ("No beneficiaries to import.", "warning")
    assert cycle.memberships.count() == 3


def test_copy_beneficiaries_refused_outside_draft() -> None:
    program = _program()
    _enrol(program, 1)
    cycle, _ = cycles.program_create_new_cycle(program=program, actor=None)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    _enrol(program, 1)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_copy_beneficiaries(cycle=cycle, actor=None)
    assert exc.value.messages == ["The Cycle is not in draft mode"]
    assert CycleMembership.objects.filter(cycle=cycle).count() == 1


# --- approval ----------------------------------------------------------------------------------


@pytest.fixture
def prepared_cycle() -> Cycle:
    program = _program()
    _enrol(program, 3)
    cycle, _ = cycles.program_create_new_cycle(program=program, actor=None)
    _entitlements(cycle)
    return cycle


def test_to_approve_moves_draft_entitlements_to_pending(prepared_cycle) -> None:
    note = cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    assert prepared_cycle.state == CycleState.TO_APPROVE
    assert Cycle.objects.get(pk=prepared_cycle.pk).state == CycleState.TO_APPROVE
    assert note.data["pending"] == 3
    assert set(
        Entitlement.objects.filter(cycle=prepared_cycle).values_list("state", flat=True)
    ) == {"pending_validation"}


def test_to_approve_refused_outside_draft_changes_nothing(prepared_cycle) -> None:
    cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    before = _snapshot(prepared_cycle)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == ["Ony 'draft' cycles can be set for approval."]
    assert _snapshot(prepared_cycle) == before


def test_to_approve_refused_without_entitlements() -> None:
    program = _program()
    _enrol(program, 1)
    cycle, _ = cycles.program_create_new_cycle(program=program, actor=None)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_to_approve(cycle=cycle, actor=None)
    assert exc.value.messages == [
        "Prepare the entitlements of this cycle before submitting it for approval."
    ]
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.DRAFT


def test_reset_draft_only_from_to_approve(prepared_cycle) -> None:
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_reset_draft(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == ["Ony 'to approve' cycles can be reset to draft."]
    cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    cycles.cycle_reset_draft(cycle=prepared_cycle, actor=None)
    assert Cycle.objects.get(pk=prepared_cycle.pk).state == CycleState.DRAFT
    # As upstream: the entitlements stay pending validation.
    assert set(
        Entitlement.objects.filter(cycle=prepared_cycle).values_list("state", flat=True)
    ) == {"pending_validation"}


def test_cycle_approver_approves(prepared_cycle, django_user_model) -> None:
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    note = cycles.cycle_approve(cycle=prepared_cycle, actor=approver)
    fresh = Cycle.objects.get(pk=prepared_cycle.pk)
    assert (fresh.state, fresh.approved_by_id) == (CycleState.APPROVED, approver.pk)
    assert fresh.approved_date is not None
    assert note.message == "Cycle Cycle 1 approved."


def test_approve_refused_outside_to_approve(prepared_cycle, django_user_model) -> None:
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    before = _snapshot(prepared_cycle)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_approve(cycle=prepared_cycle, actor=approver)
    assert exc.value.messages == ["Only 'to approve' cycles can be approved."]
    assert _snapshot(prepared_cycle) == before


def test_approve_needs_the_approver_group_of_the_cycle_manager(
    prepared_cycle, django_user_model
) -> None:
    # A Program Manager holding approve_cycle through another group is still not in the
    # cycle manager's approver group.
    outsider = _user(django_user_model, "outsider", ROLE_PROGRAM_MANAGER)
    extra = Group.objects.create(name="Approvers elsewhere")
    extra.permissions.add(*Group.objects.get(name=ROLE_CYCLE_APPROVER).permissions.all())
    outsider.groups.add(extra)
    cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    before = _snapshot(prepared_cycle)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_approve(cycle=prepared_cycle, actor=outsider)
    assert exc.value.messages == ["You are not allowed to approve this cycle!"]
    assert _snapshot(prepared_cycle) == before


def test_approve_refused_without_entitlement_manager(django_user_model) -> None:
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    program = _program(with_entitlement_manager=False)
    _enrol(program, 1)
    cycle, _ = cycles.program_create_new_cycle(program=program, actor=None)
    _entitlements(cycle)
    cycles.cycle_to_approve(cycle=cycle, actor=None)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_approve(cycle=cycle, actor=approver)
    assert exc.value.messages == ["No Entitlement Manager defined."]
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.TO_APPROVE


def test_separation_of_duties_refuses_the_preparer(prepared_cycle, django_user_model) -> None:
    both = _user(django_user_model, "both", ROLE_CYCLE_APPROVER, ROLE_PROGRAM_MANAGER)
    Cycle.objects.filter(pk=prepared_cycle.pk).update(entitlements_prepared_by=both)
    cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    before = _snapshot(prepared_cycle)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_approve(cycle=prepared_cycle, actor=both)
    assert exc.value.messages == [
        "The user who prepared the entitlements of this cycle cannot approve it."
    ]
    assert _snapshot(prepared_cycle) == before

    Program.objects.filter(pk=prepared_cycle.program_id).update(separation_of_duties=False)
    cycles.cycle_approve(cycle=prepared_cycle, actor=both)
    assert Cycle.objects.get(pk=prepared_cycle.pk).state == CycleState.APPROVED


@pytest.mark.parametrize("role", [ROLE_PROGRAM_VALIDATOR, ROLE_PROGRAM_MANAGER])
def test_roles_without_approve_cycle_are_refused(prepared_cycle, django_user_model, role) -> None:
    user = _user(django_user_model, "someone", role)
    cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    before = _snapshot(prepared_cycle)
    with pytest.raises(PermissionDenied):
        cycles.cycle_approve(cycle=prepared_cycle, actor=user)
    assert _snapshot(prepared_cycle) == before


def test_registry_viewer_cannot_create_or_submit_cycles(prepared_cycle, viewer) -> None:
    before = _snapshot(prepared_cycle)
    with pytest.raises(PermissionDenied):
        cycles.program_create_new_cycle(program=prepared_cycle.program, actor=viewer)
    with pytest.raises(PermissionDenied):
        cycles.cycle_to_approve(cycle=prepared_cycle, actor=viewer)
    assert Cycle.objects.count() == 1
    assert _snapshot(prepared_cycle) == before


# --- distribution, end, cancel, delete -------------------------------------------------------


def test_distributed_then_ended(prepared_cycle, django_user_model) -> None:
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_mark_distributed(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == ["Only 'approved' cycles can be marked as distributed."]
    cycles.cycle_to_approve(cycle=prepared_cycle, actor=None)
    cycles.cycle_approve(cycle=prepared_cycle, actor=approver)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_mark_ended(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == ["Only 'distributed' cycles can be ended."]
    cycles.cycle_mark_distributed(cycle=prepared_cycle, actor=None)
    note = cycles.cycle_mark_ended(cycle=prepared_cycle, actor=None)
    assert Cycle.objects.get(pk=prepared_cycle.pk).state == CycleState.ENDED
    assert note.message == "Cycle Cycle 1 is Ended."


def test_cancel_cancels_open_entitlements(prepared_cycle) -> None:
    note = cycles.cycle_mark_cancelled(cycle=prepared_cycle, actor=None)
    assert Cycle.objects.get(pk=prepared_cycle.pk).state == CycleState.CANCELLED
    assert note.data["entitlements_cancelled"] == 3
    assert set(
        Entitlement.objects.filter(cycle=prepared_cycle).values_list("state", flat=True)
    ) == {"cancelled"}
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_mark_cancelled(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == ["Only draft, to approve or approved cycles can be cancelled."]


def test_delete_rules(prepared_cycle) -> None:
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_delete(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == [
        "Cycle cannot be deleted when Entitlements have been added to the cycle."
    ]
    Entitlement.objects.filter(cycle=prepared_cycle).update(state=EntitlementState.APPROVED)
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_delete(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == [
        "A cycle for which entitlements have been approved cannot be deleted."
    ]
    Entitlement.objects.filter(cycle=prepared_cycle).delete()
    with pytest.raises(ValidationError) as exc:
        cycles.cycle_delete(cycle=prepared_cycle, actor=None)
    assert exc.value.messages == [
        "Cycle cannot be deleted when beneficiaries are present in the cycle."
    ]
    assert Cycle.objects.filter(pk=prepared_cycle.pk).exists()
    CycleMembership.objects.filter(cycle=prepared_cycle).delete()
    cycles.cycle_delete(cycle=prepared_cycle, actor=None)
    assert not Cycle.objects.filter(pk=prepared_cycle.pk).exists()


# --- auto-approval ------------------------------------------------------------------------------


def _auto_program(fund: str) -> Cycle:
    from g2p_programs.services.funds import fund_create, fund_post

    program = _program(cycle_config={**DAILY_30, "auto_approve_entitlements": True})
    _enrol(program, 3)
    cycle, _ = cycles.program_create_new_cycle(program=program, actor=None)
    _entitlements(cycle)
    fund_post(fund=fund_create(program=program, amount=Decimal(fund), actor=None), actor=None)
    cycles.cycle_to_approve(cycle=cycle, actor=None)
    return cycle


def test_auto_approve_approves_entitlements_within_the_fund(django_user_model) -> None:
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    cycle = _auto_program("300.00")
    note = cycles.cycle_approve(cycle=cycle, actor=approver)
    assert (note.message, note.type, note.sticky) == (
        "3 Entitlements are successfully approved.",
        "success",
        True,
    )
    approved = Entitlement.objects.filter(cycle=cycle, state=EntitlementState.APPROVED)
    assert approved.count() == 3
    assert set(approved.values_list("approved_by", flat=True)) == {approver.pk}


def test_auto_approve_stops_where_the_fund_runs_out(django_user_model) -> None:
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    cycle = _auto_program("250.00")
    note = cycles.cycle_approve(cycle=cycle, actor=approver)
    unfunded = Entitlement.objects.filter(cycle=cycle).order_by("pk").last()
    assert note.type == "danger"
    assert note.message == (
        "The fund for the program: Cash for elders [50.00] is insufficient for the entitlement: "
        f"{unfunded.code}"
    )
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.APPROVED
    assert sorted(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True)) == [
        "approved",
        "approved",
        "pending_validation",
    ]
