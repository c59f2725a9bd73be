"""Raw SQL of payment files and reconciliation: one statement per bulk step.

Each function runs one statement (the staging of a result file: ``CREATE TEMP TABLE`` and one
``COPY``), says what it relies on and what it locks, and returns row counts. Parameters are
always bound; identifiers go through ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from psycopg import sql

from g2p_payment_files.models import PaymentReconciliation
from g2p_programs.choices import PaymentState, PaymentStatus
from g2p_programs.models import Payment, PaymentBatch
from g2p_registry_base.models import BankAccount

STAGING = "g2p_payment_result_staging"


def _t(model: Any) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def insert_untagged_payments_and_batches(
    *, cycle_id: int, candidates: QuerySet[Any], max_batch_size: int, fill_open_batch: bool
) -> tuple[int, int]:
    """``INSERT … SELECT`` payments for candidate entitlements in untagged batches.

    Used by the file manager when no batch tag is configured (files are written per batch, so
    its payments are always batched). ``candidates`` is a values queryset of entitlements with
    ``id``, ``registrant_id``, ``currency``, ``initial_amount`` and ``transfer_fee``. In ONE
    statement: ``row_number() OVER (ORDER BY id)`` numbers the candidates into batches of
    ``max_batch_size``, one batch row (tag NULL, uuid name) is inserted per number and one
    payment per candidate (the account is the beneficiary's first bank account by id).
    ``ON CONFLICT`` on ``payment_one_live_per_entitlement`` skips entitlements with a live
    payment. With ``fill_open_batch`` (a job's later chunks) the cycle's newest untagged batch
    that has not started and is not full is filled first. The caller holds the cycle row lock.
    Returns ``(payments created, batches created)``.
    """
    inner, params = candidates.query.sql_with_params()
    statement = sql.SQL(
        """
        WITH src AS ({inner}),
        open_batch AS MATERIALIZED (
            SELECT b.id, (SELECT count(*) FROM {payment} p WHERE p.batch_id = b.id) AS filled
              FROM {batch} b
             WHERE b.cycle_id = %s AND NOT b.batch_has_started AND b.tag_id IS NULL AND %s
             ORDER BY b.id DESC LIMIT 1
        ),
        numbered AS (
            SELECT s.id, s.registrant_id, s.currency, s.initial_amount, s.transfer_fee,
                   o.id AS open_id,
                   (row_number() OVER (ORDER BY s.id) - 1 + coalesce(o.filled, 0)) / %s
                       AS batch_no
              FROM src s LEFT JOIN open_batch o ON o.filled < %s
        ),
        keys AS MATERIALIZED (
            SELECT batch_no, gen_random_uuid()::text AS name
              FROM (SELECT DISTINCT batch_no, open_id FROM numbered) d
             WHERE NOT (batch_no = 0 AND open_id IS NOT NULL)
        ),
        new_batches AS (
            INSERT INTO {batch}
                   (name, cycle_id, tag_id, external_batch_ref, batch_has_started,
                    batch_has_completed, stats_datetime)
            SELECT k.name, %s, NULL, '', false, false, now() FROM keys k ORDER BY k.batch_no
            RETURNING id, name
        ),
        new_payments AS (
            INSERT INTO {payment}
                   (name, entitlement_id, cycle_id, batch_id, state, status, status_is_final,
                    account_number, currency, amount_issued, payment_fee, issuance_date)
            SELECT gen_random_uuid()::text, n.id, %s,
                   CASE WHEN n.batch_no = 0 AND n.open_id IS NOT NULL THEN n.open_id
                        ELSE b.id END,
                   %s, '', false, coalesce(acct.acc_number, ''), n.currency,
                   n.initial_amount, n.transfer_fee, now()
              FROM numbered n
              LEFT JOIN keys k ON k.batch_no = n.batch_no
              LEFT JOIN new_batches b ON b.name = k.name
              LEFT JOIN LATERAL (
                    SELECT ba.acc_number FROM {account} ba
                     WHERE ba.registrant_id = n.registrant_id ORDER BY ba.id LIMIT 1
                   ) acct ON true
             ORDER BY n.id
            ON CONFLICT (entitlement_id) WHERE NOT (status = %s) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM new_payments), (SELECT count(*) FROM new_batches)
        """
    ).format(
        inner=sql.SQL(inner),  # Django-compiled, parameters bound below
        batch=_t(PaymentBatch),
        payment=_t(Payment),
        account=_t(BankAccount),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement.as_string(cursor.connection),
            [
                *params,
                cycle_id,
                fill_open_batch,
                max_batch_size,
                max_batch_size,
                cycle_id,
                cycle_id,
                PaymentState.ISSUED.value,
                PaymentStatus.FAILED.value,
            ],
        )
        payments, batches = cursor.fetchone()
    return int(payments), int(batches)


ResultRow = tuple[int, str, str, Decimal, datetime.date | None, str]


def stage_results(rows: Iterable[ResultRow]) -> int:
    """Load parsed result rows ``(row number, reference, status, amount, date, reason)`` into
    a temporary table dropped at commit (and first dropped if an earlier import in the same
    outer transaction left it), with one ``COPY``. Returns the rows staged."""
    count = 0
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "DROP TABLE IF EXISTS pg_temp.{t};"
                " CREATE TEMP TABLE {t} (row_no integer, reference text, status text,"
                " amount numeric(16, 2), paid_on date, reason text) ON COMMIT DROP"
            )
            .format(t=sql.Identifier(STAGING))
            .as_string(cursor.connection)
        )
        copy_sql = sql.SQL(
            "COPY {t} (row_no, reference, status, amount, paid_on, reason) FROM STDIN"
        ).format(t=sql.Identifier(STAGING))
        with cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def staged_problems() -> list[tuple[int, str, str]]:
    """``(row number, column, problem)`` of staged rows that cannot be applied: no payment
    with that reference, a payment not sent yet, or one already reconciled differently.
    One ``SELECT`` joining the staging table to payments by their unique name index."""
    statement = sql.SQL(
        """
        SELECT s.row_no,
               CASE WHEN p.id IS NULL OR p.state = %s THEN 'reference' ELSE 'status' END,
               CASE WHEN p.id IS NULL THEN 'no payment with this reference'
                    WHEN p.state = %s THEN 'the payment has not been sent'
                    ELSE 'the payment is already reconciled as ' || p.status END
          FROM {staging} s
          LEFT JOIN {payment} p ON p.name = s.reference
          LEFT JOIN {recon} r ON r.payment_id = p.id
         WHERE p.id IS NULL
            OR p.state = %s
            OR (p.state = %s AND (r.id IS NULL OR p.status <> s.status
                                  OR r.amount_paid <> s.amount
                                  OR r.paid_on IS DISTINCT FROM s.paid_on
                                  OR r.reason <> s.reason))
         ORDER BY s.row_no
        """
    ).format(staging=sql.Identifier(STAGING), payment=_t(Payment), recon=_t(PaymentReconciliation))
    with connection.cursor() as cursor:
        cursor.execute(
            statement.as_string(cursor.connection),
            [
                PaymentState.ISSUED.value,
                PaymentState.ISSUED.value,
                PaymentState.ISSUED.value,
                PaymentState.RECONCILED.value,
            ],
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in cursor.fetchall()]


def apply_staged_results(*, import_id: int) -> int:
    """Reconcile the sent payments named in the staging table, in ONE statement: ``UPDATE …
    FROM`` sets state reconciled, status, amount paid and dates (only payments still *sent*,
    so a repeated row changes nothing), and the same statement inserts their
    :class:`~g2p_payment_files.models.PaymentReconciliation` rows. Locks the updated payment
    rows. Returns the payments reconciled."""
    statement = sql.SQL(
        """
        WITH updated AS (
            UPDATE {payment} p
               SET state = %s, status = s.status, status_is_final = true,
                   status_datetime = now(), amount_paid = s.amount,
                   payment_datetime = (s.paid_on::timestamp AT TIME ZONE 'UTC')
              FROM {staging} s
             WHERE p.name = s.reference AND p.state = %s
            RETURNING p.id, s.status, s.amount, s.paid_on, s.reason
        ), recorded AS (
            INSERT INTO {recon} (payment_id, source_id, status, amount_paid, paid_on, reason)
            SELECT id, %s, status, amount, paid_on, reason FROM updated
            ON CONFLICT (payment_id) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM recorded)
        """
    ).format(staging=sql.Identifier(STAGING), payment=_t(Payment), recon=_t(PaymentReconciliation))
    with connection.cursor() as cursor:
        cursor.execute(
            statement.as_string(cursor.connection),
            [PaymentState.RECONCILED.value, PaymentState.SENT.value, import_id],
        )
        updated, _recorded = cursor.fetchone()
    return int(updated)
