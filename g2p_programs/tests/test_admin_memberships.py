"""Back-office pages of beneficiaries and cycle beneficiaries, deletion by the delete rules,
the cycle's print summary and payment buttons, and job progress on program and cycle forms,
through the Django test client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from g2p_programs.choices import (
    CycleMembershipState,
    CycleState,
    EntitlementState,
    FundState,
    ManagerKind,
    MembershipState,
    PaymentState,
)
from g2p_programs.factories import (
    CycleFactory,
    CycleMembershipFactory,
    ProgramFactory,
    ProgramMembershipFactory,
    program_with_managers,
)
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    Program,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.program_managers.entitlement import DefaultCashEntitlementManager
from g2p_programs.registry import registry
from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
    ROLE_PROGRAM_VALIDATOR,
)
from g2p_programs.tests.fixtures_money import add_volume, posted_fund
from g2p_programs.tests.test_admin import full_program, msgs, staff, url
from g2p_registry_base.factories import IndividualFactory
from pbms.models import JobProgress, JobState

pytestmark = pytest.mark.django_db

NOBODY = "[('name', '=', 'Nobody at all')]"
CYCLE_REFUSAL = (
    "Beneficiaries can only be deleted when both the cycle and entitlement are unapproved."
)


def disabled_individual(**fields: Any) -> Any:
    return IndividualFactory(disabled=timezone.now(), disabled_reason="moved away", **fields)


def queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def listed(response: Any) -> list[int]:
    return [obj.pk for obj in response.context["cl"].result_list]


def entitle(cycle: Cycle, state: str = EntitlementState.DRAFT, amount: str = "100.00") -> None:
    for membership in cycle.memberships.order_by("pk"):
        Entitlement(
            registrant_id=membership.registrant_id,
            cycle=cycle,
            program=cycle.program,
            initial_amount=Decimal(amount),
            state=state,
        ).save()


def delete_action(client: Any, model: str, ids: list[int], *, confirmed: bool = True) -> Any:
    data: dict[str, Any] = {"action": "delete_selected", "_selected_action": ids}
    if confirmed:
        data["post"] = "yes"
    return client.post(url(f"{model}_changelist"), data)


# --------------------------------------------------------------------------------------------
# Beneficiaries list
# --------------------------------------------------------------------------------------------


def test_beneficiaries_list_filters_by_program_and_state_and_hides_disabled(client, admin_user):
    elders, youth = full_program(name="Elders"), full_program(name="Youth")
    enrolled = ProgramMembershipFactory(program=elders, state=MembershipState.ENROLLED)
    draft = ProgramMembershipFactory(program=elders, state=MembershipState.DRAFT)
    other = ProgramMembershipFactory(program=youth, state=MembershipState.DRAFT)
    ProgramMembershipFactory(program=elders, registrant=disabled_individual())
    client.force_login(admin_user)

    response = client.get(url("programmembership_changelist"))
    assert response.status_code == 200
    assert listed(response) == [other.pk, draft.pk, enrolled.pk]
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "registrant",
        "program",
        "state",
        "enrollment_date",
    ]
    html = response.content.decode()
    for text in (enrolled.registrant.name, "Elders", "Youth", "Enrolled", "Draft"):
        assert text in html

    by_program = client.get(url("programmembership_changelist"), {"program__id__exact": elders.pk})
    assert listed(by_program) == [draft.pk, enrolled.pk]
    by_state = client.get(
        url("programmembership_changelist"),
        {"program__id__exact": elders.pk, "state__exact": MembershipState.ENROLLED},
    )
    assert listed(by_state) == [enrolled.pk]


def test_beneficiaries_search_by_registrant_name(client, admin_user):
    program = full_program()
    ann = ProgramMembershipFactory(
        program=program, registrant=IndividualFactory(given_name="Annabel", family_name="Ochieng")
    )
    ProgramMembershipFactory(
        program=program, registrant=IndividualFactory(given_name="Brian", family_name="Kamau")
    )
    client.force_login(admin_user)
    response = client.get(url("programmembership_changelist"), {"q": "ochieng"})
    assert listed(response) == [ann.pk]


def test_program_form_counts_lead_to_the_filtered_beneficiaries(client, admin_user):
    program = full_program()
    enrolled = [ProgramMembershipFactory(program=program, state=MembershipState.ENROLLED)]
    ProgramMembershipFactory(program=program, state=MembershipState.DRAFT)
    # disabled registrants are neither counted nor listed (upstream's record rule)
    ProgramMembershipFactory(
        program=program, state=MembershipState.ENROLLED, registrant=disabled_individual()
    )
    client.force_login(admin_user)

    html = client.get(url("program_change", program.pk)).content.decode()
    link = f"{url('programmembership_changelist')}?program__id__exact={program.pk}"
    enrolled_link = f"{link}&amp;state__exact=enrolled"
    assert f'data-state="enrolled"><a class="text-primary-600" href="{enrolled_link}">1</a>' in html
    assert f'data-state="total"><a class="text-primary-600" href="{link}">2</a>' in html

    response = client.get(link + "&state__exact=enrolled")
    assert listed(response) == [m.pk for m in enrolled]


def test_beneficiaries_list_queries_do_not_grow_with_rows(client, admin_user):
    client.force_login(admin_user)
    program = full_program()
    path = url("programmembership_changelist")

    def grow(n: int) -> None:
        for _ in range(n):
            ProgramMembershipFactory(program=program, state=MembershipState.ENROLLED)
            ProgramFactory()  # another choice in the program filter

    grow(5)
    small = queries(client, path)
    grow(45)
    assert ProgramMembership.objects.count() == 50
    assert queries(client, path) == small


# --------------------------------------------------------------------------------------------
# Beneficiary form and its buttons
# --------------------------------------------------------------------------------------------

MEMBERSHIP_BUTTONS = {
    MembershipState.DRAFT: {"enroll", "verify_eligibility", "deduplicate"},
    MembershipState.ENROLLED: {"verify_eligibility", "deduplicate"},
    MembershipState.NOT_ELIGIBLE: {"back_to_draft"},
    MembershipState.DUPLICATED: {"back_to_draft"},
    MembershipState.PAUSED: set(),
    MembershipState.EXITED: set(),
}
ALL_MEMBERSHIP_BUTTONS = set().union(*MEMBERSHIP_BUTTONS.values())


def shown_membership_buttons(client: Any, membership: ProgramMembership) -> set[str]:
    html = client.get(url("programmembership_change", membership.pk)).content.decode()
    return {
        b for b in ALL_MEMBERSHIP_BUTTONS if url(f"programmembership_{b}", membership.pk) in html
    }


@pytest.mark.parametrize("state", list(MEMBERSHIP_BUTTONS))
def test_beneficiary_buttons_follow_the_state(client, admin_user, state):
    membership = ProgramMembershipFactory(program=full_program(), state=state)
    client.force_login(admin_user)
    assert shown_membership_buttons(client, membership) == MEMBERSHIP_BUTTONS[state]


def test_beneficiary_form_shows_the_registrant_read_only(client, admin_user):
    membership = ProgramMembershipFactory(program=full_program(), state=MembershipState.ENROLLED)
    client.force_login(admin_user)

    response = client.get(url("programmembership_change", membership.pk))

    html = response.content.decode()
    registrant_url = reverse(
        "admin:g2p_registry_base_individual_change", args=[membership.registrant_id]
    )
    assert f'id="registrant-link" href="{registrant_url}">{membership.registrant.name}</a>' in html
    assert list(response.context["adminform"].form.fields) == []  # nothing editable
    assert client.get(url("programmembership_add")).status_code == 403


def test_beneficiary_of_a_disabled_registrant_is_hidden(client, admin_user):
    membership = ProgramMembershipFactory(
        program=full_program(), state=MembershipState.DRAFT, registrant=disabled_individual()
    )
    client.force_login(admin_user)
    assert client.get(url("programmembership_change", membership.pk)).status_code == 302
    response = client.post(url("programmembership_enroll", membership.pk))
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.state == MembershipState.DRAFT


def test_enroll_button_enrols_an_eligible_draft(client, admin_user):
    membership = ProgramMembershipFactory(program=full_program(), state=MembershipState.DRAFT)
    client.force_login(admin_user)

    response = client.post(url("programmembership_enroll", membership.pk))

    assert response.status_code == 302
    assert response["Location"] == url("programmembership_change", membership.pk)
    assert msgs(response) == [("success", "1 Beneficiaries enrolled.")]
    membership.refresh_from_db()
    assert membership.state == MembershipState.ENROLLED
    assert membership.enrollment_date is not None


def test_enroll_button_marks_a_non_eligible_draft(client, admin_user):
    program = program_with_managers(eligibility=[("default", {"eligibility_domain": NOBODY})])
    membership = ProgramMembershipFactory(program=program, state=MembershipState.DRAFT)
    client.force_login(admin_user)

    response = client.post(url("programmembership_enroll", membership.pk))

    assert msgs(response) == [("warning", "beneficiary is not eligible")]
    membership.refresh_from_db()
    assert membership.state == MembershipState.NOT_ELIGIBLE


def test_verify_eligibility_button_never_promotes(client, admin_user):
    eligible = ProgramMembershipFactory(program=full_program(), state=MembershipState.DRAFT)
    strict = program_with_managers(eligibility=[("default", {"eligibility_domain": NOBODY})])
    rejected = ProgramMembershipFactory(program=strict, state=MembershipState.ENROLLED)
    client.force_login(admin_user)

    response = client.post(url("programmembership_verify_eligibility", eligible.pk))
    assert msgs(response) == [("success", "The beneficiary is eligible.")]
    eligible.refresh_from_db()
    assert eligible.state == MembershipState.DRAFT

    response = client.post(url("programmembership_verify_eligibility", rejected.pk))
    assert msgs(response)[-1] == ("warning", "beneficiary is not eligible")
    rejected.refresh_from_db()
    assert rejected.state == MembershipState.NOT_ELIGIBLE


def test_deduplicate_button_runs_the_program_deduplication(client, admin_user):
    program = full_program()
    membership = ProgramMembershipFactory(program=program, state=MembershipState.ENROLLED)
    client.force_login(admin_user)
    response = client.post(url("programmembership_deduplicate", membership.pk))
    assert msgs(response) == [("success", "No duplicates found.")]


def test_back_to_draft_button(client, admin_user):
    membership = ProgramMembershipFactory(
        program=full_program(), state=MembershipState.NOT_ELIGIBLE
    )
    client.force_login(admin_user)

    response = client.post(url("programmembership_back_to_draft", membership.pk))

    assert msgs(response) == [("success", "The beneficiary is back to draft.")]
    membership.refresh_from_db()
    assert membership.state == MembershipState.DRAFT


def test_button_of_another_state_is_refused_and_changes_nothing(client, admin_user):
    membership = ProgramMembershipFactory(program=full_program(), state=MembershipState.ENROLLED)
    client.force_login(admin_user)
    response = client.post(url("programmembership_back_to_draft", membership.pk))
    assert msgs(response) == [
        ("error", "Only Not Eligible or Duplicated memberships can be set back to draft.")
    ]
    membership.refresh_from_db()
    assert membership.state == MembershipState.ENROLLED


def test_beneficiary_buttons_by_role(client, django_user_model):
    membership = ProgramMembershipFactory(program=full_program(), state=MembershipState.DRAFT)
    client.force_login(staff(django_user_model, "fin", ROLE_FINANCE_VALIDATOR))
    assert shown_membership_buttons(client, membership) == set()
    assert client.post(url("programmembership_enroll", membership.pk)).status_code == 403
    membership.refresh_from_db()
    assert membership.state == MembershipState.DRAFT

    # a validator edits memberships but does not create duplicate records
    client.force_login(staff(django_user_model, "val", ROLE_PROGRAM_VALIDATOR))
    assert shown_membership_buttons(client, membership) == {"enroll", "verify_eligibility"}
    client.post(url("programmembership_enroll", membership.pk))
    membership.refresh_from_db()
    assert membership.state == MembershipState.ENROLLED


# --------------------------------------------------------------------------------------------
# Cycle beneficiaries
# --------------------------------------------------------------------------------------------


def cycle_of(n: int, state: str = CycleState.DRAFT, program: Program | None = None) -> Cycle:
    cycle = CycleFactory(program=program or full_program(), state=state)
    add_volume(cycle, n)
    return cycle


def test_cycle_beneficiaries_list_per_cycle_with_state(client, admin_user):
    cycle = cycle_of(2)
    other = cycle_of(1)
    rejected = CycleMembershipFactory(cycle=cycle, state=CycleMembershipState.NOT_ELIGIBLE)
    CycleMembershipFactory(cycle=cycle, registrant=disabled_individual())
    client.force_login(admin_user)

    response = client.get(url("cyclemembership_changelist"), {"cycle__id__exact": cycle.pk})

    ids = sorted(
        cycle.memberships.filter(registrant__disabled__isnull=True).values_list("pk", flat=True)
    )
    assert sorted(listed(response)) == ids
    assert len(ids) == 3
    html = response.content.decode()
    assert cycle.program.name in html
    assert "Not Eligible" in html
    by_state = client.get(
        url("cyclemembership_changelist"),
        {"cycle__id__exact": cycle.pk, "state__exact": CycleMembershipState.NOT_ELIGIBLE},
    )
    assert listed(by_state) == [rejected.pk]
    assert len(listed(client.get(url("cyclemembership_changelist")))) == 4
    assert listed(
        client.get(url("cyclemembership_changelist"), {"cycle__id__exact": other.pk})
    ) == list(other.memberships.values_list("pk", flat=True))


def test_cycle_form_links_to_its_beneficiaries_entitlements_and_payments(client, admin_user):
    cycle = cycle_of(3)
    entitle(cycle)
    CycleMembershipFactory(cycle=cycle, registrant=disabled_individual())  # not counted
    client.force_login(admin_user)

    html = client.get(url("cycle_change", cycle.pk)).content.decode()

    for key, model, text in (
        ("beneficiaries", "cyclemembership", "Beneficiaries: 3"),
        ("entitlements", "entitlement", "Entitlements: 3"),
        ("payments", "payment", "Payments: 0"),
    ):
        link = f"{url(f'{model}_changelist')}?cycle__id__exact={cycle.pk}"
        assert f'id="cycle-{key}" href="{link}">{text}</a>' in html


def test_cycle_beneficiaries_list_queries_do_not_grow_with_rows(client, admin_user):
    client.force_login(admin_user)
    cycle = cycle_of(0)
    path = url("cyclemembership_changelist")

    def grow(n: int) -> None:
        add_volume(cycle, n)
        for _ in range(n):
            CycleFactory(program=cycle.program)  # another choice in the cycle filter

    grow(5)
    small = queries(client, path)
    grow(45)
    assert CycleMembership.objects.count() == 50
    assert queries(client, path) == small


def test_cycle_beneficiaries_are_read_only(client, admin_user):
    cycle = cycle_of(1)
    membership = cycle.memberships.get()
    client.force_login(admin_user)
    assert client.get(url("cyclemembership_add")).status_code == 403
    response = client.get(url("cyclemembership_change", membership.pk))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == []


def test_delete_action_deletes_cycle_beneficiaries_with_their_entitlements(client, admin_user):
    cycle = cycle_of(3)
    entitle(cycle, EntitlementState.PENDING_VALIDATION)
    ids = list(cycle.memberships.order_by("pk").values_list("pk", flat=True))
    client.force_login(admin_user)

    confirmation = delete_action(client, "cyclemembership", ids[:2], confirmed=False)
    assert confirmation.status_code == 200
    assert cycle.memberships.count() == 3

    response = delete_action(client, "cyclemembership", ids[:2])

    assert response.status_code == 302
    assert msgs(response) == [
        ("info", "2 beneficiaries deleted, with 2 entitlements."),
        ("success", "Successfully deleted 2 cycle memberships."),
    ]
    assert list(cycle.memberships.values_list("pk", flat=True)) == [ids[2]]
    assert Entitlement.objects.filter(cycle=cycle).count() == 1
    assert LogEntry.objects.filter(object_id__in=[str(i) for i in ids[:2]]).count() == 2


def test_delete_action_refused_for_an_approved_entitlement_deletes_nothing(client, admin_user):
    cycle = cycle_of(3)
    entitle(cycle)
    ids = list(cycle.memberships.order_by("pk").values_list("pk", flat=True))
    Entitlement.objects.filter(registrant_id=cycle.memberships.get(pk=ids[0]).registrant_id).update(
        state=EntitlementState.APPROVED
    )
    client.force_login(admin_user)

    response = delete_action(client, "cyclemembership", ids)

    assert response.status_code == 302
    assert msgs(response) == [("error", CYCLE_REFUSAL)]
    assert cycle.memberships.count() == 3
    assert Entitlement.objects.filter(cycle=cycle).count() == 3
    assert not LogEntry.objects.exists()


def test_delete_view_of_a_cycle_beneficiary(client, admin_user):
    approved = cycle_of(1, CycleState.APPROVED)
    draft = cycle_of(1)
    kept, gone = approved.memberships.get(), draft.memberships.get()
    client.force_login(admin_user)

    response = client.post(url("cyclemembership_delete", kept.pk), {"post": "yes"})
    assert response.status_code == 302
    assert response["Location"] == url("cyclemembership_change", kept.pk)
    assert msgs(response) == [("error", CYCLE_REFUSAL)]
    assert CycleMembership.objects.filter(pk=kept.pk).exists()

    response = client.post(url("cyclemembership_delete", gone.pk), {"post": "yes"})
    assert response["Location"] == url("cyclemembership_changelist")
    assert msgs(response)[-2][0] == "info"
    assert msgs(response)[-1][0] == "success"
    assert not CycleMembership.objects.filter(pk=gone.pk).exists()


def test_a_program_manager_cannot_delete_cycle_beneficiaries(client, django_user_model):
    cycle = cycle_of(2)
    ids = list(cycle.memberships.values_list("pk", flat=True))
    client.force_login(staff(django_user_model, "pm", ROLE_PROGRAM_MANAGER))

    assert client.post(url("cyclemembership_delete", ids[0]), {"post": "yes"}).status_code == 403
    response = delete_action(client, "cyclemembership", ids)
    assert (response.status_code, msgs(response)) == (200, [])  # no such action for them
    assert cycle.memberships.count() == 2


# --------------------------------------------------------------------------------------------
# Entitlements, payments, batches, funds and cycles: delete rules in the admin
# --------------------------------------------------------------------------------------------


def test_entitlement_delete_view_and_action_follow_the_draft_rule(client, django_user_model):
    cycle = cycle_of(3)
    entitle(cycle)
    ids = list(Entitlement.objects.order_by("pk").values_list("pk", flat=True))
    Entitlement.objects.filter(pk=ids[0]).update(state=EntitlementState.APPROVED)
    client.force_login(staff(django_user_model, "pm", ROLE_PROGRAM_MANAGER))

    response = client.post(url("entitlement_delete", ids[0]), {"post": "yes"})
    assert response["Location"] == url("entitlement_change", ids[0])
    assert msgs(response) == [("error", "Only draft entitlements are allowed to be deleted")]

    response = delete_action(client, "entitlement", ids)
    assert msgs(response)[-1] == ("error", "Only draft entitlements are allowed to be deleted")
    assert sorted(Entitlement.objects.values_list("pk", flat=True)) == ids

    draft = Entitlement.objects.get(pk=ids[1])
    response = client.post(url("entitlement_delete", draft.pk), {"post": "yes"})
    assert response["Location"] == url("entitlement_changelist")
    assert msgs(response)[-1] == ("success", f"The entitlement “{draft}” was deleted successfully.")

    response = delete_action(client, "entitlement", [ids[2]])
    assert msgs(response)[-1] == ("success", "Successfully deleted 1 entitlement.")
    assert list(Entitlement.objects.values_list("pk", flat=True)) == [ids[0]]


def test_a_program_validator_cannot_delete_entitlements(client, django_user_model):
    cycle = cycle_of(1)
    entitle(cycle)
    entitlement = Entitlement.objects.get()
    client.force_login(staff(django_user_model, "val", ROLE_PROGRAM_VALIDATOR))

    html = client.get(url("entitlement_change", entitlement.pk)).content.decode()
    assert url("entitlement_delete", entitlement.pk) not in html
    assert (
        client.post(url("entitlement_delete", entitlement.pk), {"post": "yes"}).status_code == 403
    )
    response = delete_action(client, "entitlement", [entitlement.pk])
    assert (response.status_code, msgs(response)) == (200, [])  # no such action for them
    assert Entitlement.objects.filter(pk=entitlement.pk).exists()


def paid(cycle: Cycle) -> list[Payment]:
    entitle(cycle, EntitlementState.APPROVED)
    return [
        Payment.objects.create(entitlement=e, cycle=cycle, amount_issued=e.initial_amount)
        for e in Entitlement.objects.filter(cycle=cycle).order_by("pk")
    ]


def test_payment_deletion_only_while_issued(client, admin_user):
    payments = paid(cycle_of(2, CycleState.APPROVED))
    Payment.objects.filter(pk=payments[0].pk).update(state=PaymentState.SENT)
    client.force_login(admin_user)

    response = client.post(url("payment_delete", payments[0].pk), {"post": "yes"})
    assert msgs(response) == [("error", "You cannot delete records in Sent state.")]
    response = delete_action(client, "payment", [p.pk for p in payments])
    assert msgs(response)[-1] == ("error", "You cannot delete records in Sent state.")
    assert Payment.objects.count() == 2

    response = delete_action(client, "payment", [payments[1].pk])
    assert msgs(response)[-1] == ("success", "Successfully deleted 1 payment.")
    assert list(Payment.objects.values_list("pk", flat=True)) == [payments[0].pk]


def test_payment_batch_deletion_refused_once_started(client, admin_user):
    cycle = cycle_of(2, CycleState.APPROVED)
    payments = paid(cycle)
    started = PaymentBatch.objects.create(cycle=cycle, batch_has_started=True)
    waiting = PaymentBatch.objects.create(cycle=cycle)
    Payment.objects.filter(pk=payments[0].pk).update(batch=started)
    Payment.objects.filter(pk=payments[1].pk).update(batch=waiting)
    client.force_login(admin_user)

    response = client.post(url("paymentbatch_delete", started.pk), {"post": "yes"})
    assert msgs(response) == [("error", "Deletion is not allowed once the batch has started.")]
    assert PaymentBatch.objects.count() == 2

    response = client.post(url("paymentbatch_delete", waiting.pk), {"post": "yes"})
    assert response["Location"] == url("paymentbatch_changelist")
    assert list(PaymentBatch.objects.values_list("pk", flat=True)) == [started.pk]
    assert list(Payment.objects.values_list("pk", flat=True)) == [payments[0].pk]


def test_fund_deletion_refused_for_a_posted_fund(client, admin_user):
    program = full_program()
    posted = posted_fund(program, "100.00")
    draft = ProgramFund(program=program, amount=Decimal("5"))
    draft.save()
    client.force_login(admin_user)

    response = delete_action(client, "programfund", [posted.pk, draft.pk])
    assert msgs(response) == [("error", "This fund is already posted and cannot be deleted.")]
    assert ProgramFund.objects.count() == 2

    response = client.post(url("programfund_delete", draft.pk), {"post": "yes"})
    assert response["Location"] == url("programfund_changelist")
    assert list(ProgramFund.objects.values_list("state", flat=True)) == [FundState.POSTED]


def test_cycle_deletion_follows_the_cycle_rules(client, admin_user):
    with_members = cycle_of(1)
    empty = CycleFactory(program=with_members.program)
    client.force_login(admin_user)

    response = client.post(url("cycle_delete", with_members.pk), {"post": "yes"})
    assert msgs(response) == [
        ("error", "Cycle cannot be deleted when beneficiaries are present in the cycle.")
    ]
    assert Cycle.objects.filter(pk=with_members.pk).exists()

    response = client.post(url("cycle_delete", empty.pk), {"post": "yes"})
    assert response["Location"] == url("cycle_changelist")
    assert not Cycle.objects.filter(pk=empty.pk).exists()

    # no bulk deletion of cycles from the list
    assert client.get(url("cycle_changelist")).context["action_form"] is None


# --------------------------------------------------------------------------------------------
# Cycle print summary and payment buttons
# --------------------------------------------------------------------------------------------


class InKindEntitlementManager(DefaultCashEntitlementManager):
    key = "in_kind_admin_test"
    label = "In kind (admin test)"
    IS_CASH = False


def approved_cycle(program: Program | None = None) -> Cycle:
    program = program or full_program(name="Elder Cash", currency="KES")
    cycle = cycle_of(2, CycleState.APPROVED, program)
    entitle(cycle, EntitlementState.APPROVED, "625.25")
    Cycle.objects.filter(pk=cycle.pk).update(approved_date=timezone.now())
    return cycle


PAYMENT_BUTTONS = ("prepare_payments", "send_payments", "print_summary")


def shown(client: Any, cycle: Cycle, names: tuple[str, ...] = PAYMENT_BUTTONS) -> set[str]:
    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    return {n for n in names if url(f"cycle_{n}", cycle.pk) in html}


def test_print_summary_page(client, admin_user):
    cycle = approved_cycle()
    Cycle.objects.filter(pk=cycle.pk).update(approved_by=admin_user)
    client.force_login(admin_user)

    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    assert url("cycle_print_summary", cycle.pk) in html
    response = client.get(url("cycle_print_summary", cycle.pk))

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "admin/g2p_programs/cycle_summary.html"
    html = response.content.decode()
    for element, value in {
        "summary-program": "Elder Cash",
        "summary-cycle": cycle.name,
        "summary-approved-by": admin_user.username,
        "summary-members": "2",
        "summary-entitlements": "2",
        "summary-currency": "KES",
        "summary-total": "1,250.50",
        "summary-words": "One Thousand Two Hundred Fifty And 50/100 KES",
    }.items():
        assert f'id="{element}">{value}</td>' in html
    assert 'id="print-button" onclick="window.print()"' in html
    assert "@media print" in html


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (ROLE_PROGRAM_MANAGER, True),
        (ROLE_CYCLE_APPROVER, True),
        (ROLE_PROGRAM_VALIDATOR, False),
        (ROLE_FINANCE_VALIDATOR, False),
    ],
)
def test_print_summary_by_role(client, django_user_model, role, allowed):
    cycle = approved_cycle()
    client.force_login(staff(django_user_model, "someone", role))
    assert ("print_summary" in shown(client, cycle)) is allowed
    assert client.get(url("cycle_print_summary", cycle.pk)).status_code == (200 if allowed else 403)


def test_print_summary_only_for_approved_cycles(client, admin_user):
    cycle = approved_cycle()
    client.force_login(admin_user)
    for state in (CycleState.DRAFT, CycleState.TO_APPROVE, CycleState.DISTRIBUTED):
        Cycle.objects.filter(pk=cycle.pk).update(state=state)
        assert "print_summary" not in shown(client, cycle)
    response = client.get(url("cycle_print_summary", cycle.pk))
    assert response["Location"] == url("cycle_change", cycle.pk)
    assert msgs(response) == [("error", "The summary can only be printed for an approved cycle.")]


def test_payment_buttons_and_summary_only_for_cash_with_a_payment_manager(client, admin_user):
    client.force_login(admin_user)
    cycle = approved_cycle()
    Payment.objects.create(
        entitlement=Entitlement.objects.filter(cycle=cycle).first(),
        cycle=cycle,
        amount_issued=Decimal("625.25"),
    )
    assert shown(client, cycle) == {"prepare_payments", "send_payments", "print_summary"}

    # no payment manager: nothing to prepare or send payments with (upstream's hide_cash)
    ManagerAssignment.objects.filter(program=cycle.program, kind=ManagerKind.PAYMENT).delete()
    assert shown(client, cycle) == {"print_summary"}
    response = client.post(url("cycle_prepare_payments", cycle.pk))
    assert msgs(response) == [("error", "No Payment Manager defined.")]

    # an entitlement manager that is not cash: no payments, no summary
    other = approved_cycle(full_program(name="Food basket"))
    with registry.temporarily(InKindEntitlementManager):
        ManagerAssignment.objects.filter(
            program=other.program, kind=ManagerKind.ENTITLEMENT
        ).update(manager_key="in_kind_admin_test")
        assert shown(client, other) == set()
        response = client.get(url("cycle_print_summary", other.pk))
        assert msgs(response) == [("error", "The summary is only available for cash entitlements.")]


# --------------------------------------------------------------------------------------------
# Job progress on the program and cycle forms
# --------------------------------------------------------------------------------------------


def progress(target: str, **fields: Any) -> JobProgress:
    return JobProgress.objects.create(target=target, **fields)


def test_program_form_shows_the_running_job_progress(client, admin_user):
    program = ProgramFactory(locked=True, locked_reason="Eligibility check of beneficiaries")
    progress(f"program:{program.pk}", operation="g2p.enrol", state=JobState.DONE, total=4, done=4)
    progress(
        f"program:{program.pk}",
        operation="g2p.enrol",
        state=JobState.RUNNING,
        total=10,
        done=3,
        error_count=2,
        message="2 rows could not be checked",
    )
    progress(f"program:{program.pk + 1000}", operation="g2p.enrol", total=99, done=98)
    client.force_login(admin_user)

    html = client.get(url("program_change", program.pk)).content.decode()

    assert "Operation in progress: Eligibility check of beneficiaries" in html
    assert 'id="job-progress" data-state="running"' in html
    assert 'max="10" value="3">30%</progress>' in html
    assert 'id="job-progress-count">3 / 10</span>' in html
    assert 'id="job-progress-errors">2 errors</span>' in html
    assert 'id="job-progress-message">2 rows could not be checked</span>' in html
    assert "last-operation" not in html
    assert "98" not in html.split('id="lock-banner"')[1].split("</div>")[0]


def test_program_form_shows_the_last_operation_after_it_ends(client, admin_user):
    program = ProgramFactory()
    progress(
        f"program:{program.pk}",
        operation="g2p.enrol",
        state=JobState.DONE,
        total=500,
        done=500,
        message="Eligibility check finished.",
        finished_at=timezone.now(),
    )
    client.force_login(admin_user)

    html = client.get(url("program_change", program.pk)).content.decode()

    assert "lock-banner" not in html
    assert 'id="last-operation" data-state="done"' in html
    last = html.split('id="last-operation"')[1].split("</p>")[0]
    assert "Eligibility check of beneficiaries" in last
    assert "Done: Eligibility check finished." in last
    assert "(500 / 500" in last


def test_cycle_form_shows_progress_and_failure(client, admin_user):
    cycle = CycleFactory(
        program=full_program(), locked=True, locked_reason="Prepare entitlement for beneficiaries."
    )
    job = progress(
        f"cycle:{cycle.pk}",
        operation="g2p.prepare_entitlements",
        state=JobState.QUEUED,
        total=2000,
    )
    client.force_login(admin_user)

    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    assert 'id="job-progress" data-state="queued"' in html
    assert 'id="job-progress-count">0 / 2000</span>' in html

    Cycle.objects.filter(pk=cycle.pk).update(locked=False, locked_reason="")
    JobProgress.objects.filter(pk=job.pk).update(
        state=JobState.FAILED,
        done=1000,
        error_count=1,
        message="worker lost",
        finished_at=timezone.now(),
    )
    html = client.get(url("cycle_change", cycle.pk)).content.decode()
    assert "lock-banner" not in html
    last = html.split('id="last-operation" data-state="failed"')[1].split("</p>")[0]
    assert "Prepare entitlement for beneficiaries." in last
    assert "Failed</span>: worker lost" in last
    assert "(1000 / 2000, 1 error," in last


def test_sidebar_lists_beneficiary_pages(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("admin:index")).content.decode()
    assert url("programmembership_changelist") in html
    assert url("cyclemembership_changelist") in html


def test_cycle_and_beneficiary_forms_queries_do_not_grow_with_rows(client, admin_user):
    client.force_login(admin_user)
    cycle = cycle_of(0, CycleState.APPROVED)
    membership = ProgramMembershipFactory(program=cycle.program, state=MembershipState.DRAFT)
    progress(f"cycle:{cycle.pk}", operation="g2p.payments_prepare", state=JobState.DONE)
    paths = [url("cycle_change", cycle.pk), url("programmembership_change", membership.pk)]

    def grow(n: int) -> None:
        add_volume(cycle, n)
        have = set(Entitlement.objects.values_list("registrant_id", flat=True))
        for m in cycle.memberships.exclude(registrant_id__in=have):
            e = Entitlement(
                registrant_id=m.registrant_id,
                cycle=cycle,
                program=cycle.program,
                initial_amount=Decimal("5"),
                state=EntitlementState.APPROVED,
            )
            e.save()
            Payment.objects.create(entitlement=e, cycle=cycle, amount_issued=e.initial_amount)

    grow(5)
    small = [queries(client, p) for p in paths]
    grow(45)
    assert Payment.objects.count() == 50
    assert [queries(client, p) for p in paths] == small
