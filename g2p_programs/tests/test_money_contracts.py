"""Contracts every entitlement and payment manager inherits: registration, config round trip,
a query count independent of the number of beneficiaries, and idempotent re-runs.

Parametrized over ``registry.keys(kind)``, so a manager an add-on registers is checked too;
:data:`CONFIGS` gives a working configuration for a key whose defaults do nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from g2p_programs.choices import CycleState, EntitlementState, ManagerKind
from g2p_programs.models import Cycle, Entitlement, ManagerAssignment, Payment, PaymentBatchTag
from g2p_programs.registry import registry
from g2p_programs.services import entitlements as entitlement_services
from g2p_programs.services import payments as payment_services
from g2p_programs.tests.fixtures_money import add_volume, make_cycle, make_program, posted_fund

pytestmark = pytest.mark.django_db

MONEY_KINDS = (ManagerKind.ENTITLEMENT, ManagerKind.PAYMENT)


def _default_payment_config() -> dict[str, Any]:
    tag, _ = PaymentBatchTag.objects.get_or_create(
        name="Contract all", defaults={"order": 1, "domain": "[]", "max_batch_size": 100}
    )
    return {"create_batch": True, "batch_tag_ids": [tag.pk]}


CONFIGS: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
    (ManagerKind.ENTITLEMENT, "default"): lambda: {
        "amount_per_cycle": "10.00",
        "transfer_fee_pct": "2",
    },
    (ManagerKind.ENTITLEMENT, "voucher"): lambda: {"amount_per_cycle": "10.00"},
    (ManagerKind.PAYMENT, "default"): _default_payment_config,
}


def config_for(kind: str, key: str) -> dict[str, Any]:
    return CONFIGS.get((kind, key), dict)()


def cases(kind: str) -> list[Any]:
    return [pytest.param(key, id=f"{kind}-{key}") for key in registry.keys(kind)]


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        pytest.param(kind, key, id=f"{kind}-{key}")
        for kind in MONEY_KINDS
        for key in registry.keys(kind)
    ],
)
def test_registered_and_config_round_trips_through_json_schema(kind, key):
    cls = registry.get(kind, key)
    assert (cls.key, ManagerKind(cls.kind)) == (key, kind)
    assert key in dict(registry.choices(kind))
    schema = json.loads(json.dumps(cls.config_schema()))
    assert schema["type"] == "object"
    config = cls.validate_config(config_for(kind, key))
    dumped = json.loads(json.dumps(config.model_dump(mode="json")))
    assert set(dumped) <= set(schema["properties"])
    assert cls.validate_config(dumped) == config


def _money_program(entitlement_key: str, payment_key: str, n: int, label: str) -> Cycle:
    program = make_program(name=f"Contract {label} {n}", entitlement=False)
    for kind, key in (
        (ManagerKind.ENTITLEMENT, entitlement_key),
        (ManagerKind.PAYMENT, payment_key),
    ):
        ManagerAssignment(
            program=program, kind=kind, manager_key=key, config=config_for(kind, key)
        ).save()
    posted_fund(program, "100000000.00", name=f"PF-C-{label}-{n}")
    cycle = make_cycle(program)
    add_volume(cycle, n)
    return cycle


def _count(fn: Callable[[], Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return len(ctx.captured_queries), result


def _lifecycle(cycle: Cycle) -> dict[str, int]:
    counts: dict[str, int] = {}
    counts["prepare"], _ = _count(
        lambda: entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    )
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    counts["approve"], _ = _count(
        lambda: entitlement_services.entitlements_approve(cycle=cycle, actor=None)
    )
    counts["payments"], _ = _count(
        lambda: payment_services.payments_prepare(cycle=cycle, actor=None)
    )
    return counts


@pytest.mark.parametrize("entitlement_key", cases(ManagerKind.ENTITLEMENT))
def test_entitlement_query_count_independent_of_size_and_rerun_changes_nothing(
    entitlement_key, settings
):
    settings.G2P_MAX_ROWS_INLINE = 10_000  # the inline path; the job path: test_jobs.py
    small = _money_program(entitlement_key, "default", 10, f"e-{entitlement_key}")
    large = _money_program(entitlement_key, "default", 1000, f"e-{entitlement_key}")
    small_counts, large_counts = _lifecycle(small), _lifecycle(large)
    assert small_counts == large_counts
    assert Entitlement.objects.filter(cycle=large).count() == 1000
    assert Entitlement.objects.filter(cycle=large, state=EntitlementState.APPROVED).count() == 1000

    snapshot = list(Entitlement.objects.filter(cycle=large).order_by("pk").values())
    Cycle.objects.filter(pk=large.pk).update(state=CycleState.DRAFT)
    again = entitlement_services.entitlements_prepare(cycle=large, actor=None)
    Cycle.objects.filter(pk=large.pk).update(state=CycleState.APPROVED)
    approved_again = entitlement_services.entitlements_approve(cycle=large, actor=None)
    assert (again.data["created"], approved_again.data["approved"]) == (0, 0)
    assert list(Entitlement.objects.filter(cycle=large).order_by("pk").values()) == snapshot


@pytest.mark.parametrize("payment_key", cases(ManagerKind.PAYMENT))
def test_payment_query_count_independent_of_size_and_rerun_changes_nothing(payment_key, settings):
    settings.G2P_MAX_ROWS_INLINE = 10_000  # the inline path; the job path: test_jobs.py
    small = _money_program("default", payment_key, 10, f"p-{payment_key}")
    large = _money_program("default", payment_key, 1000, f"p-{payment_key}")
    small_counts, large_counts = _lifecycle(small), _lifecycle(large)
    assert small_counts["payments"] == large_counts["payments"]
    assert Payment.objects.filter(cycle=large).count() == 1000
    accounts = Payment.objects.filter(cycle=large).values_list("account_number", flat=True)
    assert all(number.startswith("ACC") for number in accounts)

    snapshot = list(Payment.objects.filter(cycle=large).order_by("pk").values())
    again = payment_services.payments_prepare(cycle=large, actor=None)
    assert again.message == "There are no new payments issued!"
    assert list(Payment.objects.filter(cycle=large).order_by("pk").values()) == snapshot
