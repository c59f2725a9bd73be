"""The background path of the cycle, entitlement, payment and deduplication steps.

Each step over more than ``G2P_MAX_ROWS_INLINE`` rows (lowered to 50 here, chunks of 300) locks
its cycle or program, is enqueued in the caller's transaction and runs in a real worker.
These tests check what the 10,000-beneficiary lifecycle test does not: redelivery of every
operation changes nothing, a failure leaves no half-made transition, refusals while a job runs
change nothing, chosen batches only, cancellation, and the periodic tasks.
"""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from g2p_programs import bulk, jobs
from g2p_programs.choices import CycleState
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    Payment,
    PaymentBatch,
    PaymentBatchTag,
)
from g2p_programs.services import cycles, entitlements, payments
from g2p_programs.tests.fixtures_money import (
    add_volume,
    individual,
    make_cycle,
    make_program,
    posted_fund,
)
from g2p_programs.tests.test_jobs import program_jobs, run_worker
from pbms.models import JobProgress

N = 1000
TRANSACTIONAL = pytest.mark.django_db(transaction=True)


def _program(batch_size: int = 200) -> Any:
    tag = PaymentBatchTag(name="All", order=1, domain="[]", max_batch_size=batch_size)
    tag.save()
    return make_program(
        name="Volume Cash",
        entitlement={"amount_per_cycle": "10.00"},
        payment={"create_batch": True, "batch_tag_ids": [tag.pk]},
        separation_of_duties=False,
    )


def snapshot(cycle: Cycle) -> dict[str, Any]:
    """Everything a step could change, counted in a few aggregate queries."""
    cycle.refresh_from_db()
    ents = Entitlement.objects.filter(cycle=cycle)
    pays = Payment.objects.filter(cycle=cycle)
    return {
        "cycle": (cycle.state, cycle.locked),
        "members": Counter(
            CycleMembership.objects.filter(cycle=cycle).values_list("state", flat=True)
        ),
        "entitlements": Counter(ents.values_list("state", flat=True)),
        "erns": sorted(ents.exclude(ern="").values_list("ern", flat=True)),
        "payments": Counter(pays.values_list("state", flat=True)),
        "payment_entitlements": pays.values("entitlement").distinct().count(),
        "batches": Counter(pays.values_list("batch_id", flat=True)),
        "started": PaymentBatch.objects.filter(cycle=cycle, batch_has_started=True).count(),
    }


def rerun(progress: JobProgress) -> None:
    """Deliver the finished job once more, as after a crash past its last commit."""
    progress.refresh_from_db()
    JobProgress.objects.filter(pk=progress.pk).update(state="running", done=0)
    job = program_jobs().get(id=progress.procrastinate_job_id)
    args = job.args
    if job.task_name == "g2p_programs.operation_run":
        assert jobs.operation_execute(
            progress_id=progress.pk,
            operation_key=args["operation_key"],
            holder_id=args["holder_id"],
            params=args["params"],
        )
    else:
        assert jobs.entitlements_prepare_execute(progress_id=progress.pk, cycle_id=args["cycle_id"])


def step(call: Any, cycle: Cycle, reason: str) -> JobProgress:
    """Run a service that must queue a job locking ``cycle`` with ``reason``; run the worker;
    check a second delivery of the same job changes nothing."""
    before = JobProgress.objects.count()
    call()
    cycle.refresh_from_db()
    assert (cycle.locked, cycle.locked_reason) == (True, reason)
    assert JobProgress.objects.count() == before + 1
    progress = JobProgress.objects.order_by("-pk").first()
    assert progress is not None
    run_worker()
    progress.refresh_from_db()
    assert progress.state == "done", progress.message
    after = snapshot(cycle)
    rerun(progress)
    assert snapshot(cycle) == after
    return progress


