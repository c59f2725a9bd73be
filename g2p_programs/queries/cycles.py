"""Raw SQL of cycles."""

from __future__ import annotations

from django.db import connection


def insert_cycle_members_from_program(
    *, cycle_id: int, program_id: int, id_range: tuple[int, int] | None = None
) -> int:
    """``INSERT … SELECT`` the program's enrolled, enabled beneficiaries into the cycle as enrolled.

    ``id_range`` ``(after, upto)`` limits it to the program memberships with
    ``after < id <= upto`` (a keyset chunk of the background job); None = all of them.
    Uses ``program_membership_state_idx`` (program, state); ``ON CONFLICT DO NOTHING`` on the
    (registrant, cycle) unique key makes a re-run insert nothing. Locks only the inserted rows.
    Returns the number of cycle memberships created.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO g2p_programs_cyclemembership
                   (registrant_id, cycle_id, state, enrollment_date)
            SELECT pm.registrant_id, %(cycle)s, 'enrolled', CURRENT_DATE
              FROM g2p_programs_programmembership pm
              JOIN g2p_registry_base_registrant r ON r.id = pm.registrant_id
             WHERE pm.program_id = %(program)s AND pm.state = 'enrolled' AND r.disabled IS NULL
               AND (%(after)s::bigint IS NULL OR pm.id > %(after)s::bigint)
               AND (%(upto)s::bigint IS NULL OR pm.id <= %(upto)s::bigint)
             ORDER BY pm.registrant_id
            ON CONFLICT (registrant_id, cycle_id) DO NOTHING
            """,
            {
                "cycle": cycle_id,
                "program": program_id,
                "after": id_range[0] if id_range else None,
                "upto": id_range[1] if id_range else None,
            },
        )
        return cursor.rowcount
