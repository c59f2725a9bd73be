"""Sending with the file manager: files written once per batch, inline and in job chunks,
with a query count independent of the number of payments."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from g2p_payment_files.models import PaymentFile
from g2p_payment_files.services import payment_file_write
from g2p_payment_files.tests.conftest import approve_and_prepare, file_config, file_program
from g2p_programs import bulk, jobs
from g2p_programs.choices import PaymentState
from g2p_programs.models import Payment, PaymentBatch
from g2p_programs.services import payments as payment_services
from g2p_programs.tests.fixtures_money import add_volume
from pbms.models import JobProgress

pytestmark = pytest.mark.django_db


def _sent_cycle_counts(n: int) -> tuple[int, int]:
    csv_config = file_config(f"Count CSV {n}", "csv")
    xlsx_config = file_config(f"Count XLSX {n}", "xlsx")
    cycle = file_program(
        f"Count {n}",
        config={"max_batch_size": 5000, "file_config_ids": [csv_config.pk, xlsx_config.pk]},
    )
    add_volume(cycle, n)
    approve_and_prepare(cycle)
    batch = PaymentBatch.objects.get(cycle=cycle)
    with CaptureQueriesContext(connection) as ctx:
        payment_services.payments_send(cycle=cycle, actor=None)
    files = PaymentFile.objects.filter(batch=batch)
    assert sorted(files.values_list("row_count", flat=True)) == [n, n]
    PaymentFile.objects.filter(batch=batch, config=csv_config).delete()
    with CaptureQueriesContext(connection) as write_ctx:
        payment_file_write(batch=batch, config=csv_config)
    return len(ctx.captured_queries), len(write_ctx.captured_queries)


def test_query_count_of_sending_with_files_is_independent_of_the_number_of_payments(inline):
    small, large = _sent_cycle_counts(10), _sent_cycle_counts(1000)
    assert small == large
    assert small[1] == 2  # one streamed SELECT, one INSERT


def test_each_chunk_writes_the_batches_it_completes_and_only_those(inline):
    config = file_config("Chunks", "csv")
    cycle = file_program("Chunks", config={"max_batch_size": 3, "file_config_ids": [config.pk]})
    add_volume(cycle, 7)
    approve_and_prepare(cycle)
    batches = list(PaymentBatch.objects.filter(cycle=cycle).order_by("pk"))
    assert [b.payments.count() for b in batches] == [3, 3, 1]
    manager = payment_services.payment_manager(program=cycle.program)
    ids = list(Payment.objects.filter(cycle=cycle).order_by("pk").values_list("pk", flat=True))
    bounds = [0, ids[1], ids[3], ids[5], ids[6]]
    written = []
    for after, upto in zip(bounds, bounds[1:], strict=False):
        manager.send_payments(cycle, None, id_range=(after, upto))
        written.append(
            list(PaymentFile.objects.order_by("batch_id").values_list("batch_id", "row_count"))
        )
    assert written == [
        [],
        [(batches[0].pk, 3)],
        [(batches[0].pk, 3), (batches[1].pk, 3)],
        [(batches[0].pk, 3), (batches[1].pk, 3), (batches[2].pk, 1)],
    ]
    # a redelivered chunk writes nothing again
    manager.send_payments(cycle, None, id_range=(bounds[0], bounds[-1]))
    assert PaymentFile.objects.count() == 3


def test_large_cycle_is_sent_by_the_job_with_one_file_per_batch(settings, monkeypatch):
    settings.G2P_MAX_ROWS_INLINE = 5
    settings.G2P_JOB_CHUNK_SIZE = 4
    monkeypatch.delenv("G2P_JOB_CHUNK_SIZE", raising=False)
    config = file_config("Job", "csv")
    cycle = file_program("Job", config={"max_batch_size": 5, "file_config_ids": [config.pk]})
    add_volume(cycle, 12)
    settings.G2P_MAX_ROWS_INLINE = 10_000
    approve_and_prepare(cycle)
    settings.G2P_MAX_ROWS_INLINE = 5
    queued = payment_services.payments_send(cycle=cycle, actor=None)
    assert queued.data == {"queued": 12}
    assert PaymentFile.objects.count() == 0
    progress = JobProgress.objects.get(operation=bulk.SEND_PAYMENTS.key)
    assert jobs.operation_execute(
        progress_id=progress.pk,
        operation_key=bulk.SEND_PAYMENTS.key,
        holder_id=cycle.pk,
        params={"batch_ids": None},
    )
    assert Payment.objects.filter(cycle=cycle, state=PaymentState.SENT).count() == 12
    assert list(
        PaymentFile.objects.order_by("batch_id").values_list("batch__name", "row_count")
    ) == [
        (b.name, n)
        for b, n in zip(
            PaymentBatch.objects.filter(cycle=cycle).order_by("pk"), [5, 5, 2], strict=True
        )
    ]
    for payment_file in PaymentFile.objects.all():
        lines = bytes(payment_file.content).decode().splitlines()
        names = list(
            Payment.objects.filter(batch=payment_file.batch)
            .order_by("pk")
            .values_list("name", flat=True)
        )
        assert [line.split(",")[0] for line in lines[1:]] == names
