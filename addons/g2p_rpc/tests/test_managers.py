"""Program managers over RPC: wrappers, concrete managers, their configuration and methods,
driven with OdooRPC, odoo-client-lib and Odooly against the live server."""

from __future__ import annotations

import xmlrpc.client

import odoolib
import odooly
import odoorpc
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    PaymentBatchTag,
    ProgramMembership,
)
from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
)
from g2p_registry_base.factories import GroupFactory, MembershipFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ENTITLEMENT = "g2p.program.entitlement.manager.default"
CYCLE = "g2p.cycle.manager.default"
PAYMENT = "g2p.program.payment.manager.default"
ELIGIBILITY = "g2p.program_membership.manager.default"
PROGRAM_MANAGER = "g2p.program.manager.default"


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


def call(client, model, method, args, **kwargs):  # type: ignore[no-untyped-def]
    return client.execute_kw(model, method, args, kwargs)


def refusal(client, model, method, args, **kwargs):  # type: ignore[no-untyped-def]
    with pytest.raises(odoorpc.error.RPCError) as err:
        call(client, model, method, args, **kwargs)
    data = err.value.info["data"]
    return data["name"], data["message"]


def make_program(client, **values):  # type: ignore[no-untyped-def]
    wizard_id = client.env["g2p.program.create.wizard"].create(
        {"name": "Cash for Households", "currency": "KES", "amount_per_cycle": 100.0, **values}
    )
    return call(client, "g2p.program.create.wizard", "create_program", [[wizard_id]])["res_id"]


def manager_id(program_id, kind):  # type: ignore[no-untyped-def]
    return ManagerAssignment.objects.get(program_id=program_id, kind=kind).pk


def message(action):  # type: ignore[no-untyped-def]
    assert action["type"] == "ir.actions.client"
    assert action["tag"] == "display_notification"
    return action["params"]["message"]


