"""Demo programs on top of the demo registry (``g2p serve --demo``, ``g2p demo``).

One group program, "Household Cash Support", run up to the point where an officer takes over:
default managers configured as the create-program wizard would, every household added, rural
households enrolled (an Odoo-style domain), duplicates found, a posted fund and a first cycle
with its entitlements prepared by the program manager — so the next steps (To Approve, Approve
by the cycle approver, Approve Entitlements and payments by the finance validator) are there to
click. One demo user per program role (password ``demo``) shows the roles and the separation of
duties at work.

Everything goes through the same services as the back office; the work over beneficiaries is
done inline (the loader raises the inline threshold for its own calls) so the demo is complete
when ``g2p serve`` starts serving.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from g2p_programs.choices import ManagerKind
from g2p_programs.models import ManagerAssignment, PaymentBatchTag, Program
from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
)
from g2p_registry_base.models import Registrant

PROGRAM_NAME = "Household Cash Support"
DEMO_PASSWORD = "demo"
DEMO_USERS = (
    ("manager", ROLE_PROGRAM_MANAGER),
    ("approver", ROLE_CYCLE_APPROVER),
    ("finance", ROLE_FINANCE_VALIDATOR),
)


@contextmanager
def _inline() -> Iterator[None]:
    previous = settings.G2P_MAX_ROWS_INLINE
    settings.G2P_MAX_ROWS_INLINE = 10**9
    try:
        yield
    finally:
        settings.G2P_MAX_ROWS_INLINE = previous


def demo_users() -> dict[str, object]:
    """The demo users of each program role (created once; their password is reset to
    :data:`DEMO_PASSWORD`)."""
    user_model = get_user_model()
    users: dict[str, object] = {}
    for username, role in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.org"}
        )
        user.is_staff = user.is_active = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name=role))
        users[username] = user
    return users


def demo_programs_load() -> Program | None:
    """Create the demo program when there are demo households and no program yet.

    Returns the program, or None when nothing was done (a program exists, or the registry has
    no groups). One transaction: either the whole demo program exists or none of it.
    """
    from g2p_programs.services import cycles, entitlements, funds, programs

    if Program.objects.exists():
        return None
    households = list(
        Registrant.objects.filter(is_group=True, disabled__isnull=True).values_list("pk", flat=True)
    )
    if not households:
        return None
    with transaction.atomic(), _inline():
        users = demo_users()
        manager, finance = users["manager"], users["finance"]
        program = programs.program_create(
            name=PROGRAM_NAME,
            target_type="group",
            currency="KES",
            eligibility_domain="[('tags_ids.name', '=', 'Rural')]",
            description="Monthly cash transfer to rural households.",
            actor=manager,
        )
        tag = PaymentBatchTag(name=f"Default {PROGRAM_NAME}", order=1, domain="[]")
        tag.save()
        for kind, config in (
            (
                ManagerKind.ENTITLEMENT,
                {
                    "amount_per_cycle": "1500.00",
                    "amount_per_individual_in_group": "500.00",
                    "max_individual_in_group": 4,
                    "transfer_fee_pct": "1.50",
                },
            ),
            (
                ManagerKind.CYCLE,
                {"recurrence": {"rrule_type": "monthly", "cycle_duration": 1, "day": 1}},
            ),
            (ManagerKind.PAYMENT, {"create_batch": True, "batch_tag_ids": [tag.pk]}),
        ):
            assignment = ManagerAssignment.objects.get(program=program, kind=kind)
            programs.manager_configure(assignment=assignment, config=config, actor=manager)
        programs.program_add_registrants(program=program, registrant_ids=households, actor=manager)
        programs.program_enroll_eligible(program=program, actor=manager)
        programs.program_deduplicate(program=program, actor=manager)
        fund = funds.fund_create(
            program=program,
            amount=Decimal("2000000.00"),
            actor=finance,
            remarks="Demo allocation",
        )
        funds.fund_post(fund=fund, actor=finance)
        cycle, _ = cycles.program_create_new_cycle(program=program, actor=manager)
        entitlements.entitlements_prepare(cycle=cycle, actor=manager)
    return program
