"""Background jobs of the registry (procrastinate; discovered through
``PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "jobs"``).

Jobs are thin: they call services in :mod:`g2p_registry_base.imports`, which hold the rules.
"""

from __future__ import annotations

from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app

# A failed attempt (database restarted, worker killed) is retried after 10 s, 40 s, 70 s.
IMPORT_RETRY = RetryStrategy(max_attempts=3, wait=10, linear_wait=30)


@app.task(
    name="g2p_registry_base.registry_import_run",
    queue="registry",
    retry=IMPORT_RETRY,
    pass_context=True,
)
def registry_import_run(context: JobContext, import_id: int) -> None:
    """Write a confirmed registry import (deferred by ``registry_import_confirm``).

    Idempotent: an import already done or failed is left alone, and a retry after a crash
    starts from a rolled-back transaction; rows a committed attempt wrote are matched by their
    key and updated, never created twice. On the last attempt a failure marks the import and
    its progress record failed.
    """
    from g2p_registry_base.imports import registry_import_execute

    attempts = context.job.attempts if context.job else 0
    final = IMPORT_RETRY.max_attempts is None or attempts >= IMPORT_RETRY.max_attempts
    registry_import_execute(import_id=import_id, final_attempt=final)