def test_program_managers_and_their_configuration_through_the_wrappers(
    server, users, registry_data
):
    pm = connect(server, "pm")
    program_id = make_program(pm, amount_per_individual_in_group=10.0, max_individual_in_group=3)
    program = pm.env["g2p.program"].browse(program_id)
    expected = {
        "eligibility_managers": ("g2p.eligibility.manager", ELIGIBILITY, "eligibility"),
        "deduplication_managers": (
            "g2p.deduplication.manager",
            "g2p.deduplication.manager.default",
            "deduplication",
        ),
        "notification_managers": (
            "g2p.program.notification.manager",
            "g2p.program.notification.manager.log",
            "notification",
        ),
        "program_managers": ("g2p.program.manager", PROGRAM_MANAGER, "program"),
        "cycle_managers": ("g2p.cycle.manager", CYCLE, "cycle"),
        "entitlement_managers": ("g2p.program.entitlement.manager", ENTITLEMENT, "entitlement"),
        "payment_managers": ("g2p.program.payment.manager", PAYMENT, "payment"),
    }
    [row] = pm.env["g2p.program"].read([program_id], list(expected))
    for field, (wrapper, concrete, kind) in expected.items():
        assignment = manager_id(program_id, kind)
        assert row[field] == [assignment]
        [wrapped] = pm.env[wrapper].read(
            [assignment], ["program_id", "manager_id", "manager_ref_id"]
        )
        assert wrapped == {
            "id": assignment,
            "program_id": [program_id, "Cash for Households"],
            "manager_id": assignment,
            "manager_ref_id": f"{concrete},{assignment}",
        }

    # OdooRPC follows the Reference field to the concrete manager and reads its configuration
    entitlement = program.entitlement_managers[0].manager_ref_id
    assert entitlement._name == ENTITLEMENT
    assert (entitlement.name, entitlement.program_id.id) == ("Default", program_id)
    assert (
        entitlement.amount_per_cycle,
        entitlement.amount_per_individual_in_group,
        entitlement.max_individual_in_group,
        entitlement.transfer_fee_pct,
        entitlement.transfer_fee_amt,
    ) == (100.0, 10.0, 3, 0.0, 0.0)
    cycle_manager = program.cycle_managers[0].manager_ref_id
    assert (
        cycle_manager.cycle_duration,
        cycle_manager.rrule_type,
        cycle_manager.approver_group,
        cycle_manager.auto_approve_entitlements,
        cycle_manager.day,
        cycle_manager.until,
    ) == (1, "monthly", "Cycle Approver", False, 1, False)
    assert program.eligibility_managers[0].manager_ref_id.eligibility_domain == "[]"
    payment = program.payment_managers[0].manager_ref_id
    assert (payment.create_batch, payment.batch_tag_ids.ids) == (False, [])
    assert program.program_managers[0].manager_ref_id.copy_last_cycle_on_new_cycle is True

    # Odoo field types in fields_get
    info = pm.env[ENTITLEMENT].fields_get()
    assert {n: info[n]["type"] for n in ("amount_per_cycle", "transfer_fee_pct", "program_id")} == {
        "amount_per_cycle": "monetary",
        "transfer_fee_pct": "float",
        "program_id": "many2one",
    }
    assert info["max_individual_in_group"]["type"] == "integer"
    assert info["amount_per_cycle"]["readonly"] is False
    assert info["program_id"]["relation"] == "g2p.program"
    info = pm.env[CYCLE].fields_get(["rrule_type", "cycle_duration", "until", "mon"])
    assert info["rrule_type"]["type"] == "selection"
    assert ["weekly", "Weeks"] in info["rrule_type"]["selection"]
    assert [info[n]["type"] for n in ("cycle_duration", "until", "mon")] == [
        "integer",
        "date",
        "boolean",
    ]
    info = pm.env[PAYMENT].fields_get(["batch_tag_ids", "create_batch"])
    assert (info["batch_tag_ids"]["type"], info["batch_tag_ids"]["relation"]) == (
        "many2many",
        "g2p.payment.batch.tag",
    )
    assert info["create_batch"]["type"] == "boolean"
    info = pm.env["g2p.program.entitlement.manager"].fields_get(["manager_ref_id"])
    assert info["manager_ref_id"]["type"] == "reference"
    assert [m for m, _label in info["manager_ref_id"]["selection"]] == [
        ENTITLEMENT,
        "g2p.program.entitlement.manager.inkind",
        "g2p.program.entitlement.manager.voucher",
    ]
    info = pm.env["g2p.program"].fields_get(["cycle_managers"])
    assert (info["cycle_managers"]["type"], info["cycle_managers"]["relation"]) == (
        "many2many",
        "g2p.cycle.manager",
    )
    info = pm.env["g2p.program_membership.manager.pmt"].fields_get(["threshold", "direction"])
    assert info["threshold"]["type"] == "float"
    assert info["direction"]["selection"] == [
        ["at_or_below", "Score at or below the threshold"],
        ["above", "Score above the threshold"],
    ]
    assert pm.env[ENTITLEMENT].search([["program_id", "=", program_id]]) == [
        manager_id(program_id, "entitlement")
    ]
    assert pm.env["g2p.program.entitlement.manager.voucher"].search([]) == []
    action = call(pm, "g2p.cycle.manager", "open_manager_form", [[manager_id(program_id, "cycle")]])
    assert (action["res_model"], action["res_id"]) == (CYCLE, manager_id(program_id, "cycle"))


