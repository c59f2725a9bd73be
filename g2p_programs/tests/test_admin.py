"""The programs back office through the Django test client: lists, the program and cycle forms,
workflow buttons per state, refusals, the generated manager configuration form, list actions,
funds and query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from g2p_programs.choices import (
    CycleState,
    DuplicateState,
    EntitlementState,
    FundState,
    ManagerKind,
    MembershipState,
    ProgramState,
)
from g2p_programs.factories import (
    CycleFactory,
    ProgramFactory,
    ProgramMembershipFactory,
    program_with_managers,
)
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    DuplicateGroup,
    DuplicateGroupMember,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatchTag,
    Program,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.roles import ROLE_FINANCE_VALIDATOR, ROLE_PROGRAM_VALIDATOR
from g2p_programs.tests.fixtures_money import add_volume, posted_fund

pytestmark = pytest.mark.django_db

DAILY_30 = {"recurrence": {"rrule_type": "daily", "cycle_duration": 30}}


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:g2p_programs_{name}", args=args or None)


def msgs(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m.message)) for m in get_messages(response.wsgi_request)]


def staff(django_user_model: Any, name: str, role: str) -> Any:
    user = django_user_model.objects.create_user(name, password=f"{name}-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def full_program(**fields: Any) -> Program:
    program = ProgramFactory(separation_of_duties=False, **fields)
    tag = PaymentBatchTag.objects.create(name=f"All {program.pk}", order=1, domain="[]")
    return program_with_managers(
        program=program,
        cycle=("default", DAILY_30),
        entitlement=("default", {"amount_per_cycle": "100.00"}),
        payment=("default", {"create_batch": True, "batch_tag_ids": [tag.pk]}),
    )


def enrol(program: Program, n: int, state: str = MembershipState.ENROLLED) -> list[Any]:
    return [ProgramMembershipFactory(program=program, state=state).registrant for _ in range(n)]


def cycle_with_members(program: Program, n: int, state: str = CycleState.DRAFT) -> Cycle:
    cycle = CycleFactory(program=program, sequence=1, state=state)
    for registrant in enrol(program, n):
        CycleMembership.objects.create(registrant=registrant, cycle=cycle, state="enrolled")
    return cycle


def add_entitlements(cycle: Cycle, state: str, amount: str = "100.00") -> None:
    for membership in cycle.memberships.all():
        Entitlement(
            registrant_id=membership.registrant_id,
            cycle=cycle,
            program=cycle.program,
            initial_amount=Decimal(amount),
            state=state,
        ).save()


# --------------------------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------------------------


def test_program_list_shows_each_program_with_its_counts(client, admin_user):
    elders = ProgramFactory(name="Elders")
    ProgramFactory(name="Youth", state=ProgramState.ENDED, date_ended=timezone.localdate())
    enrol(elders, 3)
    enrol(elders, 2, MembershipState.DRAFT)
    CycleFactory(program=elders, sequence=1)
    CycleFactory(program=elders, sequence=2)
    client.force_login(admin_user)

    response = client.get(url("program_changelist"))

    assert response.status_code == 200
    rows = {p.name: (p.state, p.enrolled_n, p.cycles_n) for p in response.context["cl"].result_list}
    assert rows == {"Elders": ("active", 3, 2), "Youth": ("ended", 0, 0)}


def test_program_form_shows_counts_per_state_and_balance(client, admin_user):
    program = full_program(name="Elders")
    enrol(program, 3)
    enrol(program, 2, MembershipState.DRAFT)
    enrol(program, 1, MembershipState.DUPLICATED)
    posted_fund(program, "1500.00")
    client.force_login(admin_user)

    response = client.get(url("program_change", program.pk))

    html = response.content.decode()
    assert response.status_code == 200
    beneficiaries = url("programmembership_changelist")
    for state, n in {
        "enrolled": 3,
        "draft": 2,
        "duplicated": 1,
        "not_eligible": 0,
        "paused": 0,
        "exited": 0,
        "total": 6,
    }.items():
        # each count links to the beneficiaries list filtered by the program (and the state)
        query = f"?program__id__exact={program.pk}"
        if state != "total":
            query += f"&amp;state__exact={state}"
        link = f'<a class="text-primary-600" href="{beneficiaries}{query}">{n}</a>'
        assert f'data-state="{state}">{link}</td>' in html
    assert "KES 1,500.00" in html
    assert "lock-banner" not in html
    # the managers are listed with links to their configuration forms
    for assignment in ManagerAssignment.objects.filter(program=program):
        assert url("managerassignment_change", assignment.pk) in html


def test_program_form_shows_the_lock_banner(client, admin_user):
    program = ProgramFactory(locked=True, locked_reason="Enrolling beneficiaries")
    client.force_login(admin_user)
    html = client.get(url("program_change", program.pk)).content.decode()
    assert "Operation in progress: Enrolling beneficiaries" in html


def test_workflow_buttons_are_hidden_while_a_job_holds_the_program_or_cycle(client, admin_user):
    from g2p_programs.tests.fixtures_money import make_cycle

    program = full_program()
    cycle = make_cycle(program)
    client.force_login(admin_user)
    program_buttons = ("program_enroll_eligible", "program_deduplicate", "program_end_program")
    cycle_buttons = ("cycle_copy_beneficiaries", "cycle_prepare_entitlements", "cycle_cancel")
    html = client.get(url("program_change", program.pk)).content.decode()
    assert all(url(name, program.pk) in html for name in program_buttons)
    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    assert all(url(name, cycle.pk) in html for name in cycle_buttons)

    Program.objects.filter(pk=program.pk).update(locked=True, locked_reason="Eligibility check")
    html = client.get(url("program_change", program.pk)).content.decode()
    assert not any(url(name, program.pk) in html for name in program_buttons)
    assert url("program_fund_report_link", program.pk) in html  # read-only: still there
    # a cycle of a locked program is locked too (its services refuse)
    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    assert not any(url(name, cycle.pk) in html for name in cycle_buttons)

    Program.objects.filter(pk=program.pk).update(locked=False, locked_reason="")
    Cycle.objects.filter(pk=cycle.pk).update(locked=True, locked_reason="Importing beneficiaries.")
    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    assert not any(url(name, cycle.pk) in html for name in cycle_buttons)
    assert "Operation in progress: Importing beneficiaries." in html
    html = client.get(url("program_change", program.pk)).content.decode()
    assert all(url(name, program.pk) in html for name in program_buttons)


def test_program_buttons_follow_the_program_state(client, admin_user):
    program = full_program()
    client.force_login(admin_user)
    active_only = (
        "program_enroll_eligible",
        "program_verify_eligibility",
        "program_deduplicate",
        "program_create_new_cycle",
        "program_end_program",
    )

    html = client.get(url("program_change", program.pk)).content.decode()
    for name in active_only:
        assert url(name, program.pk) in html
    assert url("program_reactivate_program", program.pk) not in html
    assert url("program_fund_report_link", program.pk) in html

    response = client.post(url("program_end_program", program.pk))
    program.refresh_from_db()
    assert program.state == ProgramState.ENDED
    assert msgs(response) == [("success", f"Program {program.name} ended.")]

    html = client.get(url("program_change", program.pk)).content.decode()
    for name in active_only:
        assert url(name, program.pk) not in html
    assert url("program_reactivate_program", program.pk) in html

    response = client.post(url("program_reactivate_program", program.pk))
    program.refresh_from_db()
    assert program.state == ProgramState.ACTIVE
    assert program.date_ended is None
    assert msgs(response) == [("success", f"Program {program.name} re-activated.")]


def test_get_on_a_button_asks_for_confirmation_and_changes_nothing(client, admin_user):
    program = full_program()
    client.force_login(admin_user)
    response = client.get(url("program_end_program", program.pk))
    assert response.status_code == 200
    assert "workflow-confirm" in response.content.decode()
    program.refresh_from_db()
    assert program.state == ProgramState.ACTIVE


def test_enroll_eligible_button_enrols_drafts_and_shows_the_message(client, admin_user):
    program = full_program()
    enrol(program, 4, MembershipState.DRAFT)
    client.force_login(admin_user)

    response = client.post(url("program_enroll_eligible", program.pk))

    assert response.status_code == 302
    states = list(ProgramMembership.objects.filter(program=program).values_list("state", flat=True))
    assert states == [MembershipState.ENROLLED] * 4
    assert msgs(response) == [
        ("success", "Enrolled Beneficiaries: 4 successfully and 0 unsuccessfully.")
    ]


def test_create_new_cycle_button_creates_cycle_1_with_the_beneficiaries(client, admin_user):
    program = full_program()
    enrol(program, 3)
    client.force_login(admin_user)

    response = client.post(url("program_create_new_cycle", program.pk))

    cycle = Cycle.objects.get(program=program)
    assert (cycle.name, cycle.state) == ("Cycle 1", CycleState.DRAFT)
    assert cycle.memberships.count() == 3
    [(level, _text)] = msgs(response)
    assert level == "success"


def test_program_buttons_refused_for_an_ended_program_change_nothing(client, admin_user):
    program = full_program(state=ProgramState.ENDED, date_ended=timezone.localdate())
    client.force_login(admin_user)
    response = client.post(url("program_end_program", program.pk))
    assert msgs(response) == [("error", "Ony 'active' programs can be ended.")]
    program.refresh_from_db()
    assert program.state == ProgramState.ENDED


def test_program_buttons_hidden_and_forbidden_without_permission(client, django_user_model):
    program = full_program()
    enrol(program, 2, MembershipState.DRAFT)
    finance = staff(django_user_model, "fin", ROLE_FINANCE_VALIDATOR)
    client.force_login(finance)

    html = client.get(url("program_change", program.pk)).content.decode()
    assert url("program_enroll_eligible", program.pk) not in html
    assert url("program_end_program", program.pk) not in html
    assert url("program_fund_report_link", program.pk) in html

    response = client.post(url("program_enroll_eligible", program.pk))
    assert response.status_code == 403
    assert set(
        ProgramMembership.objects.filter(program=program).values_list("state", flat=True)
    ) == {MembershipState.DRAFT}


def test_fund_report_page_shows_totals_and_ledger(client, admin_user):
    program = full_program()
    posted_fund(program, "1000.00")
    cycle = cycle_with_members(program, 2, CycleState.APPROVED)
    add_entitlements(cycle, EntitlementState.APPROVED, "150.00")
    Entitlement.objects.filter(cycle=cycle).update(date_approved=timezone.localdate())
    client.force_login(admin_user)

    response = client.get(url("program_fund_report_link", program.pk))

    assert response.status_code == 200
    report = response.context["report"]
    assert (report.posted_total, report.approved_total, report.balance) == (
        Decimal("1000.00"),
        Decimal("300.00"),
        Decimal("700.00"),
    )
    assert sorted(line["kind"] for line in response.context["lines"]) == [
        "entitlement",
        "entitlement",
        "fund",
    ]


# --------------------------------------------------------------------------------------------
# Cycles
# --------------------------------------------------------------------------------------------

CYCLE_BUTTONS = {
    CycleState.DRAFT: {
        "copy_beneficiaries",
        "check_eligibility",
        "prepare_entitlements",
        "to_approve",
        "cancel",
    },
    CycleState.TO_APPROVE: {"approve", "reset_draft", "cancel"},
    CycleState.APPROVED: {
        "approve_entitlements",
        "prepare_payments",
        "send_payments",
        "print_summary",
        "mark_distributed",
        "cancel",
    },
    CycleState.DISTRIBUTED: {"mark_ended"},
    CycleState.ENDED: set(),
    CycleState.CANCELLED: set(),
}
ALL_CYCLE_BUTTONS = set().union(*CYCLE_BUTTONS.values())
# Shown only when there is something for them to work on (upstream's view conditions).
CONDITIONAL_BUTTONS = {"to_approve", "approve_entitlements", "send_payments"}


def _shown_buttons(client, cycle) -> set[str]:  # type: ignore[no-untyped-def]
    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    return {b for b in ALL_CYCLE_BUTTONS if url(f"cycle_{b}", cycle.pk) in html}


@pytest.mark.parametrize("state", list(CYCLE_BUTTONS))
def test_cycle_buttons_shown_only_in_their_states(client, admin_user, state):
    cycle = CycleFactory(program=full_program(), state=state)
    client.force_login(admin_user)

    html = client.get(url("cycle_change", cycle.pk)).content.decode()

    shown = {b for b in ALL_CYCLE_BUTTONS if url(f"cycle_{b}", cycle.pk) in html}
    # An empty cycle: nothing to submit, approve or send.
    assert shown == CYCLE_BUTTONS[state] - CONDITIONAL_BUTTONS
    assert f'data-state="{state}" class' in html
    assert 'aria-current="step">' in html


def test_cycle_workflow_through_the_buttons(client, admin_user):
    program = full_program()
    enrol(program, 3)
    posted_fund(program, "1000.00")
    cycle = CycleFactory(program=program, sequence=1)
    client.force_login(admin_user)

    def press(button: str) -> tuple[str, str]:
        """POST the button; the message it added (messages of earlier presses are kept in the
        cookie because the redirect is not followed)."""
        response = client.post(url(f"cycle_{button}", cycle.pk))
        assert response.status_code == 302
        assert response["Location"] == url("cycle_change", cycle.pk)
        cycle.refresh_from_db()
        return msgs(response)[-1]

    assert press("copy_beneficiaries")[0] == "success"
    assert cycle.memberships.count() == 3
    assert cycle.state == CycleState.DRAFT

    assert press("check_eligibility")[0] == "success"
    assert cycle.memberships.filter(state="enrolled").count() == 3

    assert press("prepare_entitlements") == ("success", "3 entitlements prepared.")
    assert Entitlement.objects.filter(cycle=cycle, state=EntitlementState.DRAFT).count() == 3

    assert press("to_approve")[0] == "success"
    assert cycle.state == CycleState.TO_APPROVE
    assert set(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True)) == {
        EntitlementState.PENDING_VALIDATION
    }

    assert press("reset_draft") == ("success", "Cycle reset to draft.")
    assert cycle.state == CycleState.DRAFT
    press("to_approve")

    assert press("approve") == ("success", "Cycle Cycle 1 approved.")
    assert cycle.state == CycleState.APPROVED

    assert press("approve_entitlements") == ("success", "3 Entitlements are successfully approved.")
    assert set(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True)) == {
        EntitlementState.APPROVED
    }

    assert press("prepare_payments")[0] == "success"
    assert cycle.payments.count() == 3

    assert press("send_payments") == ("success", "Send payments completed.")
    assert set(cycle.payments.values_list("state", flat=True)) == {"sent"}

    assert press("mark_distributed")[0] == "success"
    assert cycle.state == CycleState.DISTRIBUTED

    assert press("mark_ended")[0] == "success"
    assert cycle.state == CycleState.ENDED


def test_cycle_cancel_button_cancels_cycle_and_entitlements(client, admin_user):
    cycle = cycle_with_members(full_program(), 2)
    add_entitlements(cycle, EntitlementState.DRAFT)
    client.force_login(admin_user)

    response = client.post(url("cycle_cancel", cycle.pk))

    cycle.refresh_from_db()
    assert cycle.state == CycleState.CANCELLED
    assert set(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True)) == {
        EntitlementState.CANCELLED
    }
    assert msgs(response) == [("success", "Cycle Cycle 1 cancelled.")]


def test_cycle_button_in_the_wrong_state_changes_nothing(client, admin_user):
    cycle = cycle_with_members(full_program(), 2, CycleState.APPROVED)
    client.force_login(admin_user)

    response = client.post(url("cycle_to_approve", cycle.pk))

    cycle.refresh_from_db()
    assert cycle.state == CycleState.APPROVED
    [(level, _text)] = msgs(response)
    assert level == "error"


def test_cycle_approve_refused_to_a_validator(client, django_user_model):
    cycle = cycle_with_members(full_program(), 2, CycleState.TO_APPROVE)
    validator = staff(django_user_model, "val", ROLE_PROGRAM_VALIDATOR)
    client.force_login(validator)

    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    assert url("cycle_approve", cycle.pk) not in html
    assert url("cycle_reset_draft", cycle.pk) in html

    response = client.post(url("cycle_approve", cycle.pk))

    assert response.status_code == 403
    cycle.refresh_from_db()
    assert cycle.state == CycleState.TO_APPROVE


def test_cycle_list_shows_members_and_entitlement_totals(client, admin_user):
    program = full_program(name="Elders")
    first = cycle_with_members(program, 3)
    add_entitlements(first, EntitlementState.DRAFT, "25.50")
    CycleFactory(program=program, sequence=2, name="Cycle 2")
    client.force_login(admin_user)

    response = client.get(url("cycle_changelist"))

    rows = {
        c.name: (c.program.name, c.members_n, c.entitlements_sum)
        for c in response.context["cl"].result_list
    }
    assert rows == {
        "Cycle 1": ("Elders", 3, Decimal("76.50")),
        "Cycle 2": ("Elders", 0, Decimal("0")),
    }


# --------------------------------------------------------------------------------------------
# Manager configuration
# --------------------------------------------------------------------------------------------


def _config_post(assignment: ManagerAssignment, **config: Any) -> dict[str, Any]:
    data = {"name": assignment.name, "sequence": assignment.sequence, "active": "on"}
    data.update({f"config__{k}": v for k, v in config.items()})
    return data


CYCLE_CONFIG_FORM = {
    "recurrence.rrule_type": "weekly",
    "recurrence.cycle_duration": "2",
    "recurrence.month_by": "date",
    "recurrence.day": "1",
    "recurrence.byday": "1",
    "recurrence.weekday": "MON",
    "recurrence.mon": "on",
    "recurrence.end_type": "count",
    "recurrence.count": "5",
    "recurrence.until": "",
    "recurrence.week_start": "7",
    "approver_group": "Cycle Approver",
    "auto_approve_entitlements": "on",
}


def test_manager_form_is_generated_from_the_schema(client, admin_user):
    program = full_program()
    cycle_manager = ManagerAssignment.objects.get(program=program, kind=ManagerKind.CYCLE)
    payment_manager = ManagerAssignment.objects.get(program=program, kind=ManagerKind.PAYMENT)
    client.force_login(admin_user)

    response = client.get(url("managerassignment_change", cycle_manager.pk))
    form = response.context["adminform"].form
    fields = form.fields
    assert fields["config__recurrence.rrule_type"].widget.input_type == "select"
    assert [c for c, _l in fields["config__recurrence.rrule_type"].choices] == [
        "daily",
        "weekly",
        "monthly",
        "yearly",
    ]
    assert fields["config__recurrence.cycle_duration"].widget.input_type == "number"
    assert fields["config__recurrence.mon"].widget.input_type == "checkbox"
    assert fields["config__approver_group"].widget.input_type == "text"
    assert form.initial["config__recurrence.rrule_type"] == "daily"
    assert form.initial["config__recurrence.cycle_duration"] == 30
    assert 'name="config__recurrence.rrule_type"' in response.content.decode()

    tag_ids = payment_manager.config["batch_tag_ids"]
    response = client.get(url("managerassignment_change", payment_manager.pk))
    html = response.content.decode()
    assert f'name="config__batch_tag_ids" value="{tag_ids[0]}"' in html


def test_manager_form_saves_a_valid_config(client, admin_user):
    program = full_program()
    assignment = ManagerAssignment.objects.get(program=program, kind=ManagerKind.CYCLE)
    client.force_login(admin_user)

    response = client.post(
        url("managerassignment_change", assignment.pk),
        _config_post(assignment, **CYCLE_CONFIG_FORM),
    )

    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.config["recurrence"]["rrule_type"] == "weekly"
    assert assignment.config["recurrence"]["cycle_duration"] == 2
    assert assignment.config["recurrence"]["mon"] is True
    assert assignment.config["recurrence"]["count"] == 5
    assert assignment.config["auto_approve_entitlements"] is True


def test_manager_form_saves_comma_separated_ids(client, admin_user):
    program = full_program()
    assignment = ManagerAssignment.objects.get(program=program, kind=ManagerKind.PAYMENT)
    first = PaymentBatchTag.objects.create(name="Bank", order=1, domain="[]")
    second = PaymentBatchTag.objects.create(name="Rest", order=2, domain="[]")
    client.force_login(admin_user)

    response = client.post(
        url("managerassignment_change", assignment.pk),
        _config_post(assignment, batch_tag_ids=f"{first.pk}, {second.pk}", create_batch="on"),
    )

    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.config == {"create_batch": True, "batch_tag_ids": [first.pk, second.pk]}

    response = client.post(
        url("managerassignment_change", assignment.pk),
        _config_post(assignment, batch_tag_ids="1, x"),
    )
    assert list(response.context["adminform"].form.errors) == ["config__batch_tag_ids"]
    response = client.post(
        url("managerassignment_change", assignment.pk),
        _config_post(assignment, batch_tag_ids="999999"),
    )
    assert response.context["adminform"].form.errors == {
        "config__batch_tag_ids": ["Unknown payment batch tags: [999999]."]
    }
    assignment.refresh_from_db()
    assert assignment.config == {"create_batch": True, "batch_tag_ids": [first.pk, second.pk]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recurrence.cycle_duration": "0"}, "config__recurrence.cycle_duration"),
        ({"approver_group": ""}, "config__approver_group"),
    ],
)
def test_manager_form_shows_field_errors_and_saves_nothing(client, admin_user, change, field):
    program = full_program()
    assignment = ManagerAssignment.objects.get(program=program, kind=ManagerKind.CYCLE)
    before = dict(assignment.config)
    client.force_login(admin_user)

    response = client.post(
        url("managerassignment_change", assignment.pk),
        _config_post(assignment, **{**CYCLE_CONFIG_FORM, **change}),
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.errors) == [field]
    assignment.refresh_from_db()
    assert assignment.config == before


def test_manager_form_error_from_the_config_model_lands_on_its_field(client, admin_user):
    program = program_with_managers(notification=["log"])
    assignment = ManagerAssignment.objects.get(program=program, kind=ManagerKind.NOTIFICATION)
    client.force_login(admin_user)

    response = client.post(
        url("managerassignment_change", assignment.pk), _config_post(assignment, level="LOUD")
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["config__level"]
    assignment.refresh_from_db()
    assert assignment.config == {"level": "INFO"}


# --------------------------------------------------------------------------------------------
# Entitlements, payments, funds, duplicates
# --------------------------------------------------------------------------------------------


def test_entitlement_list_and_approve_action(client, admin_user):
    program = full_program()
    posted_fund(program, "1000.00")
    cycle = cycle_with_members(program, 3, CycleState.APPROVED)
    add_entitlements(cycle, EntitlementState.PENDING_VALIDATION)
    other = cycle_with_members(full_program(), 1)
    add_entitlements(other, EntitlementState.DRAFT)
    client.force_login(admin_user)

    response = client.get(url("entitlement_changelist"), {"cycle__id__exact": cycle.pk})
    listed = [e.pk for e in response.context["cl"].result_list]
    ids = list(Entitlement.objects.filter(cycle=cycle).values_list("pk", flat=True))
    assert sorted(listed) == sorted(ids)

    response = client.post(
        url("entitlement_changelist"),
        {"action": "approve_selected", "_selected_action": ids[:2]},
    )

    assert response.status_code == 302
    assert msgs(response) == [("success", "2 Entitlements are successfully approved.")]
    assert sorted(
        Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True)
    ) == sorted([EntitlementState.APPROVED] * 2 + [EntitlementState.PENDING_VALIDATION])


def test_entitlement_approve_action_refused_without_fund_changes_nothing(client, admin_user):
    cycle = cycle_with_members(full_program(), 2, CycleState.APPROVED)
    add_entitlements(cycle, EntitlementState.PENDING_VALIDATION)
    ids = list(Entitlement.objects.filter(cycle=cycle).values_list("pk", flat=True))
    client.force_login(admin_user)

    response = client.post(
        url("entitlement_changelist"), {"action": "approve_selected", "_selected_action": ids}
    )

    [(level, text)] = msgs(response)
    assert level == "error"
    assert "insufficient" in text
    assert set(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True)) == {
        EntitlementState.PENDING_VALIDATION
    }


def test_payment_batch_send_action(client, admin_user):
    program = full_program()
    posted_fund(program, "1000.00")
    cycle = cycle_with_members(program, 2, CycleState.APPROVED)
    add_entitlements(cycle, EntitlementState.APPROVED)
    from g2p_programs.services.payments import payments_prepare

    payments_prepare(cycle=cycle, actor=None)
    batch_ids = list(cycle.payment_batches.values_list("pk", flat=True))
    assert len(batch_ids) == 1
    client.force_login(admin_user)

    response = client.get(url("paymentbatch_changelist"), {"cycle__id__exact": cycle.pk})
    assert [b.payments_n for b in response.context["cl"].result_list] == [2]
    response = client.get(url("payment_changelist"), {"cycle__id__exact": cycle.pk})
    assert len(response.context["cl"].result_list) == 2

    response = client.post(
        url("paymentbatch_changelist"), {"action": "send_batches", "_selected_action": batch_ids}
    )

    assert msgs(response) == [("success", "Send payments completed.")]
    assert set(cycle.payments.values_list("state", flat=True)) == {"sent"}


def test_fund_buttons_post_cancel_and_reset(client, admin_user, django_user_model):
    program = full_program()
    client.force_login(admin_user)
    response = client.post(
        url("programfund_add"),
        {"program": program.pk, "amount": "500.00", "currency": "KES", "remarks": "Donor"},
    )
    assert response.status_code == 302
    fund = ProgramFund.objects.get(program=program)
    assert fund.state == FundState.DRAFT

    html = client.get(url("programfund_change", fund.pk)).content.decode()
    assert url("programfund_post_fund", fund.pk) in html
    assert url("programfund_reset_fund", fund.pk) not in html

    response = client.post(url("programfund_cancel_fund", fund.pk))
    fund.refresh_from_db()
    assert fund.state == FundState.CANCELLED
    assert msgs(response) == [("success", "The fund is cancelled.")]
    html = client.get(url("programfund_change", fund.pk)).content.decode()
    assert url("programfund_post_fund", fund.pk) not in html
    assert url("programfund_reset_fund", fund.pk) in html

    client.post(url("programfund_reset_fund", fund.pk))
    response = client.post(url("programfund_post_fund", fund.pk))
    fund.refresh_from_db()
    assert fund.state == FundState.POSTED
    assert fund.name.startswith(f"PF-{timezone.localdate().year}-")
    assert msgs(response)[-1] == ("success", "This fund is now posted!")

    validator = staff(django_user_model, "val", ROLE_PROGRAM_VALIDATOR)
    client.force_login(validator)
    draft = ProgramFund(program=program, amount=Decimal("10"))
    draft.save()
    assert client.post(url("programfund_post_fund", draft.pk)).status_code == 403
    draft.refresh_from_db()
    assert draft.state == FundState.DRAFT


def test_duplicate_not_duplicate_action(client, admin_user):
    program = full_program()
    registrants = enrol(program, 2, MembershipState.DUPLICATED)
    group = DuplicateGroup.objects.create(program=program, reason="Same ID")
    for membership in ProgramMembership.objects.filter(registrant__in=registrants):
        DuplicateGroupMember.objects.create(duplicate_group=group, membership=membership)
    client.force_login(admin_user)

    response = client.get(url("duplicategroup_changelist"))
    assert [(g.reason, g.members_n) for g in response.context["cl"].result_list] == [("Same ID", 2)]

    response = client.post(
        url("duplicategroup_changelist"),
        {"action": "mark_not_duplicate", "_selected_action": [group.pk]},
    )

    group.refresh_from_db()
    assert group.state == DuplicateState.NOT_DUPLICATE
    assert set(
        ProgramMembership.objects.filter(program=program).values_list("state", flat=True)
    ) == {MembershipState.DRAFT}
    assert msgs(response) == [("success", "2 membership(s) reset to draft.")]


def test_payment_batch_tag_admin_lists_tags(client, admin_user):
    PaymentBatchTag.objects.create(name="Bank", order=2)
    PaymentBatchTag.objects.create(name="Cash", order=1)
    client.force_login(admin_user)
    response = client.get(url("paymentbatchtag_changelist"))
    assert [t.name for t in response.context["cl"].result_list] == ["Cash", "Bank"]


# --------------------------------------------------------------------------------------------
# Query counts
# --------------------------------------------------------------------------------------------


def _queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_lists_and_program_form_use_the_same_number_of_queries_for_5_and_50(client, admin_user):
    client.force_login(admin_user)
    program = full_program()
    cycle = CycleFactory(program=program, sequence=1)

    def grow(n: int) -> None:
        for _ in range(n):
            other = ProgramFactory()
            CycleFactory(program=other, sequence=1)
        add_volume(cycle, n)
        add_entitlements_missing(cycle)

    def add_entitlements_missing(c: Cycle) -> None:
        have = set(Entitlement.objects.filter(cycle=c).values_list("registrant_id", flat=True))
        for m in c.memberships.exclude(registrant_id__in=have):
            Entitlement(
                registrant_id=m.registrant_id, cycle=c, program=program, initial_amount=Decimal("5")
            ).save()

    paths = [
        url("program_changelist"),
        url("cycle_changelist"),
        url("entitlement_changelist"),
        url("program_change", program.pk),
    ]
    grow(4)
    small = [_queries(client, p) for p in paths]
    grow(45)
    assert Program.objects.count() == 50
    assert Entitlement.objects.count() == 49
    large = [_queries(client, p) for p in paths]
    assert large == small, (small, large)


# --------------------------------------------------------------------------------------------
# Adding records, read-only access and the menu
# --------------------------------------------------------------------------------------------


def test_program_add_form_creates_through_the_service_with_default_managers(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        url("program_add"),
        {
            "name": "Cash for elders",
            "description": "",
            "target_type": "individual",
            "currency": "KES",
            "separation_of_duties": "on",
            **{
                f"managers-{k}": v
                for k, v in {
                    "TOTAL_FORMS": "0",
                    "INITIAL_FORMS": "0",
                    "MIN_NUM_FORMS": "0",
                    "MAX_NUM_FORMS": "1000",
                }.items()
            },
        },
    )

    assert response.status_code == 302
    program = Program.objects.get(name="Cash for elders")
    assert program.target_type == "individual"
    kinds = set(ManagerAssignment.objects.filter(program=program).values_list("kind", flat=True))
    assert ManagerKind.PROGRAM in kinds
    assert ManagerKind.CYCLE in kinds


def test_manager_add_form_attaches_a_registered_manager(client, admin_user):
    program = ProgramFactory()
    client.force_login(admin_user)

    response = client.post(
        url("managerassignment_add"),
        {
            "program": program.pk,
            "kind": ManagerKind.ELIGIBILITY,
            "manager_key": "phone_number",
            "name": "Phones",
            "sequence": "20",
            "active": "on",
        },
    )

    assert response.status_code == 302
    assignment = ManagerAssignment.objects.get(program=program)
    assert (assignment.kind, assignment.manager_key, assignment.config) == (
        "eligibility",
        "phone_number",
        {"eligibility_domain": "[]"},
    )


def test_validator_sees_manager_config_read_only(client, django_user_model):
    program = full_program()
    assignment = ManagerAssignment.objects.get(program=program, kind=ManagerKind.CYCLE)
    client.force_login(staff(django_user_model, "val", ROLE_PROGRAM_VALIDATOR))

    assert client.get(url("managerassignment_change", assignment.pk)).status_code == 200
    response = client.post(
        url("managerassignment_change", assignment.pk),
        _config_post(assignment, **CYCLE_CONFIG_FORM),
    )
    assert response.status_code == 403
    assignment.refresh_from_db()
    assert assignment.config["recurrence"]["rrule_type"] == "daily"


def test_sidebar_lists_the_programs_menu(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("admin:index")).content.decode()
    for model in (
        "program",
        "cycle",
        "entitlement",
        "payment",
        "paymentbatch",
        "programfund",
        "duplicategroup",
        "paymentbatchtag",
    ):
        assert url(f"{model}_changelist") in html


def test_conditional_cycle_buttons_follow_the_cycle_content(client, admin_user):
    program = full_program()
    people = enrol(program, 2)
    cycle = CycleFactory(program=program, state=CycleState.DRAFT)
    client.force_login(admin_user)
    entitlement = Entitlement.objects.create(
        registrant=people[0],
        cycle=cycle,
        program=program,
        initial_amount=Decimal("10.00"),
    )
    assert "to_approve" in _shown_buttons(client, cycle)

    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    assert {"approve_entitlements", "send_payments"} & _shown_buttons(client, cycle) == {
        "approve_entitlements"
    }
    Cycle.objects.filter(pk=cycle.pk).update(auto_approve_entitlements=True)
    assert "approve_entitlements" not in _shown_buttons(client, cycle)

    Entitlement.objects.filter(pk=entitlement.pk).update(state="approved")
    Payment.objects.create(entitlement=entitlement, cycle=cycle, amount_issued=Decimal("10.00"))
    assert "send_payments" in _shown_buttons(client, cycle)
    Payment.objects.filter(cycle=cycle).update(state="sent")
    assert "send_payments" not in _shown_buttons(client, cycle)
