"""Raw SQL of cycles."""

from __future__ import annotations

from django.db import connection


def insert_cycle_members_from_program(*, cycle_id: int, program_id: int) -> int:
    """``INSERT … SELECT`` the program's enrolled, enabled beneficiaries into the cycle as enrolled.

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
             ORDER BY pm.registrant_id
            ON CONFLICT (registrant_id, cycle_id) DO NOTHING
            """,
            {"cycle": cycle_id, "program": program_id},
        )
        return cursor.rowcount
