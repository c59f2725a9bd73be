"""Raw SQL of the voucher module: issuing vouchers set-based."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from psycopg import sql

from g2p_entitlement_voucher.choices import VoucherState
from g2p_entitlement_voucher.models import Voucher
from g2p_programs.choices import EntitlementState
from g2p_programs.models import Entitlement


def issue_vouchers(
    *,
    program_id: int,
    kid: str,
    validity_days: int,
    cycle_id: int | None = None,
    entitlement_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> int:
    """One ``INSERT … SELECT … ON CONFLICT DO NOTHING``: a voucher for every approved
    entitlement of the program in scope (a cycle, given entitlements, and optionally the keyset
    chunk ``after < id <= upto``) that has none. The code is 16 characters from a random
    128-bit digest ("V" + 15 hex digits); the validity is the entitlement's, else
    ``validity_days`` from today. Returns the number issued; a re-run issues none."""
    where = [sql.SQL("e.program_id = %(program)s"), sql.SQL("e.state = %(approved)s")]
    if cycle_id is not None:
        where.append(sql.SQL("e.cycle_id = %(cycle)s"))
    if entitlement_ids is not None:
        where.append(sql.SQL("e.id = ANY(%(ids)s)"))
    if id_range is not None:
        where.append(sql.SQL("e.id > %(after)s AND e.id <= %(upto)s"))
    statement = sql.SQL(
        """
        INSERT INTO {voucher} AS v
            (entitlement_id, program_id, cycle_id, registrant_id, code, amount, currency,
             valid_from, valid_until, kid, state, issued_at, redemption_reference)
        SELECT e.id, e.program_id, e.cycle_id, e.registrant_id,
               'V' || upper(substr(md5(gen_random_uuid()::text), 1, 15)),
               e.initial_amount, e.currency,
               coalesce(e.valid_from, current_date),
               greatest(
                   coalesce(e.valid_until, coalesce(e.valid_from, current_date) + %(days)s),
                   coalesce(e.valid_from, current_date)
               ),
               %(kid)s, %(issued)s, now(), ''
          FROM {entitlement} e
         WHERE {where}
           AND NOT EXISTS (SELECT 1 FROM {voucher} x WHERE x.entitlement_id = e.id)
         ORDER BY e.id
        ON CONFLICT (entitlement_id) DO NOTHING
        """
    ).format(
        voucher=sql.Identifier(Voucher._meta.db_table),
        entitlement=sql.Identifier(Entitlement._meta.db_table),
        where=sql.SQL(" AND ").join(where),
    )
    params = {
        "program": program_id,
        "approved": EntitlementState.APPROVED,
        "cycle": cycle_id,
        "ids": list(entitlement_ids or []),
        "after": id_range[0] if id_range else None,
        "upto": id_range[1] if id_range else None,
        "days": validity_days,
        "kid": kid,
        "issued": VoucherState.ISSUED,
    }
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.connection), params)
        return cursor.rowcount