@TRANSACTIONAL
def test_every_cycle_operation_runs_as_a_job_and_redelivery_changes_nothing(small_jobs, admin_user):
    program = _program()
    first = make_cycle(program)
    add_volume(first, N)  # 1,000 enrolled beneficiaries, each with a bank account
    posted_fund(program, "100000.00")
    cycle = make_cycle(program, sequence=2)

    step(
        lambda: cycles.cycle_copy_beneficiaries(cycle=cycle, actor=admin_user),
        cycle,
        "Importing beneficiaries.",
    )
    assert snapshot(cycle)["members"] == {"enrolled": N}

    step(
        lambda: cycles.cycle_check_eligibility(cycle=cycle, actor=admin_user),
        cycle,
        "Eligibility check of beneficiaries",
    )
    assert snapshot(cycle)["members"] == {"enrolled": N}

    step(
        lambda: entitlements.entitlements_prepare(cycle=cycle, actor=admin_user),
        cycle,
        "Prepare entitlement for beneficiaries.",
    )
    assert snapshot(cycle)["entitlements"] == {"draft": N}

    step(
        lambda: cycles.cycle_to_approve(cycle=cycle, actor=admin_user),
        cycle,
        "Set entitlements to pending validation for cycle.",
    )
    assert snapshot(cycle)["cycle"] == ("to_approve", False)
    assert snapshot(cycle)["entitlements"] == {"pending_validation": N}

    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    approve = step(
        lambda: entitlements.entitlements_approve(cycle=cycle, actor=admin_user),
        cycle,
        "Validate and approve entitlements for cycle.",
    )
    state = snapshot(cycle)
    assert state["entitlements"] == {"approved": N} and len(state["erns"]) == N
    assert approve.message == "Entitlements Validated and Approved."

    step(
        lambda: payments.payments_prepare(cycle=cycle, actor=admin_user),
        cycle,
        "Prepare payments for entitlements in cycle.",
    )
    state = snapshot(cycle)
    assert state["payments"] == {"issued": N} and state["payment_entitlements"] == N
    # chunks of 300 filled batches of 200 without leaving part-filled ones behind
    assert sorted(state["batches"].values()) == [200] * 5

    step(
        lambda: payments.payments_send(cycle=cycle, actor=admin_user),
        cycle,
        "Send payments for batches in cycle.",
    )
    state = snapshot(cycle)
    assert state["payments"] == {"sent": N} and state["started"] == 5
    assert set(program_jobs().values_list("status", flat=True)) == {"succeeded"}


@TRANSACTIONAL
def test_a_failed_submission_leaves_the_cycle_in_draft(small_jobs, admin_user, monkeypatch):
    program = _program()
    cycle = make_cycle(program)
    add_volume(cycle, N)
    entitlements.entitlements_prepare(cycle=cycle, actor=admin_user)
    run_worker()

    cycles.cycle_to_approve(cycle=cycle, actor=admin_user)
    progress = JobProgress.objects.order_by("-pk").first()
    assert progress is not None
    calls = {"n": 0}
    original = cycles._set_pending

    def flaky(c: Cycle, id_range: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("database went away")
        return original(c, id_range)

    monkeypatch.setattr(cycles, "_set_pending", flaky)
    job = program_jobs().get(id=progress.procrastinate_job_id)
    with pytest.raises(ConnectionError):
        jobs.operation_execute(
            progress_id=progress.pk,
            operation_key=job.args["operation_key"],
            holder_id=cycle.pk,
            params=job.args["params"],
            final_attempt=True,
        )
    progress.refresh_from_db()
    state = snapshot(cycle)
    # the first chunk (300) committed; the cycle did NOT move to to_approve
    assert state["cycle"] == ("draft", False)
    assert state["entitlements"] == {"pending_validation": 300, "draft": 700}
    assert (progress.state, progress.done) == ("failed", 300)
    assert progress.message == "ConnectionError: database went away"

    # the officer submits again: the job completes what is left
    monkeypatch.setattr(cycles, "_set_pending", original)
    program_jobs().delete()
    note = cycles.cycle_to_approve(cycle=cycle, actor=admin_user)
    assert note.message == "Setting 700 entitlements to pending validation started."
    run_worker()
    state = snapshot(cycle)
    assert state["cycle"] == ("to_approve", False)
    assert state["entitlements"] == {"pending_validation": N}


@TRANSACTIONAL
def test_while_a_job_runs_other_steps_are_refused_and_change_nothing(small_jobs, admin_user):
    program = _program()
    cycle = make_cycle(program)
    add_volume(cycle, N)
    posted_fund(program, "100000.00")
    entitlements.entitlements_prepare(cycle=cycle, actor=admin_user)
    run_worker()
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)

    note = entitlements.entitlements_approve(cycle=cycle, actor=admin_user)
    assert (note.title, note.message, note.type, note.sticky) == (
        "Entitlement",
        f"Approval of {N} entitlements started.",
        "warning",
        True,
    )
    before = snapshot(cycle)
    refusals = [
        lambda: entitlements.entitlements_approve(cycle=cycle, actor=admin_user),
        lambda: entitlements.entitlements_cancel(cycle=cycle, actor=admin_user),
        lambda: payments.payments_prepare(cycle=cycle, actor=admin_user),
        lambda: payments.payments_send(cycle=cycle, actor=admin_user),
        lambda: cycles.cycle_mark_cancelled(cycle=cycle, actor=admin_user),
        lambda: cycles.cycle_mark_distributed(cycle=cycle, actor=admin_user),
    ]
    for refused in refusals:
        with pytest.raises(ValidationError) as exc:
            refused()
        assert exc.value.messages == [
            "Operation in progress: Validate and approve entitlements for cycle."
        ]
    assert snapshot(cycle) == before
    assert JobProgress.objects.count() == 2 and program_jobs().count() == 2

    run_worker()
    assert snapshot(cycle)["entitlements"] == {"approved": N}


