"""In-kind entitlements: item lines created with the entitlements, quantities per beneficiary
and per member, no cash, and distribution recorded per item within what is entitled."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from addons.g2p_entitlement_in_kind.models import EntitlementItemLine
from addons.g2p_entitlement_in_kind.program_managers import InKindEntitlementManager
from addons.g2p_entitlement_in_kind.services import entitlement_items_distribute
from g2p_programs.choices import CycleState, EntitlementState, ManagerKind, TargetType
from g2p_programs.models import Cycle, Entitlement, ManagerAssignment
from g2p_programs.registry import registry
from g2p_programs.selectors import program_cash_setup
from g2p_programs.services import entitlements as entitlement_services
from g2p_programs.tests.fixtures_money import (
    add_beneficiaries,
    add_volume,
    group_with_members,
    individual,
    make_cycle,
    make_program,
)

pytestmark = pytest.mark.django_db

ITEMS = {
    "items": [
        {"product": "Rice", "unit": "kg", "quantity": "10"},
        {"product": "Oil", "unit": "l", "quantity": "0.5", "per": "member", "max_multiplier": 4},
        {"product": "Soap", "unit": "bar", "quantity": "2", "per": "member"},
    ]
}


def _program(target: str = TargetType.INDIVIDUAL, config=ITEMS, name: str = "Food"):  # type: ignore[no-untyped-def]
    program = make_program(name=f"{name} {target}", entitlement=False, target_type=target)
    ManagerAssignment(
        program=program, kind=ManagerKind.ENTITLEMENT, manager_key="in_kind", config=config
    ).save()
    return program


def _lines(entitlement):  # type: ignore[no-untyped-def]
    return list(
        EntitlementItemLine.objects.filter(entitlement=entitlement)
        .order_by("pk")
        .values_list("product", "unit", "quantity")
    )


def test_registered_not_cash() -> None:
    cls = registry.get(ManagerKind.ENTITLEMENT, "in_kind")
    assert cls is InKindEntitlementManager and cls.IS_CASH is False
    program = _program()
    assert program_cash_setup(program=program).is_cash is False


def test_items_per_beneficiary_and_per_member_with_cap() -> None:
    program = _program(TargetType.GROUP)
    cycle = make_cycle(program)
    big = group_with_members("Big", members=6, disabled_members=1, ended=2)
    small = group_with_members("Small", members=1)
    empty = group_with_members("Empty")
    add_beneficiaries(cycle, [big, small, empty])
    note = entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    assert note.data == {"created": 3}
    big_e = Entitlement.objects.get(cycle=cycle, registrant=big)
    assert (big_e.is_cash_entitlement, big_e.initial_amount, big_e.transfer_fee) == (
        False,
        Decimal("0"),
        Decimal("0"),
    )
    assert _lines(big_e) == [
        ("Rice", "kg", Decimal("10")),
        ("Oil", "l", Decimal("2")),  # 0.5 × min(6, 4)
        ("Soap", "bar", Decimal("12")),  # 2 × 6 current enabled members
    ]
    assert _lines(Entitlement.objects.get(cycle=cycle, registrant=small)) == [
        ("Rice", "kg", Decimal("10")),
        ("Oil", "l", Decimal("0.5")),
        ("Soap", "bar", Decimal("2")),
    ]
    # no members: the per-member items are 0 and not listed
    assert _lines(Entitlement.objects.get(cycle=cycle, registrant=empty)) == [
        ("Rice", "kg", Decimal("10"))
    ]


def test_individual_counts_once_for_per_member_items_and_rerun_adds_nothing() -> None:
    program = _program()
    cycle = make_cycle(program)
    add_beneficiaries(cycle, [individual("Ann"), individual("Bob")])
    entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    ann = Entitlement.objects.get(cycle=cycle, registrant__given_name="Ann")
    assert _lines(ann) == [
        ("Rice", "kg", Decimal("10")),
        ("Oil", "l", Decimal("0.5")),
        ("Soap", "bar", Decimal("2")),
    ]
    lines = EntitlementItemLine.objects.count()
    again = entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    assert again.data == {"created": 0}
    assert EntitlementItemLine.objects.count() == lines == 6


def test_entitlements_and_lines_are_one_statement_whatever_the_size() -> None:
    counts = []
    for n in (10, 1000):
        program = _program(name=f"Food {n}")
        cycle = make_cycle(program)
        add_volume(cycle, n)
        manager = InKindEntitlementManager(
            program=program, config=InKindEntitlementManager.validate_config(ITEMS)
        )
        with CaptureQueriesContext(connection) as ctx:
            assert manager.prepare_entitlements(cycle) == n
        counts.append(len(ctx.captured_queries))
        assert EntitlementItemLine.objects.filter(entitlement__cycle=cycle).count() == 3 * n
    assert counts == [1, 1]


def test_config_refuses_bad_items() -> None:
    with pytest.raises(ValidationError) as exc:
        InKindEntitlementManager.validate_config(
            {"items": [{"product": "Rice", "quantity": "0"}, {"product": "Rice", "quantity": 1}]}
        )
    text = " ".join(exc.value.message_dict["config"])
    assert "items.0.quantity" in text
    with pytest.raises(ValidationError) as exc:
        InKindEntitlementManager.validate_config(
            {"items": [{"product": "Rice", "quantity": 1}, {"product": "Rice", "quantity": 2}]}
        )
    assert "product 'Rice' is listed twice" in " ".join(exc.value.message_dict["config"])


def _approved_entitlement():  # type: ignore[no-untyped-def]
    program = _program()
    cycle = make_cycle(program)
    add_beneficiaries(cycle, [individual("Ann")])
    entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    # no fund is posted: goods do not draw on it
    note = entitlement_services.entitlements_approve(cycle=cycle, actor=None)
    assert note.data["approved"] == 1
    return Entitlement.objects.get(cycle=cycle)


def test_distribution_recorded_per_item() -> None:
    entitlement = _approved_entitlement()
    entitlement_items_distribute(entitlement=entitlement, quantities={"Rice": "4"}, actor=None)
    entitlement_items_distribute(
        entitlement=entitlement, quantities={"Rice": 6, "Soap": "1"}, actor=None
    )
    done = dict(
        EntitlementItemLine.objects.filter(entitlement=entitlement).values_list(
            "product", "quantity_distributed"
        )
    )
    assert done == {"Rice": Decimal("10"), "Oil": Decimal("0"), "Soap": Decimal("1")}


def test_distribution_refuses_more_than_entitled_and_changes_nothing() -> None:
    entitlement = _approved_entitlement()
    entitlement_items_distribute(entitlement=entitlement, quantities={"Rice": "8"}, actor=None)
    with pytest.raises(ValidationError) as exc:
        entitlement_items_distribute(
            entitlement=entitlement, quantities={"Soap": "1", "Rice": "2.5"}, actor=None
        )
    assert exc.value.message_dict == {"Rice": ["Rice: 2.5 kg asked but only 2 kg of 10 kg remain."]}
    with pytest.raises(ValidationError) as exc:
        entitlement_items_distribute(
            entitlement=entitlement, quantities={"Beans": 1, "Oil": "-1"}, actor=None
        )
    assert set(exc.value.message_dict) == {"Oil"}
    with pytest.raises(ValidationError) as exc:
        entitlement_items_distribute(entitlement=entitlement, quantities={"Beans": 1}, actor=None)
    assert exc.value.messages == [f"Beans is not an item of entitlement {entitlement.code}."]
    done = dict(
        EntitlementItemLine.objects.filter(entitlement=entitlement).values_list(
            "product", "quantity_distributed"
        )
    )
    assert done == {"Rice": Decimal("8"), "Oil": Decimal("0"), "Soap": Decimal("0")}
    # the database refuses it too
    with pytest.raises(IntegrityError), transaction.atomic():
        EntitlementItemLine.objects.filter(entitlement=entitlement, product="Rice").update(
            quantity_distributed=Decimal("11")
        )


def test_distribution_needs_an_approved_entitlement() -> None:
    program = _program()
    cycle = make_cycle(program)
    add_beneficiaries(cycle, [individual("Ann")])
    entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    entitlement = Entitlement.objects.get(cycle=cycle)
    assert entitlement.state == EntitlementState.DRAFT
    with pytest.raises(ValidationError) as exc:
        entitlement_items_distribute(entitlement=entitlement, quantities={"Rice": 1}, actor=None)
    assert exc.value.messages == ["Goods can only be distributed for an approved entitlement."]
    assert not EntitlementItemLine.objects.filter(quantity_distributed__gt=0).exists()


def test_background_path_creates_the_lines_chunk_by_chunk(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from g2p_programs.jobs import entitlements_prepare_execute
    from pbms.models import JobProgress

    settings.G2P_MAX_ROWS_INLINE = 5
    settings.G2P_JOB_CHUNK_SIZE = 4
    monkeypatch.delenv("G2P_JOB_CHUNK_SIZE", raising=False)
    program = _program(name="Chunked")
    cycle = make_cycle(program)
    add_volume(cycle, 11)
    note = entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    assert note.data == {"queued": 11}
    progress = JobProgress.objects.get(operation="g2p.prepare_entitlements")
    assert entitlements_prepare_execute(progress_id=progress.pk, cycle_id=cycle.pk) is True
    assert Entitlement.objects.filter(cycle=cycle, is_cash_entitlement=False).count() == 11
    assert EntitlementItemLine.objects.filter(entitlement__cycle=cycle).count() == 33


def test_deleting_an_entitlement_deletes_its_lines() -> None:
    from g2p_programs.services import records

    program = _program(name="Deleted")
    cycle = make_cycle(program)
    add_beneficiaries(cycle, [individual("Ann"), individual("Bob")])
    entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    ann = Entitlement.objects.get(cycle=cycle, registrant__given_name="Ann")
    records.entitlements_delete(entitlement_ids=[ann.pk], actor=None)
    assert not EntitlementItemLine.objects.filter(entitlement_id=ann.pk).exists()
    assert EntitlementItemLine.objects.filter(entitlement__cycle=cycle).count() == 3


def test_finance_validator_records_distribution_others_are_refused(
    django_user_model, validator_user, program_manager_user, finance
) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import PermissionDenied

    entitlement = _approved_entitlement()
    for user in (validator_user, program_manager_user):
        assert user.has_perm("g2p_entitlement_in_kind.view_entitlementitemline")
        with pytest.raises(PermissionDenied):
            entitlement_items_distribute(
                entitlement=entitlement, quantities={"Rice": 1}, actor=user
            )
    assert set(
        EntitlementItemLine.objects.filter(entitlement=entitlement).values_list(
            "quantity_distributed", flat=True
        )
    ) == {Decimal("0")}
    entitlement_items_distribute(entitlement=entitlement, quantities={"Rice": 3}, actor=finance)
    assert EntitlementItemLine.objects.get(
        entitlement=entitlement, product="Rice"
    ).quantity_distributed == Decimal("3")
