"""Raw SQL of payments and payment batches: one statement per bulk step.

Each function runs exactly one statement, names it, says which index it relies on and what it
locks, and returns row counts. Parameters are always bound (positional, because the candidate
selection is a Django queryset compiled with ``sql_with_params()`` and embedded as a CTE).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet
from psycopg import sql

from g2p_programs.choices import PaymentState, PaymentStatus
from g2p_programs.models import Payment, PaymentBatch, PaymentBatchTag
from g2p_registry_base.models import BankAccount


def _t(model: Any) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def insert_payments_and_batches(
    *,
    cycle_id: int,
    candidates: QuerySet[Any],
    create_batch: bool,
    fill_open_batches: bool = False,
) -> tuple[int, int]:
    """``INSERT … SELECT`` payments (and their batches) for tagged candidate entitlements.

    ``candidates`` is a values queryset of entitlements with the columns ``id``,
    ``registrant_id``, ``currency``, ``initial_amount``, ``transfer_fee`` and ``tag_id`` (the
    first matching batch tag, ``NULL`` when none matches: such entitlements get no payment, as
    upstream). In ONE statement: ``row_number() OVER (PARTITION BY tag ORDER BY id)`` splits
    each tag's entitlements into batches of the tag's ``max_batch_size``; with
    ``create_batch`` one batch row per (tag, batch number) is inserted (uuid names); every
    candidate gets a payment (uuid name, ``amount_issued`` = amount, ``payment_fee`` = fee,
    state issued, ``account_number`` = the beneficiary's first bank account by id, read by a
    lateral ``LIMIT 1`` over the account table's registrant index) linked to its batch.
    ``ON CONFLICT`` on the partial unique index ``payment_one_live_per_entitlement`` skips an
    entitlement that already has a live payment. The caller holds the cycle row lock. Locks
    the inserted rows. Returns ``(payments created, batches created)``.

    With ``fill_open_batches`` (a background job's chunks after the first), each tag's newest
    batch of the cycle that has not started and is not full is filled up first, so chunk
    boundaries do not leave part-filled batches behind: numbering starts at its payment count
    and batch 0 of the tag is that batch.
    """
    inner, params = candidates.query.sql_with_params()
    statement = sql.SQL(
        """
        WITH src AS ({inner}),
        open_batch AS MATERIALIZED (
            SELECT DISTINCT ON (b.tag_id) b.tag_id, b.id,
                   (SELECT count(*) FROM {payment} p WHERE p.batch_id = b.id) AS filled
              FROM {batch} b
             WHERE b.cycle_id = %s AND NOT b.batch_has_started AND b.tag_id IS NOT NULL
               AND %s AND %s
             ORDER BY b.tag_id, b.id DESC
        ),
        numbered AS (
            SELECT s.id, s.registrant_id, s.currency, s.initial_amount, s.transfer_fee,
                   s.tag_id, o.id AS open_id,
                   (row_number() OVER (PARTITION BY s.tag_id ORDER BY s.id) - 1
                    + coalesce(o.filled, 0)) / t.max_batch_size AS batch_no
              FROM src s JOIN {tag} t ON t.id = s.tag_id
              LEFT JOIN open_batch o ON o.tag_id = s.tag_id AND o.filled < t.max_batch_size
        ),
        keys AS MATERIALIZED (
            SELECT tag_id, batch_no, gen_random_uuid()::text AS name
              FROM (SELECT DISTINCT tag_id, batch_no, open_id FROM numbered) d
             WHERE %s AND NOT (batch_no = 0 AND open_id IS NOT NULL)
        ),
        new_batches AS (
            INSERT INTO {batch}
                   (name, cycle_id, tag_id, external_batch_ref, batch_has_started,
                    batch_has_completed, stats_datetime)
            SELECT k.name, %s, k.tag_id, '', false, false, now()
              FROM keys k ORDER BY k.tag_id, k.batch_no
            RETURNING id, name
        ),
        new_payments AS (
            INSERT INTO {payment}
                   (name, entitlement_id, cycle_id, batch_id, state, status, status_is_final,
                    account_number, currency, amount_issued, payment_fee, issuance_date)
            SELECT gen_random_uuid()::text, n.id, %s,
                   CASE WHEN n.batch_no = 0 AND n.open_id IS NOT NULL THEN n.open_id
                        ELSE b.id END,
                   %s, '', false,
                   coalesce(acct.acc_number, ''), n.currency, n.initial_amount,
                   n.transfer_fee, now()
              FROM numbered n
              LEFT JOIN keys k ON k.tag_id = n.tag_id AND k.batch_no = n.batch_no
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
        tag=_t(PaymentBatchTag),
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
                create_batch,
                fill_open_batches,
                create_batch,
                cycle_id,
                cycle_id,
                PaymentState.ISSUED.value,
                PaymentStatus.FAILED.value,
            ],
        )
        payments, batches = cursor.fetchone()
    return int(payments), int(batches)