@TRANSACTIONAL
def test_cancelling_a_large_cycle_cancels_its_entitlements_then_the_cycle(small_jobs, admin_user):
    program = _program()
    cycle = make_cycle(program)
    add_volume(cycle, N)
    posted_fund(program, "100000.00")
    entitlements.entitlements_prepare(cycle=cycle, actor=admin_user)
    run_worker()
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    entitlements.entitlements_approve(cycle=cycle, actor=admin_user)
    run_worker()

    note = cycles.cycle_mark_cancelled(cycle=cycle, actor=admin_user)
    assert note.message == f"Cancelling cycle Cycle 1 and its {N} entitlements started."
    assert snapshot(cycle)["cycle"] == ("approved", True)
    run_worker()
    state = snapshot(cycle)
    assert state["cycle"] == ("cancelled", False)
    assert state["entitlements"] == {"cancelled": N} and state["erns"] == []
    progress = JobProgress.objects.order_by("-pk").first()
    assert progress is not None
    assert (progress.operation, progress.state, progress.message) == (
        "g2p.cycle_cancel",
        "done",
        "Cycle cancelled.",
    )


@TRANSACTIONAL
def test_sending_chosen_batches_in_a_job_sends_only_theirs(small_jobs, admin_user):
    program = _program(batch_size=100)
    cycle = make_cycle(program)
    add_volume(cycle, N)
    posted_fund(program, "100000.00")
    entitlements.entitlements_prepare(cycle=cycle, actor=admin_user)
    run_worker()
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    entitlements.entitlements_approve(cycle=cycle, actor=admin_user)
    run_worker()
    payments.payments_prepare(cycle=cycle, actor=admin_user)
    run_worker()
    chosen = list(
        PaymentBatch.objects.filter(cycle=cycle).order_by("pk").values_list("pk", flat=True)[:3]
    )

    note = payments.payment_batches_send(batch_ids=chosen, actor=admin_user)
    assert note.message == "Sending Payments Asynchronously"
    run_worker()
    sent = Payment.objects.filter(cycle=cycle, state="sent")
    assert sent.count() == 300
    assert set(sent.values_list("batch_id", flat=True)) == set(chosen)
    assert set(
        PaymentBatch.objects.filter(cycle=cycle, batch_has_started=True).values_list(
            "pk", flat=True
        )
    ) == set(chosen)
    assert Payment.objects.filter(cycle=cycle, state="issued").count() == N - 300


@pytest.mark.django_db
def test_approved_entitlements_past_validity_expire_once(admin_user):
    program = _program()
    cycle = make_cycle(program)
    people = [individual(f"P{i}") for i in range(4)]
    today = timezone.localdate()
    rows = [
        ("approved", today - datetime.timedelta(days=1)),  # expires
        ("approved", today),  # still valid today
        ("pending_validation", today - datetime.timedelta(days=5)),  # not approved: kept
        ("approved", None),  # no end: kept
    ]
    for person, (state, until) in zip(people, rows, strict=True):
        Entitlement(
            registrant=person,
            cycle=cycle,
            program=program,
            initial_amount=Decimal("10.00"),
            state=state,
            ern="1234567890" if state == "approved" else "",
            valid_from=None,
            valid_until=until,
        ).save()

    assert entitlements.entitlements_expire(today=today, actor=admin_user) == 1
    got = list(
        Entitlement.objects.filter(cycle=cycle)
        .order_by("registrant_id")
        .values_list("state", "ern")
    )
    assert got == [
        ("expired", ""),
        ("approved", "1234567890"),
        ("pending_validation", ""),
        ("approved", "1234567890"),
    ]
    assert entitlements.entitlements_expire(today=today, actor=admin_user) == 0


def test_maintenance_tasks_are_scheduled():
    from procrastinate.contrib.django import app

    schedules = {
        task.task.name: (task.cron, task.task.queue)
        for task in app.periodic_registry.periodic_tasks.values()
    }
    assert schedules["g2p_programs.retry_stalled_jobs"] == ("* * * * *", "maintenance")
    assert schedules["g2p_programs.entitlements_expire"] == ("10 0 * * *", "maintenance")


@pytest.mark.django_db
def test_each_operation_has_a_plan_and_runs_on_its_holder():
    from g2p_programs.models import Program
    from g2p_programs.services import cycles as _cycles  # noqa: F401 - planners register

    own_tasks = {bulk.ENROL.key, bulk.PREPARE_ENTITLEMENTS.key}
    assert set(bulk._PLANNERS) == set(bulk.OPERATIONS) - own_tasks
    assert {op.holder for op in bulk.OPERATIONS.values()} == {"cycle", "program"}
    assert [k for k, op in bulk.OPERATIONS.items() if op.holder == "program"] == [
        bulk.DEDUPLICATE.key,
        bulk.IMPORT_ELIGIBLE.key,
    ]
    # a cycle operation cannot be started on a program
    with pytest.raises(ValueError, match="does not run on a program"):
        bulk.start_operation(
            operation=bulk.SET_PENDING, holder=Program(pk=1), total=1, actor_id=None
        )
