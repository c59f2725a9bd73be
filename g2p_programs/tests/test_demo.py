"""The demo program loaded on top of the demo registry."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate

from g2p_programs import demo
from g2p_programs.models import Cycle, Entitlement, Program, ProgramMembership
from g2p_programs.services import funds
from g2p_registry_base import demo as registry_demo
from g2p_registry_base.models import Registrant

pytestmark = pytest.mark.django_db


def test_demo_program_is_ready_for_the_approval_steps() -> None:
    assert demo.demo_programs_load() is None  # no households yet: nothing
    registry_demo.demo_load(individuals=400)
    households = Registrant.objects.filter(is_group=True, disabled__isnull=True)
    rural = households.filter(tags__name="Rural").distinct().count()

    program = demo.demo_programs_load()

    assert program is not None and program.name == "Household Cash Support"
    states = Counter(
        ProgramMembership.objects.filter(program=program).values_list("state", flat=True)
    )
    assert sum(states.values()) == households.count()
    assert states["enrolled"] + states["duplicated"] == rural
    assert states["not_eligible"] == households.count() - rural
    cycle = Cycle.objects.get(program=program)
    assert (cycle.name, cycle.state, cycle.start_date.day) == ("Cycle 1", "draft", 1)
    assert cycle.memberships.count() == states["enrolled"]
    ents = Entitlement.objects.filter(cycle=cycle)
    assert ents.count() == states["enrolled"] and set(ents.values_list("state", flat=True)) == {
        "draft"
    }
    # 1,500 + 500 per current member (at most 4), a 1.5 % fee
    for amount, fee in ents.values_list("initial_amount", "transfer_fee"):
        assert Decimal("2000.00") <= amount <= Decimal("3500.00")
        assert fee == (amount * Decimal("0.015")).quantize(Decimal("0.01"))
    manager = authenticate(username="manager", password="demo")
    assert cycle.entitlements_prepared_by == manager
    assert funds.program_fund_balance(program=program) == Decimal("2000000.00")
    for name, role in demo.DEMO_USERS:
        user = authenticate(username=name, password="demo")
        assert user is not None and list(user.groups.values_list("name", flat=True)) == [role]

    assert demo.demo_programs_load() is None  # once
    assert Program.objects.count() == 1