def test_configuration_is_written_through_the_back_office_service(
    server, users, registry_data, viewer
):
    pm = connect(server, "pm")
    program_id = make_program(pm)
    cycle_id = manager_id(program_id, "cycle")
    connection = odoolib.get_connection(
        hostname=server.host,
        protocol="xmlrpc",
        port=server.port,
        database=server.db,
        login="pm",
        password="pm-pass-123",
    )
    cycle_managers = connection.get_model(CYCLE)
    assert cycle_managers.write(
        [cycle_id],
        {
            "name": "Fortnightly",
            "rrule_type": "weekly",
            "cycle_duration": 2,
            "mon": True,
            "auto_approve_entitlements": True,
        },
    )
    stored = ManagerAssignment.objects.get(pk=cycle_id)
    assert stored.name == "Fortnightly"
    assert stored.config["auto_approve_entitlements"] is True
    assert (
        stored.config["recurrence"]["rrule_type"],
        stored.config["recurrence"]["cycle_duration"],
        stored.config["recurrence"]["mon"],
        stored.config["recurrence"]["count"],
    ) == ("weekly", 2, True, 10)
    [row] = cycle_managers.read([cycle_id], ["name", "rrule_type", "cycle_duration", "mon"])
    assert row == {
        "id": cycle_id,
        "name": "Fortnightly",
        "rrule_type": "weekly",
        "cycle_duration": 2,
        "mon": True,
    }

    entitlement_id = manager_id(program_id, "entitlement")
    connection.get_model(ENTITLEMENT).write([entitlement_id], {"amount_per_cycle": 250.5})
    entitlement_config = ManagerAssignment.objects.get(pk=entitlement_id).config
    assert entitlement_config["amount_per_cycle"] == "250.5"

    # a bad value is refused naming the upstream field, and nothing changes
    before = ManagerAssignment.objects.get(pk=cycle_id).config
    with pytest.raises(xmlrpc.client.Fault) as fault:
        cycle_managers.write([cycle_id], {"cycle_duration": 0, "name": "Never"})
    assert fault.value.faultCode == (
        "warning -- ValidationError\n\ncycle_duration: Input should be greater than or equal to 1"
    )
    with pytest.raises(xmlrpc.client.Fault) as fault:
        cycle_managers.write([cycle_id], {"rrule_type": "weekly", "mon": False})
    assert fault.value.faultCode == (
        "warning -- ValidationError\n\nmon: You have to choose at least one day in the week"
    )
    stored = ManagerAssignment.objects.get(pk=cycle_id)
    assert (stored.config, stored.name) == (before, "Fortnightly")
    name, text = refusal(
        pm, ENTITLEMENT, "write", [[entitlement_id], {"transfer_fee_pct": 2, "transfer_fee_amt": 5}]
    )
    assert name == "odoo.exceptions.ValidationError"
    assert text == (
        "transfer_fee_amt: Value error, set either a transfer fee percentage or a fixed "
        "transfer fee, not both"
    )
    name, text = refusal(
        pm,
        ELIGIBILITY,
        "write",
        [
            [manager_id(program_id, "eligibility")],
            {"eligibility_domain": "[('shoe_size', '>', 3)]"},
        ],
    )
    assert name == "odoo.exceptions.ValidationError"
    assert text.startswith("eligibility_domain: Value error, invalid eligibility domain: ")
    assert "shoe_size" in text
    assert ManagerAssignment.objects.get(pk=entitlement_id).config == entitlement_config
    assert refusal(pm, ENTITLEMENT, "write", [[entitlement_id], {"active": False}]) == (
        "odoo.exceptions.UserError",
        f"The field 'active' of '{ENTITLEMENT}' is read-only.",
    )

    # a Registry Viewer holds no program permission: refused, nothing changes
    client = odooly.Client(server.url, server.db, "viewer", "viewer-pass-123")
    with pytest.raises(odooly.ServerError) as err:
        client.env.execute(CYCLE, "write", [cycle_id], {"cycle_duration": 5})
    assert "odoo.exceptions.AccessError" in str(err.value)
    with pytest.raises(odooly.ServerError) as err:
        client.env.execute(CYCLE, "prepare_entitlements", [cycle_id], 1)
    assert "odoo.exceptions.AccessError" in str(err.value)
    assert ManagerAssignment.objects.get(pk=cycle_id).config == before


