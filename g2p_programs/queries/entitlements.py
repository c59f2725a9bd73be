"""Raw SQL of entitlements and the fund balance: one statement per bulk step.

Each function runs exactly one statement, names it, says which index it relies on and what it
locks, and returns a row count (or the one row it reads). Parameters are always bound; table
names come from the models through :class:`psycopg.sql.Identifier`. Statements go through
Django's cursor so pghistory's context reaches the audit triggers and query counters see them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from psycopg import sql

from g2p_programs.choices import (
    CycleMembershipState,
    EntitlementState,
    FundState,
    MembershipState,
    PaymentStatus,
)
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    Payment,
    Program,
    ProgramFund,
    ProgramMembership,
)
from g2p_registry_base.models import GroupMembership, Registrant

# States whose amount has left the fund: approved, and the states past approval that add-ons
# may set (upstream counted ``approved`` only; it never sets trans2FSP / rdpd2ben itself).
COMMITTED_STATES = (
    EntitlementState.APPROVED.value,
    EntitlementState.TRANS2FSP.value,
    EntitlementState.RDPD2BEN.value,
)
APPROVABLE_STATES = (EntitlementState.DRAFT.value, EntitlementState.PENDING_VALIDATION.value)
# States an approved entitlement can move on to without staying committed (rejected,
# cancelled, expired): only these can hold a paid payment outside COMMITTED_STATES.
AFTER_APPROVAL_STATES = tuple(
    state.value
    for state in EntitlementState
    if state.value not in COMMITTED_STATES and state.value not in APPROVABLE_STATES
)


def _t(model: Any) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def _tables() -> dict[str, sql.Identifier]:
    return {
        "entitlement": _t(Entitlement),
        "cycle": _t(Cycle),
        "cycle_membership": _t(CycleMembership),
        "program": _t(Program),
        "program_membership": _t(ProgramMembership),
        "fund": _t(ProgramFund),
        "payment": _t(Payment),
        "registrant": _t(Registrant),
        "group_membership": _t(GroupMembership),
    }


def _text(cursor: Any, statement: sql.Composable) -> str:
    """Compose to text for Django's cursor (pghistory's execute wrapper needs ``str``)."""
    return statement.as_string(cursor.connection)


def _execute(statement: sql.Composable, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_text(cursor, statement), params)
        return cursor.rowcount


def _fetchone(statement: sql.Composable, params: dict[str, Any]) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(_text(cursor, statement), params)
        return tuple(cursor.fetchone())


def insert_entitlements_for_cycle(
    *,
    cycle_id: int,
    amount_per_cycle: Decimal,
    amount_per_individual_in_group: Decimal,
    max_individual_in_group: int,
    transfer_fee_pct: Decimal,
    transfer_fee_amt: Decimal,
    is_cash: bool = True,
    id_range: tuple[int, int] | None = None,
) -> int:
    """``INSERT … SELECT`` a draft entitlement for each enrolled cycle member lacking one.

    ``id_range`` ``(after, upto)`` restricts it to the cycle memberships with
    ``after < id <= upto`` (one keyset chunk of a background job); None = all of them.

    Members are the cycle's ``enrolled`` memberships (index ``cycle_membership_state_idx``) of
    enabled registrants that are not marked duplicated in the program. Amount (upstream's
    formula): ``amount_per_cycle``, plus for a group ``amount_per_individual_in_group`` × its
    current enabled members (each membership once; capped at ``max_individual_in_group`` when
    that is > 0), counted by a scalar subquery that only groups evaluate (``CASE`` short-circuits
    it for individuals).
    Fee: ``amount × pct / 100`` (rounded to cents) when pct > 0, else the fixed fee. Codes are
    21 characters of a random UUID (upstream's slice); validity = the cycle's dates.
    ``ON CONFLICT (cycle_id, registrant_id) DO NOTHING`` skips members that already have one, so
    a re-run inserts nothing (and the row count is what was created). Locks
    only the inserted rows. Returns the number of entitlements created.
    """
    statement = sql.SQL(
        """
        INSERT INTO {entitlement}
               (code, ern, registrant_id, cycle_id, program_id, is_cash_entitlement, currency,
                initial_amount, transfer_fee, valid_from, valid_until, state, create_date)
        SELECT substr(gen_random_uuid()::text, 8, 21), '', a.registrant_id, a.cycle_id,
               a.program_id, %(is_cash)s, a.currency, a.amount,
               CASE WHEN %(fee_pct)s::numeric > 0 THEN round(a.amount * %(fee_pct)s / 100, 2)
                    WHEN %(fee_amt)s::numeric > 0 THEN %(fee_amt)s::numeric
                    ELSE 0 END,
               a.start_date, a.end_date, %(draft)s, now()
          FROM (
            SELECT cm.registrant_id, c.id AS cycle_id, c.program_id, p.currency,
                   c.start_date, c.end_date,
                   %(per_cycle)s::numeric
                   + CASE WHEN r.is_group AND %(per_individual)s::numeric > 0
                          THEN %(per_individual)s::numeric * (
                               SELECT CASE WHEN %(max_members)s > 0
                                           THEN least(count(*), %(max_members)s)
                                           ELSE count(*) END
                                 FROM {group_membership} gm
                                 JOIN {registrant} i ON i.id = gm.individual_id
                                WHERE gm.group_id = r.id AND i.disabled IS NULL
                                  AND (gm.ended_date IS NULL
                                       OR gm.ended_date > statement_timestamp()))
                          ELSE 0 END AS amount
              FROM {cycle_membership} cm
              JOIN {cycle} c ON c.id = cm.cycle_id
              JOIN {program} p ON p.id = c.program_id
              JOIN {registrant} r ON r.id = cm.registrant_id
             WHERE cm.cycle_id = %(cycle)s AND cm.state = %(enrolled)s AND r.disabled IS NULL
               AND (%(after)s::bigint IS NULL OR cm.id > %(after)s::bigint)
               AND (%(upto)s::bigint IS NULL OR cm.id <= %(upto)s::bigint)
               AND NOT EXISTS (
                    SELECT 1 FROM {program_membership} pm
                     WHERE pm.registrant_id = cm.registrant_id AND pm.program_id = c.program_id
                       AND pm.state = %(duplicated)s)
             ORDER BY cm.id
          ) a
        ON CONFLICT (cycle_id, registrant_id) DO NOTHING
        """
    ).format(**_tables())
    return _execute(
        statement,
        {
            "cycle": cycle_id,
            "is_cash": is_cash,
            "per_cycle": amount_per_cycle,
            "per_individual": amount_per_individual_in_group,
            "max_members": max_individual_in_group,
            "fee_pct": transfer_fee_pct,
            "fee_amt": transfer_fee_amt,
            "draft": EntitlementState.DRAFT.value,
            "enrolled": CycleMembershipState.ENROLLED.value,
            "duplicated": MembershipState.DUPLICATED.value,
            "after": id_range[0] if id_range else None,
            "upto": id_range[1] if id_range else None,
        },
    )


def select_program_fund_balance(*, program_id: int) -> tuple[Decimal, Decimal]:
    """``SELECT`` (posted funds, committed entitlement amounts) of a program in one statement.

    Posted funds use ``fund_program_state_idx``; committed amounts are entitlements in
    :data:`COMMITTED_STATES` plus any entitlement that has a paid payment whatever its state
    (so money paid out stays spent even after the entitlement expires or is cancelled). Both
    sums are range scans of ``entitlement_program_state_idx``: the second only over
    :data:`AFTER_APPROVAL_STATES`, because draft and pending entitlements have never been
    approved, so never paid — the approval job recomputes this per chunk, and probing the
    payments of the cycle's whole draft / pending list each time cost a scan of the cycle per
    chunk. Locks nothing.
    """
    statement = sql.SQL(
        """
        SELECT coalesce((SELECT sum(f.amount) FROM {fund} f
                          WHERE f.program_id = %(program)s AND f.state = %(posted)s), 0),
               coalesce((SELECT sum(e.initial_amount) FROM {entitlement} e
                          WHERE e.program_id = %(program)s AND e.state = ANY(%(committed)s)), 0)
               + coalesce((SELECT sum(e.initial_amount) FROM {entitlement} e
                            WHERE e.program_id = %(program)s AND e.state = ANY(%(after)s)
                              AND EXISTS (SELECT 1 FROM {payment} pay
                                           WHERE pay.entitlement_id = e.id
                                             AND pay.status = %(paid)s)), 0)
        """
    ).format(**_tables())
    posted, committed = _fetchone(
        statement,
        {
            "program": program_id,
            "posted": FundState.POSTED.value,
            "committed": list(COMMITTED_STATES),
            "after": list(AFTER_APPROVAL_STATES),
            "paid": PaymentStatus.PAID.value,
        },
    )
    return Decimal(posted), Decimal(committed)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What :func:`approve_entitlements_within_balance` did."""

    approved: int
    approved_total: Decimal
    unfunded_code: str | None
    available_at_unfunded: Decimal | None


def approve_entitlements_within_balance(
    *,
    program_id: int,
    balance: Decimal,
    approved_by_id: int | None,
    date_approved: datetime.date,
    cycle_id: int | None = None,
    entitlement_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> ApprovalOutcome:
    """Approve, in id order, the draft / pending entitlements whose running total fits ``balance``.

    One statement: a window ``sum(initial_amount) OVER (ORDER BY id)`` ranks the candidates
    (the cycle's, by ``entitlement_cycle_state_idx``, or the given ids of the program); an
    ``UPDATE … FROM`` approves those whose running total ≤ ``balance`` — amounts are never
    negative, so they are a prefix, as upstream's loop that stops at the first unfunded one —
    setting ``ern`` (random 10 digits), ``date_approved`` and ``approved_by``; the same
    statement reports the first unfunded entitlement and the balance left before it. The
    caller must hold the program row lock (``SELECT … FOR UPDATE``) so that ``balance`` stays
    true; the update re-checks the state, so a row changed meanwhile is skipped. Locks the
    approved rows. ``id_range`` ``(after, upto)`` limits the candidates to
    ``after < id <= upto`` (a keyset chunk of the background job, whose next chunk starts from a
    balance recomputed after this one committed).
    """
    if (cycle_id is None) == (entitlement_ids is None):
        raise ValueError("pass exactly one of cycle_id and entitlement_ids")
    if cycle_id is not None:
        where = sql.SQL("e.cycle_id = %(cycle)s")
    else:
        where = sql.SQL("e.id = ANY(%(ids)s::bigint[])")
    statement = sql.SQL(
        """
        WITH ranked AS (
            SELECT e.id, e.code, e.initial_amount,
                   sum(e.initial_amount) OVER (ORDER BY e.id ROWS UNBOUNDED PRECEDING) AS running
              FROM {entitlement} e
             WHERE {where} AND e.program_id = %(program)s AND e.state = ANY(%(approvable)s)
               AND (%(after)s::bigint IS NULL OR e.id > %(after)s::bigint)
               AND (%(upto)s::bigint IS NULL OR e.id <= %(upto)s::bigint)
        ), approved AS (
            UPDATE {entitlement} e
               SET state = %(approved_state)s,
                   ern = lpad((floor(random() * 10000000000))::bigint::text, 10, '0'),
                   date_approved = %(today)s,
                   approved_by_id = %(user)s
              FROM ranked r
             WHERE e.id = r.id AND r.running <= %(balance)s
               AND e.state = ANY(%(approvable)s)
            RETURNING e.initial_amount
        ), unfunded AS (
            SELECT code, running - initial_amount AS available
              FROM ranked WHERE running > %(balance)s ORDER BY id LIMIT 1
        )
        SELECT (SELECT count(*) FROM approved),
               (SELECT coalesce(sum(initial_amount), 0) FROM approved),
               (SELECT code FROM unfunded),
               (SELECT available FROM unfunded)
        """
    ).format(where=where, **_tables())
    count, total, code, spent_before = _fetchone(
        statement,
        {
            "cycle": cycle_id,
            "ids": list(entitlement_ids or []),
            "program": program_id,
            "approvable": list(APPROVABLE_STATES),
            "approved_state": EntitlementState.APPROVED.value,
            "today": date_approved,
            "user": approved_by_id,
            "balance": balance,
            "after": id_range[0] if id_range else None,
            "upto": id_range[1] if id_range else None,
        },
    )
    return ApprovalOutcome(
        approved=int(count),
        approved_total=Decimal(total),
        unfunded_code=code,
        available_at_unfunded=None if code is None else balance - Decimal(spent_before),
    )
