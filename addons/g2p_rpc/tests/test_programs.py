"""Program lifecycle over RPC with OdooRPC: wizards, upstream buttons and refusals."""

from __future__ import annotations

from decimal import Decimal

import odoorpc
import pytest
from django.contrib.auth.models import Group

from g2p_programs.models import (
    Cycle,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatchTag,
    Program,
    ProgramFund,
)
from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
)
from g2p_programs.services import programs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def make_user(django_user_model, username, role):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(username, password=f"{username}-pass-123")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def users(django_user_model):  # type: ignore[no-untyped-def]
    return {
        "pm": make_user(django_user_model, "pm", ROLE_PROGRAM_MANAGER),
        "approver": make_user(django_user_model, "approver", ROLE_CYCLE_APPROVER),
        "finance": make_user(django_user_model, "finance", ROLE_FINANCE_VALIDATOR),
    }


def connect(server, login):  # type: ignore[no-untyped-def]
    client = odoorpc.ODOO(server.host, port=server.port, timeout=60)
    client.login(server.db, login, f"{login}-pass-123")
    return client


def call(client, model, method, ids, **kwargs):  # type: ignore[no-untyped-def]
    return client.execute_kw(model, method, [ids], kwargs)


def refused(client, model, method, ids, name):  # type: ignore[no-untyped-def]
    with pytest.raises(odoorpc.error.RPCError) as err:
        call(client, model, method, ids)
    assert err.value.info["data"]["name"] == name
    return err.value.info["data"]["message"]


def configure_batches(program_id):  # type: ignore[no-untyped-def]
    """The back-office step of giving the payment manager a batch tag."""
    tag = PaymentBatchTag.objects.create(name="Everyone", order=1)
    assignment = ManagerAssignment.objects.get(program_id=program_id, kind="payment")
    programs.manager_configure(
        assignment=assignment,
        config={**assignment.config, "create_batch": True, "batch_tag_ids": [tag.pk]},
        actor=None,
    )


def make_program(client):  # type: ignore[no-untyped-def]
    wizard = client.env["g2p.program.create.wizard"]
    wizard_id = wizard.create(
        {"name": "Cash for Households", "currency": "KES", "amount_per_cycle": 100.0}
    )
    action = call(client, "g2p.program.create.wizard", "create_program", [wizard_id])
    assert action["type"] == "ir.actions.act_window"
    assert action["res_model"] == "g2p.program"
    return action["res_id"]


def add_households(client, program_id, household_ids):  # type: ignore[no-untyped-def]
    wizard_id = client.execute_kw(
        "g2p.assign.program.wizard",
        "create",
        [{"program_id": program_id}],
        {"context": {"active_ids": household_ids}},
    )
    [row] = client.execute_kw(
        "g2p.assign.program.wizard", "read", [[wizard_id], ["program_id", "target_type"]]
    )
    assert row["program_id"][0] == program_id
    assert row["target_type"] == "group"
    return call(client, "g2p.assign.program.wizard", "assign_registrant", [wizard_id])