def test_a_whole_cycle_through_manager_methods(server, users, registry_data):
    households = sorted([registry_data["first"].pk, registry_data["second"].pk])
    pm = connect(server, "pm")
    program_id = make_program(pm, amount_per_individual_in_group=10.0)
    eligibility = manager_id(program_id, "eligibility")
    program_manager = manager_id(program_id, "program")
    cycle_manager = manager_id(program_id, "cycle")
    entitlement_manager = manager_id(program_id, "entitlement")
    payment_manager = manager_id(program_id, "payment")

    answer = call(pm, ELIGIBILITY, "import_eligible_registrants", [[eligibility]], state="enrolled")
    assert message(answer) == "2 beneficiaries imported."
    assert (
        sorted(
            ProgramMembership.objects.filter(program_id=program_id, state="enrolled").values_list(
                "registrant_id", flat=True
            )
        )
        == households
    )
    answer = call(pm, ELIGIBILITY, "import_eligible_registrants", [[eligibility]])
    assert message(answer) == "No beneficiaries to import."
    memberships = list(
        ProgramMembership.objects.filter(program_id=program_id).values_list("pk", flat=True)
    )
    eligible = call(pm, ELIGIBILITY, "enroll_eligible_registrants", [[eligibility], memberships])
    assert eligible == sorted(memberships)

    assert call(pm, PROGRAM_MANAGER, "last_cycle", [[program_manager]]) is False
    cycle_id = call(pm, PROGRAM_MANAGER, "new_cycle", [[program_manager]])
    cycle = Cycle.objects.get(pk=cycle_id)
    assert (cycle.program_id, cycle.name, cycle.state) == (program_id, "Cycle 1", "draft")
    assert call(pm, PROGRAM_MANAGER, "last_cycle", [program_manager]) == cycle_id
    # new_cycle copied the enrolled beneficiaries already
    answer = call(pm, CYCLE, "copy_beneficiaries_from_program", [[cycle_manager], cycle_id])
    assert message(answer) == "No beneficiaries to import."
    assert CycleMembership.objects.filter(cycle_id=cycle_id, state="enrolled").count() == 2
    answer = call(pm, CYCLE, "check_eligibility", [[cycle_manager], [cycle_id]])
    assert message(answer) == "0 Beneficiaries enrolled."

    answer = call(pm, CYCLE, "prepare_entitlements", [[cycle_manager], cycle_id])
    assert message(answer) == "2 entitlements prepared."
    amounts = dict(
        Entitlement.objects.filter(cycle_id=cycle_id).values_list("registrant_id", "initial_amount")
    )
    # 100 per household + 10 per member: Alpha has 2 members, Beta 1
    assert {k: str(v) for k, v in amounts.items()} == {
        registry_data["first"].pk: "120.00",
        registry_data["second"].pk: "110.00",
    }
    answer = call(pm, ENTITLEMENT, "prepare_entitlements", [[entitlement_manager]], cycle=cycle_id)
    assert message(answer) == "0 entitlements prepared."
    assert call(pm, "g2p.cycle", "to_approve", [[cycle_id]])["params"]["type"] == "success"

    # the approver approves through the cycle manager; the program manager may not
    assert refusal(pm, CYCLE, "approve_cycle", [[cycle_manager], cycle_id])[0] == (
        "odoo.exceptions.AccessError"
    )
    assert Cycle.objects.get(pk=cycle_id).state == "to_approve"
    approver = connect(server, "approver")
    answer = call(approver, CYCLE, "approve_cycle", [[cycle_manager], cycle_id])
    assert message(answer) == "Cycle Cycle 1 approved."
    assert Cycle.objects.get(pk=cycle_id).state == "approved"

    finance = connect(server, "finance")
    fund_id = finance.env["g2p.program.fund"].create({"program_id": program_id, "amount": 500.0})
    call(finance, "g2p.program.fund", "post_fund", [[fund_id]])
    answer = call(finance, ENTITLEMENT, "validate_entitlements", [[entitlement_manager], cycle_id])
    assert message(answer) == "2 Entitlements are successfully approved."
    assert set(Entitlement.objects.filter(cycle_id=cycle_id).values_list("state", flat=True)) == {
        "approved"
    }
    assert finance.env["g2p.program"].browse(program_id).fund_balance == 270.0

    # without batch tags the default payment manager issues nothing (upstream)
    answer = call(finance, PAYMENT, "prepare_payments", [[payment_manager], cycle_id])
    assert message(answer) == "There are no new payments issued!"
    tag = PaymentBatchTag.objects.create(name="Everyone", order=1, max_batch_size=1)
    pm.env[PAYMENT].browse(payment_manager).write(
        {"create_batch": True, "batch_tag_ids": [(6, 0, [tag.pk])]}
    )
    assert ManagerAssignment.objects.get(pk=payment_manager).config == {
        "create_batch": True,
        "batch_tag_ids": [tag.pk],
    }
    answer = call(finance, PAYMENT, "prepare_payments", [[payment_manager], cycle_id])
    assert message(answer) == "Payment batch successfully created for 2 beneficiaries."
    batch_ids = finance.env["g2p.payment.batch"].search([["cycle_id", "=", cycle_id]], order="id")
    assert len(batch_ids) == 2
    assert sorted(
        (str(p.amount_issued), p.state) for p in Payment.objects.filter(cycle_id=cycle_id)
    ) == [("110.00", "issued"), ("120.00", "issued")]
    answer = call(finance, PAYMENT, "send_payments", [[payment_manager], batch_ids[:1]])
    assert message(answer) == "Send payments completed."
    assert sorted(Payment.objects.filter(cycle_id=cycle_id).values_list("state", flat=True)) == [
        "issued",
        "sent",
    ]
    answer = call(finance, PAYMENT, "send_payments", [[payment_manager]], batches=batch_ids)
    assert message(answer) == "Send payments completed."
    assert set(Payment.objects.filter(cycle_id=cycle_id).values_list("state", flat=True)) == {
        "sent"
    }
    assert set(
        PaymentBatch.objects.filter(cycle_id=cycle_id).values_list("batch_has_started", flat=True)
    ) == {True}

    answer = call(pm, CYCLE, "mark_distributed", [[cycle_manager], cycle_id])
    assert message(answer) == "Cycle Cycle 1 is Distributed."
    answer = call(pm, CYCLE, "mark_ended", [[cycle_manager], cycle_id])
    assert message(answer) == "Cycle Cycle 1 is Ended."
    assert Cycle.objects.get(pk=cycle_id).state == "ended"


