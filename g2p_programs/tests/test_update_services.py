"""program_update and cycle_update: upstream's edit rules, permissions, nothing half-written."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError

from g2p_programs.choices import CycleState, EntitlementState, ProgramState, TargetType
from g2p_programs.factories import CycleFactory, ProgramFactory, ProgramMembershipFactory
from g2p_programs.models import Entitlement, Program
from g2p_programs.roles import ROLE_PROGRAM_MANAGER
from g2p_programs.services.updates import cycle_update, program_update

pytestmark = pytest.mark.django_db

JAN = datetime.date(2025, 1, 1)
MAR = datetime.date(2025, 3, 31)


@pytest.fixture
def pm(django_user_model):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("pm", password="x")
    user.groups.add(Group.objects.get(name=ROLE_PROGRAM_MANAGER))
    return django_user_model.objects.get(pk=user.pk)


def errors(call):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        call()
    return exc.value.message_dict


def test_program_update_changes_the_fields(pm):
    program = ProgramFactory(name="Old", target_type=TargetType.GROUP, currency="KES")
    program_update(
        program=program,
        values={"name": " New ", "target_type": TargetType.INDIVIDUAL, "currency": "USD"},
        actor=pm,
    )
    stored = Program.objects.get(pk=program.pk)
    assert (stored.name, stored.target_type, stored.currency) == ("New", "individual", "USD")
    assert program.name == "New"


def test_program_update_refusals_change_nothing(pm, viewer):
    program = ProgramFactory(name="Cash", target_type=TargetType.GROUP)
    ProgramFactory(name="Food")
    ProgramMembershipFactory(program=program)
    assert errors(
        lambda: program_update(program=program, values={"target_type": "individual"}, actor=pm)
    ) == {"target_type": ["The target type cannot be changed once the program has beneficiaries."]}
    assert errors(lambda: program_update(program=program, values={"name": "FOOD"}, actor=pm)) == {
        "name": ["A program with this name already exists."]
    }
    assert errors(lambda: program_update(program=program, values={"state": "ended"}, actor=pm)) == {
        "state": ["This field cannot be changed here."]
    }
    with pytest.raises(PermissionDenied):
        program_update(program=program, values={"name": "Viewer"}, actor=viewer)
    Program.objects.filter(pk=program.pk).update(
        state=ProgramState.ENDED, date_ended=datetime.date.today()
    )
    assert errors(lambda: program_update(program=program, values={"name": "Late"}, actor=pm)) == {
        "name": ["An ended program cannot be changed; re-activate it first."]
    }
    program_update(program=program, values={"description": "Closed in June"}, actor=pm)
    stored = Program.objects.get(pk=program.pk)
    assert (stored.name, stored.target_type, stored.description) == (
        "Cash",
        "group",
        "Closed in June",
    )


def test_cycle_update_moves_draft_entitlements(pm):
    cycle = CycleFactory(start_date=JAN, end_date=MAR)
    membership = ProgramMembershipFactory(program=cycle.program)
    entitlement = Entitlement.objects.create(
        code="E1", registrant=membership.registrant, cycle=cycle, program=cycle.program,
        currency="KES", initial_amount=Decimal("5"), valid_from=JAN, valid_until=MAR,
        state=EntitlementState.DRAFT,
    )  # fmt: skip
    cycle_update(cycle=cycle, values={"end_date": datetime.date(2025, 6, 30)}, actor=pm)
    entitlement.refresh_from_db()
    assert (entitlement.valid_from, entitlement.valid_until) == (JAN, datetime.date(2025, 6, 30))
    assert errors(
        lambda: cycle_update(
            cycle=cycle, values={"start_date": datetime.date(2025, 7, 1)}, actor=pm
        )
    ) == {"end_date": ["The end date cannot be before the start date."]}
    cycle.refresh_from_db()
    cycle.state = CycleState.APPROVED
    cycle.save()
    assert errors(lambda: cycle_update(cycle=cycle, values={"name": "Renamed"}, actor=pm)) == {
        "name": ["The Cycle is not in draft mode"]
    }
    cycle.refresh_from_db()
    assert (cycle.start_date, cycle.end_date) == (JAN, datetime.date(2025, 6, 30))
    assert cycle.name != "Renamed"


def _program_form(program: Program, **changes: str) -> dict[str, str]:
    data = {
        "name": program.name,
        "description": program.description,
        "target_type": program.target_type,
        "currency": program.currency,
        "separation_of_duties": "on",
        # the managers inline, unchanged
        "managers-TOTAL_FORMS": "0",
        "managers-INITIAL_FORMS": "0",
        "managers-MIN_NUM_FORMS": "0",
        "managers-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_back_office_edits_go_through_the_update_service(client, admin_user):
    from django.urls import reverse

    program = ProgramFactory(name="Cash", target_type=TargetType.GROUP, currency="KES")
    ProgramMembershipFactory(program=program)
    client.force_login(admin_user)
    url = reverse("admin:g2p_programs_program_change", args=[program.pk])
    assert "target_type" in client.get(url).context["adminform"].form.fields
    data = _program_form(program)
    response = client.post(url, {**data, "target_type": "individual"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "target_type": ["The target type cannot be changed once the program has beneficiaries."]
    }
    assert Program.objects.get(pk=program.pk).target_type == TargetType.GROUP
    response = client.post(url, {**data, "description": "Edited in the back office"})
    assert response.status_code == 302
    assert Program.objects.get(pk=program.pk).description == "Edited in the back office"
