"""``write`` on ``g2p.program`` and ``g2p.cycle`` over RPC, through the update services."""

from __future__ import annotations

import datetime
from decimal import Decimal

import odoorpc
import pytest
from django.contrib.auth.models import Group

from g2p_programs.choices import CycleState, EntitlementState, ProgramState, TargetType
from g2p_programs.factories import CycleFactory, ProgramFactory, ProgramMembershipFactory
from g2p_programs.models import Cycle, Entitlement, Program, ProgramFund
from g2p_programs.roles import ROLE_PROGRAM_MANAGER

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

JAN = datetime.date(2025, 1, 1)
MAR = datetime.date(2025, 3, 31)


@pytest.fixture
def pm(django_user_model):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("pm", password="pm-pass-123")
    user.groups.add(Group.objects.get(name=ROLE_PROGRAM_MANAGER))
    return user


def connect(server, login):  # type: ignore[no-untyped-def]
    client = odoorpc.ODOO(server.host, port=server.port, timeout=60)
    client.login(server.db, login, f"{login}-pass-123")
    return client


def refused(call):  # type: ignore[no-untyped-def]
    with pytest.raises(odoorpc.error.RPCError) as error:
        call()
    return error.value.info["data"]


def snapshot(obj):  # type: ignore[no-untyped-def]
    obj.refresh_from_db()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_program_write(server, pm, viewer):
    program = ProgramFactory(name="Cash for Work", target_type=TargetType.GROUP, currency="KES")
    other = ProgramFactory(name="School Feeding")
    client = connect(server, "pm")
    assert client.execute_kw(
        "g2p.program",
        "write",
        [[program.pk], {"name": "Cash for Work 2025", "description": "Dry season",
                        "target_type": "individual", "currency": "USD"}],
    ) is True  # fmt: skip
    program.refresh_from_db()
    assert (program.name, program.description, program.target_type, program.currency) == (
        "Cash for Work 2025",
        "Dry season",
        TargetType.INDIVIDUAL,
        "USD",
    )
    # OdooRPC's attribute assignment writes one field
    record = client.env["g2p.program"].browse(program.pk)
    record.description = "Dry season, all districts"
    assert Program.objects.get(pk=program.pk).description == "Dry season, all districts"

    before = snapshot(program)
    data = refused(
        lambda: client.execute_kw("g2p.program", "write", [[program.pk], {"currency": "KSH1"}])
    )
    assert data["message"] == (
        "currency: Ensure this value has at most 3 characters (it has 4)."
        " Use a three-letter ISO 4217 code, e.g. KES."
    )
    assert snapshot(program) == before
    ProgramMembershipFactory(program=program)
    ProgramFund.objects.create(program=program, amount=Decimal("100"), currency="USD")
    before = snapshot(program)
    for vals, field, message in (
        ({"name": ""}, "name", "This field cannot be blank. The program name is required."),
        ({"name": "school feeding"}, "name", "A program with this name already exists."),
        ({"target_type": "group"}, "target_type",
         "The target type cannot be changed once the program has beneficiaries."),
        ({"currency": "KES"}, "currency",
         "The currency cannot be changed once funds or entitlements are recorded."),
        ({"state": "ended"}, None, "The field 'state' of 'g2p.program' is read-only."),
        ({"active": False}, "active", "This field cannot be changed here."),
    ):  # fmt: skip
        data = refused(
            lambda v=vals: client.execute_kw(
                "g2p.program", "write", [[program.pk], {"description": "changed", **v}]
            )
        )
        expected = (
            "odoo.exceptions.UserError" if field is None else ("odoo.exceptions.ValidationError")
        )
        assert data["name"] == expected
        assert data["message"] == (message if field is None else f"{field}: {message}")
        assert snapshot(program) == before
    assert Program.objects.get(pk=other.pk).name == "School Feeding"
    # an ended program keeps its name
    program.state, program.date_ended = ProgramState.ENDED, datetime.date.today()
    program.save()
    before = snapshot(program)
    data = refused(
        lambda: client.execute_kw("g2p.program", "write", [[program.pk], {"name": "Renamed"}])
    )
    assert data["message"] == "name: An ended program cannot be changed; re-activate it first."
    assert snapshot(program) == before
    # a viewer cannot change programs
    data = refused(
        lambda: connect(server, "viewer").execute_kw(
            "g2p.program", "write", [[other.pk], {"description": "by viewer"}]
        )
    )
    assert data["name"] == "odoo.exceptions.AccessError"
    assert Program.objects.get(pk=other.pk).description == ""


def test_cycle_write(server, pm, viewer):
    program = ProgramFactory()
    cycle = CycleFactory(program=program, name="Cycle 1", start_date=JAN, end_date=MAR)
    CycleFactory(program=program, name="Cycle 2", start_date=JAN, end_date=MAR)
    entitlement = Entitlement.objects.create(
        code="E1", registrant=ProgramMembershipFactory(program=program).registrant,
        cycle=cycle, program=program, currency="KES", initial_amount=Decimal("10"),
        valid_from=JAN, valid_until=MAR, state=EntitlementState.DRAFT,
    )  # fmt: skip
    client = connect(server, "pm")
    assert client.execute_kw(
        "g2p.cycle",
        "write",
        [[cycle.pk], {"name": "January round", "start_date": "2025-01-15",
                      "end_date": "2025-04-15"}],
    ) is True  # fmt: skip
    cycle.refresh_from_db()
    assert (cycle.name, cycle.start_date, cycle.end_date) == (
        "January round",
        datetime.date(2025, 1, 15),
        datetime.date(2025, 4, 15),
    )
    entitlement.refresh_from_db()
    assert (entitlement.valid_from, entitlement.valid_until) == (
        datetime.date(2025, 1, 15),
        datetime.date(2025, 4, 15),
    )
    before = snapshot(cycle)
    for vals, message in (
        ({"end_date": "2025-01-01"}, "end_date: The end date cannot be before the start date."),
        ({"name": "Cycle 2"},
         "name: Cycle with this name already exists.Please choose a different name."),
        ({"start_date": "2025-02-30"}, "start_date: '2025-02-30' is not a valid date value."),
        ({"start_date": False}, "start_date: This field cannot be blank."),
        ({"program_id": ProgramFactory().pk}, "program_id: This field cannot be changed here."),
    ):  # fmt: skip
        data = refused(lambda v=vals: client.execute_kw("g2p.cycle", "write", [[cycle.pk], v]))
        assert data["name"] == "odoo.exceptions.ValidationError"
        assert data["message"] == message
        assert snapshot(cycle) == before
    # once it has left draft, nothing changes
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.TO_APPROVE)
    before = snapshot(cycle)
    data = refused(
        lambda: client.execute_kw(
            "g2p.cycle", "write", [[cycle.pk], {"name": "Late rename", "end_date": "2025-05-01"}]
        )
    )
    assert data["name"] == "odoo.exceptions.ValidationError"
    assert data["message"] == (
        "end_date: The Cycle is not in draft mode\nname: The Cycle is not in draft mode"
    )
    assert snapshot(cycle) == before
    # a Registry Viewer is refused
    data = refused(
        lambda: connect(server, "viewer").execute_kw(
            "g2p.cycle", "write", [[cycle.pk], {"name": "Viewer"}]
        )
    )
    assert data["name"] == "odoo.exceptions.AccessError"
    assert snapshot(cycle) == before