def test_refused_manager_calls_change_nothing(server, users, registry_data, registry_admin):
    pm = connect(server, "pm")
    program_id = make_program(pm)
    other_id = make_program(pm, name="Other Program")
    cycle_manager = manager_id(program_id, "cycle")
    entitlement_manager = manager_id(program_id, "entitlement")

    # no registrants yet: upstream's refusal
    assert refusal(pm, PROGRAM_MANAGER, "new_cycle", [[manager_id(other_id, "program")]]) == (
        "odoo.exceptions.ValidationError",
        "No enrolled registrants. Enroll registrants to program to create new cycle.",
    )
    assert not Cycle.objects.exists()
    # private methods are never callable
    assert refusal(pm, CYCLE, "_refuse_subset", [[cycle_manager]]) == (
        "odoo.exceptions.AccessError",
        "Private methods (such as _refuse_subset) cannot be called remotely.",
    )
    # wrappers follow their concrete manager; they are not written themselves
    assert refusal(pm, "g2p.cycle.manager", "write", [[cycle_manager], {"program_id": other_id}])[
        0
    ] == ("odoo.exceptions.AccessError")
    assert ManagerAssignment.objects.get(pk=cycle_manager).program_id == program_id
    # a method of another kind does not exist on the model
    name, _text = refusal(pm, CYCLE, "send_payments", [[cycle_manager], []])
    assert name == "builtins.AttributeError"

    ProgramMembership.objects.create(
        program_id=program_id,
        registrant=registry_data["first"],
        state="enrolled",
        enrollment_date=timezone.now(),
    )
    cycle_id = call(pm, PROGRAM_MANAGER, "new_cycle", [[manager_id(program_id, "program")]])
    # a cycle of another program is refused
    assert (
        refusal(pm, CYCLE, "prepare_entitlements", [[manager_id(other_id, "cycle")], cycle_id])[1]
        == "The cycle 'Cycle 1' does not belong to the program of this manager."
    )
    assert refusal(
        pm, ENTITLEMENT, "prepare_entitlements", [[entitlement_manager], cycle_id, [1, 2]]
    ) == (
        "odoo.exceptions.UserError",
        "cycle_memberships cannot be chosen: this step works on every enrolled cycle member.",
    )
    approver = connect(server, "approver")
    assert refusal(approver, CYCLE, "approve_cycle", [[cycle_manager], cycle_id]) == (
        "odoo.exceptions.ValidationError",
        "Only 'to approve' cycles can be approved.",
    )
    assert refusal(
        approver, CYCLE, "approve_cycle", [[cycle_manager], cycle_id], auto_approve=True
    ) == (
        "odoo.exceptions.UserError",
        "auto_approve: this cycle manager is configured with auto_approve_entitlements=False; "
        "change the manager to change it.",
    )
    assert not Entitlement.objects.exists()
    assert Cycle.objects.get(pk=cycle_id).state == "draft"

    # one entitlement manager per program; detaching needs the delete permission
    assert refusal(
        pm, "g2p.program.entitlement.manager.voucher", "create", [{"program_id": program_id}]
    ) == (
        "odoo.exceptions.ValidationError",
        "Only one manager can be configured under this list. Please delete any new "
        "manager(s) before saving your changes.",
    )
    assert refusal(pm, ENTITLEMENT, "unlink", [[entitlement_manager]])[0] == (
        "odoo.exceptions.AccessError"
    )
    assert ManagerAssignment.objects.filter(program_id=program_id).count() == 7

    admin = connect(server, "regadmin")
    assert call(admin, "g2p.program.entitlement.manager", "unlink", [[entitlement_manager]])
    assert refusal(pm, CYCLE, "prepare_entitlements", [[cycle_manager], cycle_id]) == (
        "odoo.exceptions.ValidationError",
        "No Entitlement Manager defined.",
    )
    voucher_id = pm.env["g2p.program.entitlement.manager.voucher"].create(
        {"program_id": program_id, "name": "Vouchers", "amount_per_cycle": 40, "validity_days": 60}
    )
    stored = ManagerAssignment.objects.get(pk=voucher_id)
    assert (stored.kind, stored.manager_key, stored.name) == ("entitlement", "voucher", "Vouchers")
    assert (stored.config["amount_per_cycle"], stored.config["validity_days"]) == ("40", 60)
    [row] = pm.env["g2p.program"].read([program_id], ["entitlement_managers"])
    assert row["entitlement_managers"] == [voucher_id]
    wrapper = pm.env["g2p.program.entitlement.manager"]
    assert (
        wrapper.create(
            {
                "program_id": program_id,
                "manager_ref_id": f"g2p.program.entitlement.manager.voucher,{voucher_id}",
            }
        )
        == voucher_id
    )
    answer = call(
        pm,
        "g2p.program.entitlement.manager.voucher",
        "prepare_entitlements",
        [[voucher_id], cycle_id],
    )
    assert message(answer) == "1 entitlements prepared."
    assert [str(a) for a in Entitlement.objects.values_list("initial_amount", flat=True)] == [
        "40.00"
    ]


