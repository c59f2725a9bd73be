"""Raw SQL of programs: adding registrants and marking duplicates, each one statement."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from psycopg import sql

# Memberships in these states are never moved by deduplication (upstream's rule).
_DEDUP_UNTOUCHED = ("exited", "not_eligible", "duplicated")


def insert_program_memberships_from(
    *,
    program_id: int,
    registrants: QuerySet[Any],
    state: str,
    since: datetime.datetime,
) -> int:
    """``INSERT … SELECT`` memberships in ``state`` for the registrants ``registrants`` selects.

    ``registrants`` is a registrant queryset (compiled with ``sql_with_params()`` and embedded
    as a CTE; only its ids are read). Enrolled memberships get ``enrollment_date`` ``since``. The
    (registrant, program) unique key with ``ON CONFLICT DO NOTHING`` skips registrants that are
    already members, so a re-run inserts nothing. Locks only the inserted rows. Returns the
    number of memberships created.
    """
    inner, params = registrants.order_by().values("pk").query.sql_with_params()
    statement = sql.SQL(
        """
        WITH src(id) AS ({inner})
        INSERT INTO g2p_programs_programmembership
               (registrant_id, program_id, state, enrollment_date, create_date, write_date)
        SELECT src.id, %s, %s, CASE WHEN %s = 'enrolled' THEN %s::timestamptz END, %s, %s
          FROM src
         ORDER BY src.id
        ON CONFLICT (registrant_id, program_id) DO NOTHING
        """
    ).format(inner=sql.SQL(inner))  # noqa: S608 - the inner text is Django's compiled SQL
    with connection.cursor() as cursor:
        cursor.execute(
            statement.as_string(cursor.connection),
            [*params, program_id, state, state, since, since, since],
        )
        return cursor.rowcount


@dataclass(frozen=True)
class DedupOutcome:
    """What one deduplication statement did.

    ``found``: distinct memberships in duplicate sets (already marked ones included, so a re-run
    reports the same number, as upstream); ``groups_created``: new :class:`DuplicateGroup` rows;
    ``marked``: memberships moved to ``duplicated`` now (0 on a re-run).
    """

    found: int
    groups_created: int
    marked: int


# The key sources: (key text, holder registrant id) for enabled registrants. A holder "owns" a
# membership directly (its own membership) or, in group programs, through a current membership
# of a beneficiary group.
KEYS_INDIVIDUAL = sql.SQL(
    """SELECT r.id::text AS key, r.id AS holder_id
         FROM g2p_registry_base_registrant r
        WHERE r.is_group = false AND r.disabled IS NULL"""
)


# "The registrant behind ``column`` is not disabled", as an anti-join on the small partial
# index ``registrant_disabled_idx`` rather than a visit to every registrant row.
def _enabled(column: str) -> sql.Composable:
    return sql.SQL(
        "NOT EXISTS (SELECT 1 FROM g2p_registry_base_registrant d"
        " WHERE d.id = {} AND d.disabled IS NOT NULL)"
    ).format(sql.SQL(column))


def keys_id_documents(id_types: Sequence[str]) -> sql.Composable:
    """Keys ``"<ID type name>-<value>"`` of IDs without expiry or expiring after today."""
    type_filter = sql.SQL("")
    if id_types:
        type_filter = sql.SQL(" AND t.name = ANY({})").format(sql.Literal(list(id_types)))
    return sql.SQL(
        """SELECT t.name || '-' || i.value AS key, i.registrant_id AS holder_id
             FROM g2p_registry_base_registrantid i
             JOIN g2p_registry_base_idtype t ON t.id = i.id_type_id
            WHERE (i.expiry_date IS NULL OR i.expiry_date > CURRENT_DATE){} AND {}"""
    ).format(type_filter, _enabled("i.registrant_id"))


KEYS_PHONES = sql.SQL(
    """SELECT p.phone_sanitized AS key, p.registrant_id AS holder_id
         FROM g2p_registry_base_phonenumber p
        WHERE p.disabled IS NULL AND p.phone_sanitized <> '' AND {}"""
).format(_enabled("p.registrant_id"))


def keys_attributes(fields: Sequence[str]) -> sql.Composable:
    """Keys made of the lower-cased values of ``fields`` (whitelisted column names); a registrant
    with any of them empty holds no key."""
    values = [sql.SQL("lower(r.{}::text)").format(sql.Identifier(f)) for f in fields]
    present = [sql.SQL("coalesce(r.{}::text, '') <> ''").format(sql.Identifier(f)) for f in fields]
    return sql.SQL(
        """SELECT concat_ws(chr(31), {values}) AS key, r.id AS holder_id
             FROM g2p_registry_base_registrant r
            WHERE r.is_group = false AND r.disabled IS NULL AND {present}"""
    ).format(values=sql.SQL(", ").join(values), present=sql.SQL(" AND ").join(present))


_MARK_DUPLICATES = sql.SQL(
    """
    WITH beneficiaries AS MATERIALIZED (
        SELECT pm.id, pm.registrant_id, pm.state
          FROM g2p_programs_programmembership pm
         WHERE pm.program_id = %(program)s AND pm.state = ANY(%(states)s) AND {enabled}
    ),
    holders AS (
        -- The registrants whose keys count, with the membership each speaks for: the
        -- beneficiary itself and / or the current members of a beneficiary group.
        SELECT b.registrant_id AS holder_id, b.id AS membership_id
          FROM beneficiaries b
         WHERE %(own)s
        UNION ALL
        SELECT gm.individual_id, b.id
          FROM beneficiaries b
          JOIN g2p_registry_base_groupmembership gm
            ON gm.group_id = b.registrant_id
           AND (gm.ended_date IS NULL OR gm.ended_date > statement_timestamp())
         WHERE %(via_members)s
    ),
    pairs AS (
        -- The key source is joined to the holders (not read whole first), so only the keys
        -- of the program's beneficiaries are ever built.
        SELECT DISTINCT k.key, h.membership_id
          FROM ({keys}) k JOIN holders h ON h.holder_id = k.holder_id
    ),
    sets AS (
        SELECT DISTINCT ids FROM (
            SELECT array_agg(membership_id ORDER BY membership_id) AS ids
              FROM pairs GROUP BY key HAVING count(*) > 1
        ) s
    ),
    live AS MATERIALIZED (
        -- A set an officer cleared (all of it inside one not_duplicate group of this reason)
        -- is not flagged again.
        SELECT s.ids FROM sets s
         WHERE NOT EXISTS (
            SELECT 1 FROM g2p_programs_duplicategroup dg
             WHERE dg.program_id = %(program)s AND dg.state = 'not_duplicate'
               AND dg.reason = %(reason)s
               AND s.ids <@ ARRAY(SELECT m.membership_id
                                    FROM g2p_programs_duplicategroupmember m
                                   WHERE m.duplicate_group_id = dg.id))
    ),
    members AS (SELECT l.ids, unnest(l.ids) AS membership_id FROM live l),
    kept AS (
        -- Upstream: when exactly one membership of a set is enrolled, it stays enrolled.
        SELECT m.ids, min(b.id) FILTER (WHERE b.state = 'enrolled') AS keep_id
          FROM members m JOIN beneficiaries b ON b.id = m.membership_id
         GROUP BY m.ids
        HAVING count(*) FILTER (WHERE b.state = 'enrolled') = 1
    ),
    to_mark AS (
        SELECT DISTINCT m.membership_id
          FROM members m LEFT JOIN kept k ON k.ids = m.ids
         WHERE k.keep_id IS DISTINCT FROM m.membership_id
    ),
    marked AS (
        UPDATE g2p_programs_programmembership pm
           SET state = 'duplicated', write_date = now()
          FROM to_mark t
         WHERE pm.id = t.membership_id AND NOT (pm.state = ANY(%(untouched)s))
        RETURNING pm.id
    ),
    new_sets AS MATERIALIZED (
        -- No second group when an open one of this manager and reason shares a membership.
        SELECT nextval(pg_get_serial_sequence('g2p_programs_duplicategroup', 'id')) AS gid,
               l.ids
          FROM live l
         WHERE NOT EXISTS (
            SELECT 1 FROM g2p_programs_duplicategroup dg
              JOIN g2p_programs_duplicategroupmember m ON m.duplicate_group_id = dg.id
             WHERE dg.program_id = %(program)s AND dg.state = 'duplicate'
               AND dg.reason = %(reason)s AND dg.manager_id IS NOT DISTINCT FROM %(manager)s
               AND m.membership_id = ANY(l.ids))
    ),
    groups AS (
        INSERT INTO g2p_programs_duplicategroup
               (id, program_id, manager_id, reason, state, comment, create_date)
        SELECT gid, %(program)s, %(manager)s, %(reason)s, 'duplicate', '', now() FROM new_sets
        RETURNING id
    ),
    group_members AS (
        INSERT INTO g2p_programs_duplicategroupmember (duplicate_group_id, membership_id)
        SELECT n.gid, unnest(n.ids) FROM new_sets n
        RETURNING id
    )
    SELECT (SELECT count(DISTINCT membership_id) FROM members),
           (SELECT count(*) FROM groups),
           (SELECT count(*) FROM marked),
           (SELECT count(*) FROM group_members)
    """
)


def mark_duplicate_memberships(
    *,
    program_id: int,
    manager_id: int | None,
    states: Sequence[str],
    reason: str,
    keys: sql.Composable,
    own: bool,
    via_members: bool,
) -> DedupOutcome:
    """Find the program's memberships sharing a key, record and mark them: ONE statement.

    ``keys`` yields (key, holder registrant) pairs; a membership holds a key when its registrant
    does (``own``) or, for group programs, when a current member of its group does
    (``via_members``). Keys held by more than one membership in ``states`` form duplicate sets
    (``GROUP BY key HAVING count(*) > 1``). In the same statement (data-modifying CTEs, one
    snapshot):

    - memberships of each set move to ``duplicated`` unless they are the single enrolled one of
      that set, or are exited / not_eligible / already duplicated (``UPDATE … FROM``);
    - a :class:`DuplicateGroup` with its members is inserted per distinct set, unless an open
      group of the same manager and reason already shares a membership (``INSERT … SELECT``
      with ids pre-allocated from the sequence so the members can reference them);
    - sets lying inside a group an officer cleared (``not_duplicate``, same reason) are skipped.

    Idempotent: a re-run marks 0 memberships and creates 0 groups. Uses
    ``program_membership_state_idx`` and ``regid_type_value_idx`` / the phone index for keys.
    Locks the memberships it updates.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _MARK_DUPLICATES.format(keys=keys, enabled=_enabled("pm.registrant_id")).as_string(
                cursor.cursor.connection
            ),
            {
                "program": program_id,
                "manager": manager_id,
                "states": list(states),
                "reason": reason,
                "own": own,
                "via_members": via_members,
                "untouched": list(_DEDUP_UNTOUCHED),
            },
        )
        found, groups, marked, _members = cursor.fetchone()
    return DedupOutcome(found=int(found), groups_created=int(groups), marked=int(marked))


def clear_duplicate_group(*, duplicate_group_id: int) -> int:
    """``UPDATE`` the group's duplicated memberships back to draft, except those still listed in
    another open (``duplicate``) group. One statement; returns the number of memberships reset."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE g2p_programs_programmembership pm
               SET state = 'draft', write_date = now()
              FROM g2p_programs_duplicategroupmember m
             WHERE m.duplicate_group_id = %(group)s AND pm.id = m.membership_id
               AND pm.state = 'duplicated'
               AND NOT EXISTS (
                   SELECT 1 FROM g2p_programs_duplicategroupmember o
                     JOIN g2p_programs_duplicategroup g ON g.id = o.duplicate_group_id
                    WHERE o.membership_id = pm.id AND g.id <> %(group)s
                      AND g.state = 'duplicate')
            """,
            {"group": duplicate_group_id},
        )
        return cursor.rowcount
