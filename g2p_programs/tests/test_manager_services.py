"""Manager assignment services: add, configure (with a name), remove, one manager's
deduplication and the eligibility manager's import of registrants (inline and as a job)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from g2p_programs.choices import ManagerKind, MembershipState
from g2p_programs.factories import (
    ProgramFactory,
    beneficiaries_bulk_create,
    program_with_managers,
)
from g2p_programs.models import ManagerAssignment, ProgramMembership
from g2p_programs.services.programs import (
    manager_add,
    manager_configure,
    manager_deduplicate,
    manager_remove,
    program_import_eligible,
)
from g2p_registry_base.factories import (
    GroupFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
)
from g2p_registry_base.models import Registrant
from pbms.models import JobProgress


def _states(program: Any) -> Counter[str]:
    return Counter(
        ProgramMembership.objects.filter(program=program).values_list("state", flat=True)
    )


@pytest.mark.django_db
def test_manager_add_appends_to_the_chain_and_refuses_a_second_single_manager(admin_user):  # type: ignore[no-untyped-def]
    program = program_with_managers(entitlement="default")
    added = manager_add(
        program=program,
        kind=ManagerKind.ELIGIBILITY,
        manager_key="phone_number",
        name=" Has a phone ",
        config={"eligibility_domain": "[('gender', '=', 'Female')]"},
        actor=admin_user,
    )
    chain = list(
        ManagerAssignment.objects.filter(program=program, kind="eligibility")
        .order_by("sequence", "pk")
        .values_list("manager_key", "sequence", "name")
    )
    assert chain == [("default", 10, "Default"), ("phone_number", 11, "Has a phone")]
    assert added.config == {"eligibility_domain": "[('gender', '=', 'Female')]"}

    with pytest.raises(ValidationError) as err:
        manager_add(
            program=program,
            kind=ManagerKind.ENTITLEMENT,
            manager_key="voucher",
            name="Vouchers",
            config={},
            actor=admin_user,
        )
    assert err.value.messages == [
        "Only one manager can be configured under this list. Please delete any new "
        "manager(s) before saving your changes."
    ]
    with pytest.raises(ValidationError) as err:
        manager_add(
            program=program,
            kind=ManagerKind.CYCLE,
            manager_key="default",
            name="Cycles",
            config={"recurrence": {"cycle_duration": 0}},
            actor=admin_user,
        )
    assert err.value.message_dict == {
        "config": ["recurrence.cycle_duration: Input should be greater than or equal to 1"]
    }
    with pytest.raises(ValidationError) as err:
        manager_add(
            program=program,
            kind=ManagerKind.CYCLE,
            manager_key="no_such",
            name="X",
            config={},
            actor=admin_user,
        )
    assert err.value.message_dict == {"manager_key": ["Unknown cycle manager 'no_such'."]}
    assert ManagerAssignment.objects.filter(program=program).count() == 5


@pytest.mark.django_db
def test_manager_configure_renames_and_remove_detaches(admin_user, registrar):  # type: ignore[no-untyped-def]
    program = program_with_managers(cycle="default")
    cycle = ManagerAssignment.objects.get(program=program, kind="cycle")
    manager_configure(
        assignment=cycle,
        config={**cycle.config, "auto_approve_entitlements": True},
        name="Monthly",
        actor=admin_user,
    )
    cycle.refresh_from_db()
    assert (cycle.name, cycle.config["auto_approve_entitlements"]) == ("Monthly", True)

    with pytest.raises(PermissionDenied):
        manager_remove(assignment=cycle, actor=registrar)
    program.locked, program.locked_reason = True, "Importing beneficiaries"
    program.save()
    with pytest.raises(ValidationError, match="Operation in progress: Importing beneficiaries"):
        manager_remove(assignment=cycle, actor=admin_user)
    assert ManagerAssignment.objects.filter(pk=cycle.pk).exists()
    program.locked = False
    program.save()
    manager_remove(assignment=cycle, actor=admin_user)
    assert not ManagerAssignment.objects.filter(program=program, kind="cycle").exists()


@pytest.mark.django_db
def test_import_eligible_adds_enabled_registrants_of_the_target_kind(admin_user):  # type: ignore[no-untyped-def]
    program = program_with_managers(target_type="group")
    phone_manager = manager_add(
        program=program,
        kind=ManagerKind.ELIGIBILITY,
        manager_key="phone_number",
        name="Phone",
        config={},
        actor=admin_user,
    )
    with_phone, without_phone, disabled = (GroupFactory() for _ in range(3))
    PhoneNumberFactory(registrant=with_phone, phone_no="+254711000001")
    PhoneNumberFactory(registrant=disabled, phone_no="+254711000002")
    person = IndividualFactory()
    PhoneNumberFactory(registrant=person, phone_no="+254711000003")
    Registrant.objects.filter(pk=disabled.pk).update(
        disabled=timezone.now(), disabled_reason="Moved away"
    )

    result = program_import_eligible(
        assignment=phone_manager, state=MembershipState.ENROLLED, actor=admin_user
    )
    assert (result.title, result.message) == ("Enrollment", "1 beneficiaries imported.")
    [membership] = ProgramMembership.objects.filter(program=program)
    assert (membership.registrant_id, membership.state) == (with_phone.pk, "enrolled")
    assert membership.enrollment_date is not None
    again = program_import_eligible(assignment=phone_manager, actor=admin_user)
    assert (again.type, again.message) == ("warning", "No beneficiaries to import.")

    default = ManagerAssignment.objects.get(program=program, kind="eligibility", sequence=10)
    result = program_import_eligible(assignment=default, actor=admin_user)
    assert result.message == "1 beneficiaries imported."
    assert _states(program) == {"enrolled": 1, "draft": 1}
    assert without_phone.pk in ProgramMembership.objects.values_list("registrant_id", flat=True)

    with pytest.raises(ValidationError) as err:
        program_import_eligible(assignment=default, state="duplicated", actor=admin_user)
    assert err.value.message_dict == {
        "state": ["Registrants are imported as draft or enrolled, not 'duplicated'."]
    }
    dedup = ManagerAssignment.objects.get(program=program, kind="deduplication")
    with pytest.raises(ValidationError):
        program_import_eligible(assignment=dedup, actor=admin_user)
    assert _states(program) == {"enrolled": 1, "draft": 1}


@pytest.mark.django_db(transaction=True)
def test_import_eligible_above_the_threshold_runs_as_a_job(small_jobs, admin_user):  # type: ignore[no-untyped-def]
    from g2p_programs.tests.test_jobs import run_worker

    source = ProgramFactory(target_type="individual", name="Source")
    beneficiaries_bulk_create(source, 120)
    program = program_with_managers(target_type="individual")
    default = ManagerAssignment.objects.get(program=program, kind="eligibility")
    result = program_import_eligible(assignment=default, actor=admin_user)
    assert (result.message, result.sticky, result.data) == (
        "Import of 121 beneficiaries started.",
        True,
        {"queued": 121},
    )
    program.refresh_from_db()
    assert (program.locked, program.locked_reason) == (True, "Importing beneficiaries")
    assert not ProgramMembership.objects.filter(program=program).exists()
    run_worker()
    program.refresh_from_db()
    assert program.locked is False
    assert _states(program) == {"draft": 121}
    assert JobProgress.objects.order_by("-pk").first().state == "done"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_one_deduplication_manager_counts_its_own_duplicates(admin_user):  # type: ignore[no-untyped-def]
    program = program_with_managers(target_type="group", deduplication=("default", "phone_number"))
    first, second = GroupFactory(), GroupFactory()
    shared = IndividualFactory()
    MembershipFactory(group=first, individual=shared)
    MembershipFactory(group=second, individual=shared)
    for household in (first, second):
        ProgramMembership.objects.create(program=program, registrant=household)
    phone = ManagerAssignment.objects.get(program=program, manager_key="phone_number")
    result = manager_deduplicate(assignment=phone, actor=admin_user)
    assert (result.message, result.data["found"]) == ("No duplicates found.", 0)
    assert _states(program) == {"draft": 2}
    default = ManagerAssignment.objects.get(program=program, kind="deduplication", sequence=10)
    result = manager_deduplicate(assignment=default, actor=admin_user)
    assert (result.message, result.data["found"]) == ("2 Instances of Beneficiaries duplicate.", 2)
    assert _states(program) == {"duplicated": 2}
    cycle_less = ManagerAssignment.objects.get(program=program, kind="program")
    with pytest.raises(ValidationError):
        manager_deduplicate(assignment=cycle_less, actor=admin_user)
