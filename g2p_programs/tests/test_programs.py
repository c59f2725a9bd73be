"""Program services: create, add registrants, enrol, verify, end / re-activate, roles."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from g2p_programs.choices import ManagerKind, MembershipState, ProgramState
from g2p_programs.factories import ProgramFactory, ProgramMembershipFactory, program_with_managers
from g2p_programs.models import ManagerAssignment, Program, ProgramMembership
from g2p_programs.selectors import memberships_count_by_state, program_list
from g2p_programs.services.programs import (
    membership_back_to_draft,
    membership_enroll,
    program_add_registrants,
    program_create,
    program_end,
    program_enroll_eligible,
    program_reactivate,
    program_verify_eligibility,
)
from g2p_registry_base.factories import GroupFactory, IndividualFactory
from g2p_registry_base.services import registrants_disable

pytestmark = pytest.mark.django_db


def _states(program: Program) -> dict[int, str]:
    return dict(
        ProgramMembership.objects.filter(program=program).values_list("registrant", "state")
    )


# --- create --------------------------------------------------------------------------------------


def test_program_create_attaches_the_registered_default_managers(admin_user) -> None:  # type: ignore[no-untyped-def]
    program = program_create(
        name="Cash for Elders",
        target_type="individual",
        currency="KES",
        eligibility_domain="[('age', '>=', 60)]",
        actor=admin_user,
    )
    rows = set(ManagerAssignment.objects.filter(program=program).values_list("kind", "manager_key"))
    assert {
        ("program", "default"),
        ("eligibility", "default"),
        ("deduplication", "default"),
        ("notification", "log"),
    } <= rows
    elig = ManagerAssignment.objects.get(program=program, kind=ManagerKind.ELIGIBILITY)
    assert elig.config == {"eligibility_domain": "[('age', '>=', 60)]"}
    assert program.state == ProgramState.ACTIVE
    assert list(program_list()) == [program]


def test_program_create_refuses_a_bad_domain_and_writes_nothing(admin_user) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as err:
        program_create(
            name="P",
            target_type="group",
            currency="KES",
            eligibility_domain="[('password', '=', 1)]",
            actor=admin_user,
        )
    assert "eligibility_domain" in str(err.value)
    assert Program.objects.count() == 0 and ManagerAssignment.objects.count() == 0


def test_program_create_refuses_a_duplicate_name(admin_user) -> None:  # type: ignore[no-untyped-def]
    program_create(name="Alpha", target_type="group", currency="KES", actor=admin_user)
    with pytest.raises(ValidationError, match="A program with this name already exists."):
        program_create(name="alpha", target_type="group", currency="KES", actor=admin_user)
    assert Program.objects.count() == 1


# --- add registrants -----------------------------------------------------------------------------


def test_add_registrants_counts_existing_wrong_kind_and_skips_disabled() -> None:
    program = program_with_managers(target_type="individual")
    people = IndividualFactory.create_batch(3)
    household = GroupFactory()
    gone = IndividualFactory()
    registrants_disable(registrant_ids=[gone.pk], reason="Deceased", actor=None)
    ProgramMembershipFactory(program=program, registrant=people[0])
    ids = [p.pk for p in people] + [household.pk, gone.pk]
    note = program_add_registrants(program=program, registrant_ids=ids, actor=None)
    assert (note.title, note.type) == ("Program", "warning")
    assert note.message == "Total registrants:4, Already in program:2, Newly added:2"
    assert _states(program) == {p.pk: "draft" for p in people}
    again = program_add_registrants(program=program, registrant_ids=ids, actor=None)
    assert again.message == "Total registrants:4, Already in program:4, Newly added:0"
    assert len(_states(program)) == 3


def test_add_registrants_by_queryset_counts_as_by_ids_in_fixed_queries() -> None:
    from g2p_registry_base.models import Registrant

    program = program_with_managers(target_type="individual")
    other = IndividualFactory()
    people = IndividualFactory.create_batch(3)
    GroupFactory()
    gone = IndividualFactory()
    registrants_disable(registrant_ids=[gone.pk], reason="Deceased", actor=None)
    ProgramMembershipFactory(program=program, registrant=people[0])
    selected = Registrant.objects.filter(pk__gt=other.pk)
    with CaptureQueriesContext(connection) as ctx:
        note = program_add_registrants(program=program, registrants=selected, actor=None)
    assert note.message == "Total registrants:4, Already in program:2, Newly added:2"
    assert _states(program) == {p.pk: "draft" for p in people}
    queries = len(ctx.captured_queries)
    IndividualFactory.create_batch(20)
    with CaptureQueriesContext(connection) as ctx:
        again = program_add_registrants(program=program, registrants=selected, actor=None)
    assert again.message == "Total registrants:24, Already in program:4, Newly added:20"
    assert len(ctx.captured_queries) == queries
    assert len(_states(program)) == 23


def test_add_registrants_refuses_an_empty_or_double_selection() -> None:
    from g2p_registry_base.models import Registrant

    program = program_with_managers(target_type="individual")
    with pytest.raises(ValidationError) as exc:
        program_add_registrants(program=program, registrants=Registrant.objects.none(), actor=None)
    assert exc.value.messages == ["There are no selected registrants!"]
    with pytest.raises(ValueError):
        program_add_registrants(
            program=program, registrant_ids=[1], registrants=Registrant.objects.all(), actor=None
        )
    assert _states(program) == {}


def test_add_registrants_single_selection_messages() -> None:
    program = program_with_managers(target_type="individual")
    person = IndividualFactory(given_name="Ann", family_name="Lee")
    note = program_add_registrants(program=program, registrant_ids=[person.pk], actor=None)
    assert (note.message, note.type) == (
        f"LEE, ANN is added to the Program {program.name}",
        "warning",
    )
    note = program_add_registrants(program=program, registrant_ids=[person.pk], actor=None)
    assert (note.message, note.type) == (
        f"LEE, ANN was already in the Program {program.name}",
        "danger",
    )
    gone = IndividualFactory()
    registrants_disable(registrant_ids=[gone.pk], reason="Deceased", actor=None)
    note = program_add_registrants(program=program, registrant_ids=[gone.pk], actor=None)
    assert note.message == "Disabled individaul can't be added to the program."
    household = GroupFactory()
    registrants_disable(registrant_ids=[household.pk], reason="Dissolved", actor=None)
    note = program_add_registrants(program=program, registrant_ids=[household.pk], actor=None)
    assert note.message == "Disabled group can't be added to the program."
    assert list(_states(program)) == [person.pk]


def test_add_registrants_multiple_all_disabled_or_all_members() -> None:
    program = program_with_managers(target_type="group")
    groups = GroupFactory.create_batch(2)
    registrants_disable(registrant_ids=[g.pk for g in groups], reason="Dissolved", actor=None)
    note = program_add_registrants(
        program=program, registrant_ids=[g.pk for g in groups], actor=None
    )
    assert note.message == f"Disabled group(s) can't be added to the program {program.name}"
    live = GroupFactory.create_batch(2)
    program_add_registrants(program=program, registrant_ids=[g.pk for g in live], actor=None)
    note = program_add_registrants(program=program, registrant_ids=[g.pk for g in live], actor=None)
    assert (note.message, note.type) == (
        f"Registrant's was already in the Program {program.name}",
        "danger",
    )


def test_add_registrants_refusals_change_nothing(viewer) -> None:  # type: ignore[no-untyped-def]
    program = program_with_managers()
    person = IndividualFactory()
    with pytest.raises(ValidationError, match="There are no selected registrants!"):
        program_add_registrants(program=program, registrant_ids=[], actor=None)
    with pytest.raises(PermissionDenied):
        program_add_registrants(program=program, registrant_ids=[person.pk], actor=viewer)
    program_end(program=program, actor=None)
    with pytest.raises(ValidationError, match="active program"):
        program_add_registrants(program=program, registrant_ids=[person.pk], actor=None)
    assert ProgramMembership.objects.count() == 0


def test_add_registrants_is_set_based() -> None:
    program = program_with_managers()
    counts = []
    for n in (3, 30):
        people = IndividualFactory.create_batch(n)
        with CaptureQueriesContext(connection) as ctx:
            program_add_registrants(
                program=program, registrant_ids=[p.pk for p in people], actor=None
            )
        counts.append(len(ctx.captured_queries))
    assert counts == [5, 5]  # savepoint, lock, aggregate, insert, release


# --- enrol ---------------------------------------------------------------------------------------


def test_enroll_eligible_exact_states_message_and_notification(caplog) -> None:  # type: ignore[no-untyped-def]
    program = program_with_managers(
        eligibility=[("default", {"eligibility_domain": "[('gender', '=', 'Female')]"})],
        notification=["log"],
    )
    women = IndividualFactory.create_batch(3, gender_id="Female")
    men = IndividualFactory.create_batch(2, gender_id="Male")
    exited = IndividualFactory(gender_id="Female")
    for r in women + men:
        ProgramMembershipFactory(program=program, registrant=r)
    ProgramMembershipFactory(program=program, registrant=exited, state=MembershipState.EXITED)
    with caplog.at_level(logging.INFO, logger="pbms.notifications"):
        note = program_enroll_eligible(program=program, actor=None)
    assert (note.title, note.type) == ("Enrollment", "success")
    assert note.message == "Enrolled Beneficiaries: 3 successfully and 2 unsuccessfully."
    states = _states(program)
    assert {states[w.pk] for w in women} == {"enrolled"}
    assert {states[m.pk] for m in men} == {"not_eligible"}
    assert states[exited.pk] == "exited"
    assert ProgramMembership.objects.filter(enrollment_date__isnull=False).count() == 3
    assert [r.g2p_event["count"] for r in caplog.records] == [3]
    assert memberships_count_by_state(program=program) == {
        "draft": 0,
        "enrolled": 3,
        "paused": 0,
        "exited": 1,
        "not_eligible": 2,
        "duplicated": 0,
        "total": 6,
    }
    again = program_enroll_eligible(program=program, actor=None)
    assert again.message == "Enrolled Beneficiaries: 0 successfully and 2 unsuccessfully."


def test_enroll_no_new_beneficiaries_message() -> None:
    program = program_with_managers()
    ProgramMembershipFactory(program=program)
    program_enroll_eligible(program=program, actor=None)
    note = program_enroll_eligible(program=program, actor=None)
    assert note.message == "No new beneficiaries enrolled."


def test_enroll_refusals_change_nothing(registrar) -> None:  # type: ignore[no-untyped-def]
    program = program_with_managers(eligibility=[])
    with pytest.raises(ValidationError, match="No Registrants Added to Program"):
        program_enroll_eligible(program=program, actor=None)
    m = ProgramMembershipFactory(program=program)
    with pytest.raises(ValidationError, match="No Eligibility Manager defined."):
        program_enroll_eligible(program=program, actor=None)
    ManagerAssignment.objects.filter(program=program, kind="program").delete()
    with pytest.raises(ValidationError, match="No Program Manager defined."):
        program_enroll_eligible(program=program, actor=None)
    with pytest.raises(PermissionDenied):
        program_enroll_eligible(program=program, actor=registrar)
    m.refresh_from_db()
    assert m.state == MembershipState.DRAFT


def test_verify_eligibility_only_rechecks_enrolled_and_not_eligible() -> None:
    program = program_with_managers(
        eligibility=[("default", {"eligibility_domain": "[('gender', '=', 'Female')]"})]
    )
    draft_woman = ProgramMembershipFactory(
        program=program, registrant=IndividualFactory(gender_id="Female")
    )
    enrolled_man = ProgramMembershipFactory(
        program=program, registrant=IndividualFactory(gender_id="Male"), state="enrolled"
    )
    not_eligible_woman = ProgramMembershipFactory(
        program=program, registrant=IndividualFactory(gender_id="Female"), state="not_eligible"
    )
    note = program_verify_eligibility(program=program, actor=None)
    assert note.message == "Enrolled Beneficiaries: 1 successfully and 1 unsuccessfully."
    for m, state in (
        (draft_woman, "draft"),
        (enrolled_man, "not_eligible"),
        (not_eligible_woman, "enrolled"),
    ):
        m.refresh_from_db()
        assert m.state == state


def test_membership_enroll_and_back_to_draft() -> None:
    program = program_with_managers(eligibility=[])  # no manager: eligible (upstream)
    m = ProgramMembershipFactory(program=program)
    note = membership_enroll(membership=m, actor=None)
    assert (note.title, note.message) == ("Enrollment", "1 Beneficiaries enrolled.")
    assert membership_enroll(membership=m, actor=None) is None
    m.refresh_from_db()
    assert m.state == "enrolled" and m.enrollment_date is not None
    with pytest.raises(ValidationError, match="set back to draft"):
        membership_back_to_draft(membership=m, actor=None)
    ManagerAssignment(program=program, kind="eligibility", manager_key="phone_number").save()
    note = membership_enroll(membership=m, actor=None)
    assert (note.type, note.message) == ("warning", "beneficiary is not eligible")
    m.refresh_from_db()
    assert m.state == "not_eligible"
    membership_back_to_draft(membership=m, actor=None)
    m.refresh_from_db()
    assert m.state == "draft"


# --- end / re-activate, roles --------------------------------------------------------------------


def test_end_and_reactivate_with_upstream_messages(viewer) -> None:  # type: ignore[no-untyped-def]
    program = ProgramFactory()
    with pytest.raises(ValidationError, match="Ony 'ended' programs can be re-activated."):
        program_reactivate(program=program, actor=None)
    with pytest.raises(PermissionDenied):
        program_end(program=program, actor=viewer)
    program.refresh_from_db()
    assert program.state == "active" and program.date_ended is None
    program_end(program=program, actor=None)
    program.refresh_from_db()
    assert program.state == "ended" and program.date_ended is not None
    with pytest.raises(ValidationError, match="Ony 'active' programs can be ended."):
        program_end(program=program, actor=None)
    program_reactivate(program=program, actor=None)
    program.refresh_from_db()
    assert program.state == "active" and program.date_ended is None


@pytest.mark.parametrize("role", ["viewer", "registrar"])
def test_roles_without_program_rights_change_nothing(role, request) -> None:  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(role)
    program = program_with_managers()
    m = ProgramMembershipFactory(program=program)
    for call in (
        lambda: program_create(name="X", target_type="group", currency="KES", actor=user),
        lambda: program_enroll_eligible(program=program, actor=user),
        lambda: membership_enroll(membership=m, actor=user),
    ):
        with pytest.raises(PermissionDenied):
            call()
    m.refresh_from_db()
    assert m.state == "draft" and Program.objects.count() == 1


def test_registry_admin_may_run_everything(registry_admin) -> None:  # type: ignore[no-untyped-def]
    program = program_create(
        name="Y", target_type="individual", currency="KES", actor=registry_admin
    )
    person = IndividualFactory()
    program_add_registrants(program=program, registrant_ids=[person.pk], actor=registry_admin)
    note = program_enroll_eligible(program=program, actor=registry_admin)
    assert note.message == "Enrolled Beneficiaries: 1 successfully and 0 unsuccessfully."