def test_whole_program_lifecycle_through_buttons(server, users, registry_data):
    households = [registry_data["first"].pk, registry_data["second"].pk]
    pm = connect(server, "pm")
    program_id = make_program(pm)
    program = pm.env["g2p.program"].browse(program_id)
    assert (program.name, program.state, program.target_type) == (
        "Cash for Households",
        "active",
        "group",
    )

    answer = add_households(pm, program_id, households)
    assert answer["tag"] == "display_notification"
    assert answer["params"]["message"] == "Total registrants:2, Already in program:0, Newly added:2"
    rows = pm.env["g2p.program_membership"].search_read(
        [["program_id", "=", program_id]], ["partner_id", "state"], order="id"
    )
    assert [(r["partner_id"][0], r["state"]) for r in rows] == [(h, "draft") for h in households]

    answer = call(pm, "g2p.program", "enroll_eligible_registrants", [program_id])
    assert answer["tag"] == "display_notification"
    program = pm.env["g2p.program"].browse(program_id)
    assert program.eligible_beneficiaries_count == 2
    assert program.beneficiaries_count == 2

    call(pm, "g2p.program", "create_new_cycle", [program_id])
    [cycle_id] = pm.env["g2p.cycle"].search([["program_id", "=", program_id]])
    cycle = pm.env["g2p.cycle"].browse(cycle_id)
    assert cycle.state == "draft"
    if cycle.members_count == 0:
        call(pm, "g2p.cycle", "copy_beneficiaries_from_program", [cycle_id])
    assert pm.env["g2p.cycle"].browse(cycle_id).members_count == 2

    call(pm, "g2p.cycle", "prepare_entitlement", [cycle_id])
    ents = pm.env["g2p.entitlement"].search_read(
        [["cycle_id", "=", cycle_id]], ["partner_id", "initial_amount", "state", "currency"]
    )
    assert sorted(e["partner_id"][0] for e in ents) == sorted(households)
    assert {(e["initial_amount"], e["state"], e["currency"]) for e in ents} == {
        (100.0, "draft", "KES")
    }

    call(pm, "g2p.cycle", "to_approve", [cycle_id])
    assert pm.env["g2p.cycle"].browse(cycle_id).state == "to_approve"

    approver = connect(server, "approver")
    call(approver, "g2p.cycle", "approve", [cycle_id])
    [row] = approver.env["g2p.cycle"].read([cycle_id], ["state", "approved_by"])
    assert row["state"] == "approved"
    assert row["approved_by"] == [users["approver"].pk, "approver"]

    finance = connect(server, "finance")
    fund_id = finance.env["g2p.program.fund"].create(
        {"program_id": program_id, "amount": 500.0, "remarks": "Donor grant"}
    )
    assert finance.env["g2p.program.fund"].browse(fund_id).state == "draft"
    call(finance, "g2p.program.fund", "post_fund", [fund_id])
    [fund] = finance.env["g2p.program.fund"].read([fund_id], ["state", "amount", "currency"])
    assert (fund["state"], fund["amount"], fund["currency"]) == ("posted", 500.0, "KES")
    assert finance.env["g2p.program"].browse(program_id).fund_balance == 500.0

    answer = call(finance, "g2p.cycle", "validate_entitlement", [cycle_id])
    assert answer["tag"] == "display_notification"
    states = {e.state for e in Entitlement.objects.filter(cycle_id=cycle_id)}
    assert states == {"approved"}
    assert finance.env["g2p.program"].browse(program_id).fund_balance == 300.0

    configure_batches(program_id)
    answer = call(finance, "g2p.cycle", "prepare_payment", [cycle_id])
    assert answer["params"]["message"] == (
        "Payment batch successfully created for 2 beneficiaries."
    )
    pays = finance.env["g2p.payment"].search_read(
        [["cycle_id", "=", cycle_id]], ["amount_issued", "state", "partner_id", "program_id"]
    )
    assert len(pays) == 2
    assert {(p["amount_issued"], p["state"], p["program_id"][0]) for p in pays} == {
        (100.0, "issued", program_id)
    }
    assert finance.env["g2p.cycle"].browse(cycle_id).payment_batch_ids

    call(finance, "g2p.cycle", "send_payment", [cycle_id])
    assert set(Payment.objects.filter(cycle_id=cycle_id).values_list("state", flat=True)) == {
        "sent"
    }


def test_refusals_change_nothing(server, users, registry_data, registry_admin):
    pm = connect(server, "pm")
    program_id = make_program(pm)
    add_households(pm, program_id, [registry_data["first"].pk])
    call(pm, "g2p.program", "enroll_eligible_registrants", [program_id])
    call(pm, "g2p.program", "create_new_cycle", [program_id])
    cycle = Cycle.objects.get(program_id=program_id)
    if not cycle.memberships.exists():
        call(pm, "g2p.cycle", "copy_beneficiaries_from_program", [cycle.pk])

    # wrong state: an active program cannot be re-activated; a draft cycle cannot be approved
    message = refused(
        pm, "g2p.program", "reactivate_program", [program_id], "odoo.exceptions.ValidationError"
    )
    assert message == "Ony 'ended' programs can be re-activated."
    approver = connect(server, "approver")
    refused(approver, "g2p.cycle", "approve", [cycle.pk], "odoo.exceptions.ValidationError")
    assert Cycle.objects.get(pk=cycle.pk).state == "draft"

    # wrong role: the program manager may not post funds nor approve the cycle
    finance = connect(server, "finance")
    fund_id = finance.env["g2p.program.fund"].create({"program_id": program_id, "amount": 50.0})
    refused(pm, "g2p.program.fund", "post_fund", [fund_id], "odoo.exceptions.AccessError")
    assert ProgramFund.objects.get(pk=fund_id).state == "draft"
    admin = odoorpc.ODOO(server.host, port=server.port, timeout=60)
    admin.login(server.db, "regadmin", "regadmin-pass-123")
    call(admin, "g2p.cycle", "prepare_entitlement", [cycle.pk])
    call(pm, "g2p.cycle", "to_approve", [cycle.pk])
    refused(pm, "g2p.cycle", "approve", [cycle.pk], "odoo.exceptions.AccessError")
    assert Cycle.objects.get(pk=cycle.pk).state == "to_approve"

    # a cycle waiting for approval keeps its name
    with pytest.raises(odoorpc.error.RPCError) as err:
        pm.execute_kw("g2p.cycle", "write", [[cycle.pk], {"name": "Renamed"}])
    assert err.value.info["data"]["name"] == "odoo.exceptions.ValidationError"
    assert err.value.info["data"]["message"] == "name: The Cycle is not in draft mode"
    assert Cycle.objects.get(pk=cycle.pk).name != "Renamed"

    # separation of duties: who prepared the entitlements does not approve them
    call(approver, "g2p.cycle", "approve", [cycle.pk])
    call(finance, "g2p.program.fund", "post_fund", [fund_id])
    before = list(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True))
    message = refused(
        admin, "g2p.cycle", "validate_entitlement", [cycle.pk], "odoo.exceptions.ValidationError"
    )
    assert message == "The user who prepared the entitlements of this cycle cannot approve them."
    after = list(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True))
    assert before == after
    assert Program.objects.get(pk=program_id).state == "active"