def test_extra_eligibility_and_deduplication_managers(server, users, registry_data):
    pm = connect(server, "pm")
    program_id = make_program(pm)
    national = registry_data["national"]
    client = odooly.Client(server.url, server.db, "pm", "pm-pass-123")
    managers = client.env["g2p.program_membership.manager.id_dedup"]
    new_id = managers.create(
        {
            "program_id": program_id,
            "name": "Holds a national ID",
            "supported_id_document_types": [(6, 0, [national.pk])],
        }
    ).id
    stored = ManagerAssignment.objects.get(pk=new_id)
    assert (stored.kind, stored.manager_key, stored.config) == (
        "eligibility",
        "id_document",
        {"id_types": ["National ID"], "eligibility_domain": "[]"},
    )
    record = managers.browse(new_id)
    assert record.supported_id_document_types.ids == [national.pk]
    [row] = client.env["g2p.program"].read([program_id], ["eligibility_managers"])
    assert row["eligibility_managers"] == [manager_id_first(program_id), new_id]
    with pytest.raises(odooly.ServerError) as err:
        managers.browse(new_id).write({"supported_id_document_types": [(4, 999999)]})
    assert "supported_id_document_types: unknown ID types [999999]." in str(err.value)
    assert ManagerAssignment.objects.get(pk=new_id).config["id_types"] == ["National ID"]

    # the ID document manager looks at the household's own IDs; no household holds one, so
    # importing through it adds nobody
    answer = client.env.execute(
        "g2p.program_membership.manager.id_dedup", "import_eligible_registrants", [new_id]
    )
    assert answer["params"]["message"] == "No beneficiaries to import."
    assert not ProgramMembership.objects.filter(program_id=program_id).exists()

    # Carol also joins Household Alpha: the default deduplication marks both households
    MembershipFactory(group=registry_data["first"], individual=registry_data["carol"])
    third = GroupFactory(name="Household Gamma")
    for household in (registry_data["first"], registry_data["second"], third):
        ProgramMembership.objects.create(
            program_id=program_id,
            registrant=household,
            state="enrolled",
            enrollment_date=timezone.now(),
        )
    dedup = manager_id(program_id, "deduplication")
    found = client.env.execute(
        "g2p.deduplication.manager.default", "deduplicate_beneficiaries", [dedup]
    )
    assert found == 2
    assert sorted(
        ProgramMembership.objects.filter(program_id=program_id).values_list(
            "registrant_id", "state"
        )
    ) == sorted(
        [
            (registry_data["first"].pk, "duplicated"),
            (registry_data["second"].pk, "duplicated"),
            (third.pk, "enrolled"),
        ]
    )
    assert client.env.execute("g2p.deduplication.manager.default", "deduplicate", [dedup]) == 2


def manager_id_first(program_id):  # type: ignore[no-untyped-def]
    return (
        ManagerAssignment.objects.filter(program_id=program_id, kind="eligibility")
        .order_by("sequence", "pk")
        .first()
        .pk
    )
