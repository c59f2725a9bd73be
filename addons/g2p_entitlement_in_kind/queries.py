"""Raw SQL of in-kind entitlements: entitlements and their item lines in one statement."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from psycopg import sql

from addons.g2p_entitlement_in_kind.models import EntitlementItemLine
from g2p_programs.choices import CycleMembershipState, EntitlementState, MembershipState
from g2p_programs.models import Cycle, CycleMembership, Entitlement, Program, ProgramMembership
from g2p_registry_base.models import GroupMembership, Registrant


def _t(model: Any) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def insert_in_kind_entitlements_for_cycle(
    *,
    cycle_id: int,
    items: Sequence[dict[str, Any]],
    id_range: tuple[int, int] | None = None,
) -> int:
    """``INSERT … SELECT`` the draft in-kind entitlements of a cycle AND their item lines.

    One statement: a data-modifying CTE inserts an entitlement (not cash, amount 0, validity =
    the cycle's dates) for each enrolled cycle member (enabled, not duplicated in the program)
    lacking one — ``ON CONFLICT (cycle_id, registrant_id) DO NOTHING``, so a re-run inserts
    nothing — and the outer ``INSERT`` adds one line per configured item to exactly the
    entitlements just inserted (``RETURNING``). ``items`` (``product``, ``unit``, ``quantity``,
    ``per`` = ``beneficiary`` | ``member``, ``max_multiplier``) arrive as one JSON parameter
    read by ``jsonb_to_recordset``; a per-member quantity is multiplied by the group's current
    enabled members (capped at ``max_multiplier`` when > 0; 1 for an individual), counted by
    one lateral aggregate. Lines of quantity 0 are not written. ``id_range`` ``(after, upto)``
    limits it to cycle memberships with ``after < id <= upto``. Returns the number of
    entitlements created.
    """
    statement = sql.SQL(
        """
        WITH new AS (
            INSERT INTO {entitlement}
                   (code, ern, registrant_id, cycle_id, program_id, is_cash_entitlement,
                    currency, initial_amount, transfer_fee, valid_from, valid_until, state,
                    create_date)
            SELECT substr(gen_random_uuid()::text, 8, 21), '', cm.registrant_id, c.id,
                   c.program_id, false, p.currency, 0, 0, c.start_date, c.end_date,
                   %(draft)s, now()
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
            ON CONFLICT (cycle_id, registrant_id) DO NOTHING
            RETURNING id, registrant_id
        ), lines AS (
            INSERT INTO {line} (entitlement_id, product, unit, quantity, quantity_distributed)
            SELECT q.id, q.product, q.unit, q.quantity, 0
              FROM (
                SELECT n.id, it.product, it.unit,
                       it.quantity * CASE
                           WHEN it.per <> 'member' OR NOT r.is_group THEN 1
                           WHEN it.max_multiplier > 0 THEN least(m.members, it.max_multiplier)
                           ELSE m.members END AS quantity
                  FROM new n
                  JOIN {registrant} r ON r.id = n.registrant_id
                  LEFT JOIN LATERAL (
                        SELECT count(*) AS members
                          FROM {group_membership} gm
                          JOIN {registrant} i ON i.id = gm.individual_id
                         WHERE gm.group_id = r.id AND r.is_group AND i.disabled IS NULL
                           AND (gm.ended_date IS NULL OR gm.ended_date > now())
                       ) m ON true
                 CROSS JOIN jsonb_to_recordset(%(items)s::jsonb)
                       AS it(product text, unit text, quantity numeric, per text,
                             max_multiplier integer)
              ) q
             WHERE q.quantity > 0
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM lines)
        """
    ).format(
        entitlement=_t(Entitlement),
        cycle_membership=_t(CycleMembership),
        cycle=_t(Cycle),
        program=_t(Program),
        program_membership=_t(ProgramMembership),
        registrant=_t(Registrant),
        group_membership=_t(GroupMembership),
        line=_t(EntitlementItemLine),
    )
    params: dict[str, Any] = {
        "cycle": cycle_id,
        "items": json.dumps(list(items)),
        "draft": EntitlementState.DRAFT.value,
        "enrolled": CycleMembershipState.ENROLLED.value,
        "duplicated": MembershipState.DUPLICATED.value,
        "after": id_range[0] if id_range else None,
        "upto": id_range[1] if id_range else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.connection), params)
        created, _lines = cursor.fetchone()
        return int(created)