def test_program_fields_and_search(server, users, registry_data):
    pm = connect(server, "pm")
    program_id = make_program(pm)
    info = pm.env["g2p.program"].fields_get(["state", "cycle_ids", "target_type"])
    assert info["state"]["readonly"] is True
    assert info["cycle_ids"]["relation"] == "g2p.cycle"
    assert ["individual", "Individual"] in info["target_type"]["selection"]
    assert pm.env["g2p.program"].name_search("Cash") == [[program_id, "Cash for Households"]]
    assert pm.env["g2p.program"].search([["state", "=", "ended"]]) == []
    with pytest.raises(odoorpc.error.RPCError) as err:
        pm.execute_kw(
            "g2p.assign.program.wizard", "create", [{"program_id": program_id}], {"context": {}}
        )
    assert err.value.info["data"]["message"] == "There are no selected registrants!"
    assert Decimal(str(pm.env["g2p.program"].browse(program_id).fund_balance)) == 0


def test_program_and_membership_buttons(server, users, registry_data):
    pm = connect(server, "pm")
    with pytest.raises(odoorpc.error.RPCError) as err:
        wizard_id = pm.env["g2p.program.create.wizard"].create({"name": "X", "currency": "KES"})
        call(pm, "g2p.program.create.wizard", "create_program", [wizard_id])
    assert err.value.info["data"]["message"].startswith("The 'Amount per cycle' or")
    assert not Program.objects.exists()

    program_id = pm.env["g2p.program"].create(
        {"name": "Direct", "currency": "KES", "target_type": "group"}
    )
    membership_id = pm.env["g2p.program_membership"].create(
        {"partner_id": registry_data["first"].pk, "program_id": program_id}
    )
    [row] = pm.env["g2p.program_membership"].read([membership_id], ["state", "partner_id"])
    assert row["state"] == "draft"
    assert row["partner_id"][0] == registry_data["first"].pk
    message = refused(
        pm,
        "g2p.program_membership",
        "Back_to_draft",
        [membership_id],
        "odoo.exceptions.ValidationError",
    )
    assert message == "Only Not Eligible or Duplicated memberships can be set back to draft."
    answer = call(pm, "g2p.program_membership", "verify_eligibility", [membership_id])
    assert answer["tag"] == "display_notification"
    call(pm, "g2p.program_membership", "enroll_eligible_registrants", [membership_id])
    assert pm.env["g2p.program_membership"].browse(membership_id).state == "enrolled"

    assert call(pm, "g2p.program", "end_program", [program_id]) is True
    [row] = pm.env["g2p.program"].read([program_id], ["state", "date_ended"])
    assert row["state"] == "ended"
    assert row["date_ended"]
    message = refused(
        pm, "g2p.program", "end_program", [program_id], "odoo.exceptions.ValidationError"
    )
    assert message == "Ony 'active' programs can be ended."
    call(pm, "g2p.program", "reactivate_program", [program_id])
    assert Program.objects.get(pk=program_id).state == "active"
