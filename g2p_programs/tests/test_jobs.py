"""The background path of large operations: enrolment and entitlement preparation as jobs.

Transactional tests (a worker runs in another thread or process). Volume data is made
set-based; the threshold and chunk size are lowered so 1,000 beneficiaries span several chunks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from g2p_programs import jobs
from g2p_programs.choices import MembershipState
from g2p_programs.factories import beneficiaries_bulk_create, program_with_managers
from g2p_programs.models import Cycle, Entitlement, Program, ProgramMembership
from g2p_programs.program_managers.program import DefaultProgramManager
from g2p_programs.services.entitlements import entitlements_prepare
from g2p_programs.services.programs import program_enroll_eligible, program_verify_eligibility
from g2p_programs.tests.fixtures_money import add_volume, make_cycle, make_program
from pbms.models import JobProgress

N = 1000
DISABLED = 250  # the first 250 beneficiaries are disabled, so not eligible
TRANSACTIONAL = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def delete_program_jobs() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE queue_name = %s", [jobs.QUEUE])


def run_worker() -> None:
    """A real worker (psycopg connector) until the programs queue is empty."""
    from procrastinate.contrib.django import app

    connector = app.connector.get_worker_connector()  # type: ignore[attr-defined]
    with app.replace_connector(connector) as worker_app:
        worker_app.run_worker(
            queues=[jobs.QUEUE], wait=False, install_signal_handlers=False, listen_notify=False
        )


def volume_program() -> Program:
    program = program_with_managers()
    beneficiaries_bulk_create(program, N)
    first = ProgramMembership.objects.filter(program=program).order_by("pk")[:DISABLED]
    registrant_ids = list(first.values_list("registrant_id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE g2p_registry_base_registrant SET disabled = now(), disabled_reason = 'test' "
            "WHERE id = ANY(%s)",
            [registrant_ids],
        )
    return program


def state_counts(program: Program) -> dict[str, int]:
    rows = ProgramMembership.objects.filter(program=program).values_list("state", flat=True)
    counts: dict[str, int] = {}
    for state in rows:
        counts[state] = counts.get(state, 0) + 1
    return counts


def program_jobs() -> Any:
    return ProcrastinateJob.objects.filter(queue_name=jobs.QUEUE)


def make_retry_due() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() - interval '1 second' "
            "WHERE queue_name = %s AND status = 'todo'",
            [jobs.QUEUE],
        )


def assert_enrolled_exactly(program: Program) -> None:
    assert state_counts(program) == {
        MembershipState.ENROLLED: N - DISABLED,
        MembershipState.NOT_ELIGIBLE: DISABLED,
    }
    enrolled = ProgramMembership.objects.filter(program=program, state=MembershipState.ENROLLED)
    assert not enrolled.filter(registrant__disabled__isnull=False).exists()
    assert enrolled.values("enrollment_date").distinct().count() == 1


# --- enrolment -----------------------------------------------------------------------------------


@TRANSACTIONAL
def test_large_enrolment_runs_as_a_job_in_keyset_chunks(small_jobs, admin_user):
    program = volume_program()

    note = program_enroll_eligible(program=program, actor=admin_user)

    assert (note.title, note.message, note.type, note.sticky) == (
        "Enrollment",
        f"Eligibility check of {N} beneficiaries started.",
        "warning",
        True,
    )
    program.refresh_from_db()
    assert (program.locked, program.locked_reason) == (True, "Eligibility check of beneficiaries")
    progress = JobProgress.objects.get()
    assert (
        progress.operation,
        progress.target,
        progress.state,
        progress.total,
        progress.done,
        progress.created_by,
    ) == ("g2p.enrol", f"program:{program.pk}", "queued", N, 0, admin_user)
    assert list(program_jobs().values_list("id", "task_name", "status")) == [
        (progress.procrastinate_job_id, "g2p_programs.program_enroll_run", "todo")
    ]
    assert state_counts(program) == {MembershipState.DRAFT: N}
    # while locked, other operations are refused and change nothing
    with pytest.raises(ValidationError, match="Operation in progress: Eligibility check of"):
        program_verify_eligibility(program=program, actor=admin_user)
    assert JobProgress.objects.count() == 1 and program_jobs().count() == 1

    chunks: list[tuple[int, int]] = []
    original = DefaultProgramManager.enroll_eligible

    def spy(self: Any, **kwargs: Any) -> Any:
        chunks.append(kwargs["id_range"])
        return original(self, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DefaultProgramManager, "enroll_eligible", spy)
        run_worker()

    assert len(chunks) == 4  # 300 + 300 + 300 + 100, contiguous keyset ranges
    assert all(chunks[i][1] == chunks[i + 1][0] for i in range(3))
    assert_enrolled_exactly(program)
    program.refresh_from_db()
    progress.refresh_from_db()
    assert (program.locked, program.locked_reason) == (False, "")
    assert (progress.state, progress.done, progress.total, progress.message) == (
        "done",
        N,
        N,
        "Eligibility check finished.",
    )
    assert program_jobs().get().status == "succeeded"

    # verify (enrolled + not_eligible) is also large: a second job, which changes nothing
    note = program_verify_eligibility(program=program, actor=admin_user)
    assert note.message == f"Eligibility check of {N} beneficiaries started."
    run_worker()
    assert_enrolled_exactly(program)
    assert JobProgress.objects.filter(state="done").count() == 2


@TRANSACTIONAL
def test_enqueue_is_transactional(small_jobs, admin_user):
    program = volume_program()

    with pytest.raises(RuntimeError, match="rolled back"):
        with transaction.atomic():
            program_enroll_eligible(program=program, actor=admin_user)
            assert program_jobs().count() == 1  # visible inside the transaction only
            raise RuntimeError("rolled back")

    program.refresh_from_db()
    assert (program.locked, program.locked_reason) == (False, "")
    assert JobProgress.objects.count() == 0
    assert program_jobs().count() == 0
    assert state_counts(program) == {MembershipState.DRAFT: N}


@TRANSACTIONAL
def test_small_enrolment_stays_inline(small_jobs, admin_user, settings):
    settings.G2P_MAX_ROWS_INLINE = N
    program = volume_program()

    note = program_enroll_eligible(program=program, actor=admin_user)

    assert note.message == (
        f"Enrolled Beneficiaries: {N - DISABLED} successfully and {DISABLED} unsuccessfully."
    )
    assert JobProgress.objects.count() == 0 and program_jobs().count() == 0
    assert_enrolled_exactly(program)


@TRANSACTIONAL
def test_a_crash_mid_job_is_retried_and_redelivery_changes_nothing(small_jobs, admin_user):
    program = volume_program()
    program_enroll_eligible(program=program, actor=admin_user)
    progress = JobProgress.objects.get()
    calls = {"n": 0}
    original = DefaultProgramManager.enroll_eligible

    def second_chunk_crashes_once(self: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("database went away")
        return original(self, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DefaultProgramManager, "enroll_eligible", second_chunk_crashes_once)
        run_worker()

        # the first chunk committed with its progress; the rest is untouched; still locked
        progress.refresh_from_db()
        program.refresh_from_db()
        assert (progress.state, progress.done) == ("running", 300)
        assert program.locked
        first_300 = ProgramMembership.objects.filter(program=program).order_by("pk")[:300]
        assert state_counts(program)[MembershipState.DRAFT] == N - 300
        assert not ProgramMembership.objects.filter(
            pk__in=first_300.values("pk"), state=MembershipState.DRAFT
        ).exists()
        job = program_jobs().get()
        assert (job.status, job.attempts) == ("todo", 1)

        make_retry_due()
        run_worker()

    assert_enrolled_exactly(program)
    progress.refresh_from_db()
    program.refresh_from_db()
    assert (progress.state, progress.done, progress.total) == ("done", N, N)
    assert not program.locked
    assert program_jobs().get().status == "succeeded"

    # delivered again (same progress record): nothing to do, nothing changes
    before = list(
        ProgramMembership.objects.filter(program=program)
        .order_by("pk")
        .values_list("pk", "state", "enrollment_date", "write_date")
    )
    jobs.program_enroll_run.defer(progress_id=progress.pk, program_id=program.pk, states=None)
    run_worker()
    assert not jobs.program_enroll_execute(
        progress_id=progress.pk, program_id=program.pk, states=None
    )
    after = list(
        ProgramMembership.objects.filter(program=program)
        .order_by("pk")
        .values_list("pk", "state", "enrollment_date", "write_date")
    )
    assert after == before


@TRANSACTIONAL
def test_last_attempt_failure_unlocks_and_marks_progress_failed(small_jobs, admin_user):
    program = volume_program()
    program_enroll_eligible(program=program, actor=admin_user)
    progress = JobProgress.objects.get()

    def broken(self: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database went away")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DefaultProgramManager, "enroll_eligible", broken)
        with pytest.raises(ConnectionError):
            jobs.program_enroll_execute(
                progress_id=progress.pk, program_id=program.pk, states=None, final_attempt=True
            )

    program.refresh_from_db()
    progress.refresh_from_db()
    assert (program.locked, program.locked_reason) == (False, "")
    assert (progress.state, progress.done) == ("failed", 0)
    assert progress.message == "ConnectionError: database went away"
    assert state_counts(program) == {MembershipState.DRAFT: N}


@TRANSACTIONAL
def test_a_killed_worker_loses_nothing(small_jobs, admin_user):
    program = volume_program()
    program_enroll_eligible(program=program, actor=admin_user)
    progress = JobProgress.objects.get()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "pbms.settings",
        # test hooks read by the job: 10 chunks of 100, each followed by a 400 ms pause
        "G2P_JOB_CHUNK_SIZE": "100",
        "G2P_JOB_CHUNK_DELAY_MS": "400",
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    worker = subprocess.Popen(
        [sys.executable, "-m", "pbms.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            progress.refresh_from_db()
            if progress.done > 0:
                break
            assert worker.poll() is None, "the worker exited early"
            time.sleep(0.05)
        else:
            pytest.fail("the worker did not commit a chunk within 60 s")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)

    progress.refresh_from_db()
    program.refresh_from_db()
    done_at_kill = progress.done
    assert 0 < done_at_kill < N and done_at_kill % 100 == 0
    assert progress.state == "running" and program.locked
    # exactly the committed chunks were written: the figures never ran ahead of the data
    assert state_counts(program)[MembershipState.DRAFT] == N - done_at_kill
    job = program_jobs().get()
    assert job.status == "doing"

    # the dead worker's heartbeat ages; procrastinate's stalled-job query finds the job
    retried: list[int] = []
    deadline = time.monotonic() + 30
    while not retried and time.monotonic() < deadline:
        time.sleep(0.5)
        retried = jobs.retry_stalled_jobs(seconds_since_heartbeat=1)
    assert retried == [job.pk]
    assert program_jobs().get().status == "todo"

    run_worker()

    assert_enrolled_exactly(program)
    progress.refresh_from_db()
    program.refresh_from_db()
    assert (progress.state, progress.done, progress.total) == ("done", N, N)
    assert (program.locked, program.locked_reason) == (False, "")
    assert program_jobs().get().status == "succeeded"


# --- entitlements --------------------------------------------------------------------------------


def volume_cycle() -> Cycle:
    program = make_program(name="Large Cash Transfer")
    cycle = make_cycle(program)
    add_volume(cycle, N)
    return cycle


@TRANSACTIONAL
def test_large_entitlement_preparation_runs_as_an_idempotent_job(small_jobs, admin_user):
    cycle = volume_cycle()

    note = entitlements_prepare(cycle=cycle, actor=admin_user)

    assert (note.title, note.message, note.type, note.sticky) == (
        "Entitlement",
        f"Preparing entitlements of {N} beneficiaries started.",
        "warning",
        True,
    )
    cycle.refresh_from_db()
    assert (cycle.locked, cycle.locked_reason) == (True, "Prepare entitlement for beneficiaries.")
    progress = JobProgress.objects.get()
    assert (progress.operation, progress.target, progress.state, progress.total) == (
        "g2p.prepare_entitlements",
        f"cycle:{cycle.pk}",
        "queued",
        N,
    )
    assert program_jobs().count() == 1
    with pytest.raises(ValidationError, match="Operation in progress: Prepare entitlement"):
        entitlements_prepare(cycle=cycle, actor=admin_user)
    assert Entitlement.objects.count() == 0 and JobProgress.objects.count() == 1

    run_worker()

    cycle.refresh_from_db()
    progress.refresh_from_db()
    assert Entitlement.objects.filter(cycle=cycle).count() == N
    assert Entitlement.objects.filter(cycle=cycle).values("registrant").distinct().count() == N
    assert (cycle.locked, cycle.locked_reason) == (False, "")
    assert cycle.entitlements_prepared_by_id == admin_user.pk
    assert (progress.state, progress.done, progress.total, progress.message) == (
        "done",
        N,
        N,
        "Entitlement Ready.",
    )

    # a second preparation runs as a job again and creates none
    entitlements_prepare(cycle=cycle, actor=admin_user)
    run_worker()
    assert Entitlement.objects.filter(cycle=cycle).count() == N
    assert list(JobProgress.objects.values_list("state", "done")) == [("done", N), ("done", N)]

    # a forced re-run of the first job (as after a crash past the last commit) creates none
    JobProgress.objects.filter(pk=progress.pk).update(state="running", done=0)
    assert jobs.entitlements_prepare_execute(progress_id=progress.pk, cycle_id=cycle.pk)
    assert Entitlement.objects.filter(cycle=cycle).count() == N
