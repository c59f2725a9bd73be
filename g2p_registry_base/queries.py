"""Raw SQL of the registry: the set-based statements behind the registry import.

This is the only module of the app that opens a cursor. Every function runs one statement (or
one ``COPY``), names it, says which index it relies on and what it locks, and returns a row
count (or the rows it reads). Parameters are always bound; table names come from the models and
are quoted with :class:`psycopg.sql.Identifier`.

Statements go through Django's cursor, so :func:`pghistory.context` (which prefixes each write
with ``set_config('pghistory.context_id', …, true)``) reaches the audit triggers, and query
counters (``CaptureQueriesContext``) see them. ``COPY`` uses the same connection's psycopg
cursor.

The import stages its validated rows in ``TEMP`` tables (``ON COMMIT DROP``) and then writes
them with one statement per target table:

=========================  ================================================================
staging table              columns
=========================  ================================================================
``g2p_import_registrant``  one row per valid file row: ``registrant_id`` (new ids come from
                           the registrant sequence, so every later statement knows them),
                           ``is_new``, the registrant columns (``NULL`` = keep the current
                           value), ``group_id`` (membership target) and ``set_kinds``
``g2p_import_id``          ``(registrant_id, id_type_id, value)``
``g2p_import_phone``       ``(registrant_id, phone_no, phone_sanitized)``
``g2p_import_tag``         ``(registrant_id, tag_id)``
``g2p_import_kind``        ``(group_id, individual_id, kind_id)``
=========================  ================================================================
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from psycopg import sql

from g2p_registry_base.models import (
    GroupMembership,
    PhoneNumber,
    Registrant,
    RegistrantId,
)

STAGE_REGISTRANT = "g2p_import_registrant"
STAGE_ID = "g2p_import_id"
STAGE_PHONE = "g2p_import_phone"
STAGE_TAG = "g2p_import_tag"
STAGE_KIND = "g2p_import_kind"

STAGE_REGISTRANT_COLUMNS = (
    "row_no",
    "registrant_id",
    "is_new",
    "is_group",
    "name",
    "given_name",
    "family_name",
    "addl_name",
    "gender",
    "birthdate",
    "birth_place",
    "registration_date",
    "email",
    "address",
    "kind_id",
    "group_id",
    "set_kinds",
)
STAGE_ID_COLUMNS = ("registrant_id", "id_type_id", "value")
STAGE_PHONE_COLUMNS = ("registrant_id", "phone_no", "phone_sanitized")
STAGE_TAG_COLUMNS = ("registrant_id", "tag_id")
STAGE_KIND_COLUMNS = ("group_id", "individual_id", "kind_id")

# Advisory lock key of registry imports (pg_advisory_xact_lock takes a bigint).
IMPORT_LOCK_KEY = 0x6732705F696D7074  # "g2p_impt"


def _t(model: Any) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def _tags_table() -> sql.Identifier:
    return sql.Identifier(Registrant.tags.through._meta.db_table)


def _kinds_table() -> sql.Identifier:
    return sql.Identifier(GroupMembership.kinds.through._meta.db_table)


def _text(cursor: Any, statement: sql.Composable | str) -> str:
    """Compose to text for Django's cursor (pghistory's execute wrapper needs ``str``)."""
    return statement if isinstance(statement, str) else statement.as_string(cursor.connection)


def _execute(statement: sql.Composable | str, params: Sequence[Any] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_text(cursor, statement), params)
        return cursor.rowcount


def _fetchall(
    statement: sql.Composable | str, params: Sequence[Any] | None = None
) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(_text(cursor, statement), params)
        return list(cursor.fetchall())


# ------------------------------------------------------------------------------------------
# Reads used by validation
# ------------------------------------------------------------------------------------------


def select_registrants_by_id_values(
    *, id_type_id: int, values: Sequence[str]
) -> list[tuple[Any, ...]]:
    """``SELECT`` the registrants holding an ID of one type whose value is in ``values``.

    Uses index ``regid_type_value_idx (id_type_id, value)``; locks nothing. Returns rows
    ``(value, registrant_id, is_group, given_name, family_name, addl_name, birthdate,
    registration_date)``, one per matching registrant (several per value when the value is
    held by several registrants). Only registrants (``is_registrant``) are considered.
    """
    if not values:
        return []
    statement = sql.SQL(
        """SELECT rid.value, r.id, r.is_group, r.given_name, r.family_name, r.addl_name,
                  r.birthdate, r.registration_date
             FROM {regid} rid
             JOIN {reg} r ON r.id = rid.registrant_id
            WHERE rid.id_type_id = %s AND rid.value = ANY(%s::text[]) AND r.is_registrant"""
    ).format(regid=_t(RegistrantId), reg=_t(Registrant))
    return _fetchall(statement, [id_type_id, list(values)])


def select_unique_kind_holders(
    *, group_ids: Sequence[int], kind_ids: Sequence[int]
) -> list[tuple[Any, ...]]:
    """``SELECT`` the memberships of ``group_ids`` holding one of the unique kinds ``kind_ids``.

    Uses ``membership_unique_member (group_id, individual_id)`` and the link table's
    ``(groupmembership_id, membershipkind_id)`` unique index; locks nothing (the write
    transaction holds the import lock, and the unique-kind trigger re-checks under a row lock).
    Returns rows ``(group_id, individual_id, kind_id, is_current)`` where ``is_current`` means
    no end date or an end date still ahead (:meth:`GroupMembershipQuerySet.current`; at least as
    strict as the unique-kind trigger, which counts memberships without an end date).
    """
    if not group_ids or not kind_ids:
        return []
    statement = sql.SQL(
        """SELECT m.group_id, m.individual_id, l.membershipkind_id,
                  (m.ended_date IS NULL OR m.ended_date > statement_timestamp())
             FROM {gm} m
             JOIN {gmk} l ON l.groupmembership_id = m.id
            WHERE m.group_id = ANY(%s::bigint[]) AND l.membershipkind_id = ANY(%s::bigint[])"""
    ).format(gm=_t(GroupMembership), gmk=_kinds_table())
    return _fetchall(statement, [list(group_ids), list(kind_ids)])


# ------------------------------------------------------------------------------------------
# Write transaction
# ------------------------------------------------------------------------------------------


def lock_registry_import() -> int:
    """``SELECT pg_advisory_xact_lock(…)``: one registry import writes at a time.

    Held until the transaction ends, so an import's key lookups and its writes see the same
    registry (two concurrent imports of the same new key cannot both create it). Returns 1.
    """
    _fetchall("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])
    return 1


def prepare_audit_triggers() -> int:
    """``SELECT set_config('pgtrigger.ignore', …, true)``: give the audit triggers a value to read.

    pgtrigger's ``_pgtrigger_should_ignore()`` reads ``pgtrigger.ignore`` inside an
    ``EXCEPTION`` block; when the setting is missing every audited row raises and catches an
    error (a subtransaction rollback), which triples the cost of a bulk insert. Setting it to an
    empty list for this transaction (keeping a list someone already set) leaves every trigger
    active and auditing. Locks nothing. Returns 1.
    """
    _fetchall(
        "SELECT set_config('pgtrigger.ignore', "
        "COALESCE(NULLIF(current_setting('pgtrigger.ignore', true), ''), '{}'), true)"
    )
    return 1


def allocate_registrant_ids(*, count: int) -> list[int]:
    """``SELECT nextval(<registrant id sequence>) FROM generate_series(1, count)``.

    Reserves ``count`` registrant primary keys up front so the staged IDs, phones, tags and
    memberships can name their registrant before it exists (one round trip instead of a
    ``RETURNING`` mapping). Locks nothing; numbers of a rolled-back import are simply skipped.
    Returns the ids in ascending order.
    """
    if count <= 0:
        return []
    rows = _fetchall(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s) ORDER BY 1",
        [Registrant._meta.db_table, count],
    )
    return [r[0] for r in rows]


def create_import_staging() -> int:
    """``CREATE TEMP TABLE`` the five staging tables (``ON COMMIT DROP``), dropping leftovers.

    Leftovers exist only when an earlier import ran inside the same still-open transaction
    (tests, nested calls). Locks nothing shared. Returns 5.
    """
    statement = sql.SQL(
        """DROP TABLE IF EXISTS pg_temp.{r}, pg_temp.{i}, pg_temp.{p}, pg_temp.{t}, pg_temp.{k};
        CREATE TEMP TABLE {r} (
            row_no integer PRIMARY KEY,
            registrant_id bigint NOT NULL,
            is_new boolean NOT NULL,
            is_group boolean NOT NULL,
            name text, given_name text, family_name text, addl_name text, gender text,
            birthdate date, birth_place text, registration_date date, email text, address text,
            kind_id bigint, group_id bigint, set_kinds boolean NOT NULL
        ) ON COMMIT DROP;
        CREATE TEMP TABLE {i} (registrant_id bigint NOT NULL, id_type_id bigint NOT NULL,
                               value text NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE {p} (registrant_id bigint NOT NULL, phone_no text NOT NULL,
                               phone_sanitized text NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE {t} (registrant_id bigint NOT NULL,
                               tag_id bigint NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE {k} (group_id bigint NOT NULL, individual_id bigint NOT NULL,
                               kind_id bigint NOT NULL,
                               PRIMARY KEY (group_id, individual_id, kind_id)) ON COMMIT DROP"""
    ).format(
        r=sql.Identifier(STAGE_REGISTRANT),
        i=sql.Identifier(STAGE_ID),
        p=sql.Identifier(STAGE_PHONE),
        t=sql.Identifier(STAGE_TAG),
        k=sql.Identifier(STAGE_KIND),
    )
    _execute(statement)
    return 5


def copy_into_staging(*, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """``COPY <staging table> (columns) FROM STDIN`` (text format) the given rows.

    Temp tables only: no locks on shared tables, no triggers. Returns the number of rows copied.
    """
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor behind Django's wrapper
        with raw.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def analyze_staging() -> int:
    """``ANALYZE`` the staging tables: autovacuum never analyzes temp tables, and the planner
    needs row counts to pick hash joins for large imports. Returns 5."""
    statement = sql.SQL("ANALYZE {}, {}, {}, {}, {}").format(
        sql.Identifier(STAGE_REGISTRANT),
        sql.Identifier(STAGE_ID),
        sql.Identifier(STAGE_PHONE),
        sql.Identifier(STAGE_TAG),
        sql.Identifier(STAGE_KIND),
    )
    _execute(statement)
    return 5


def insert_registrants_from_staging(*, company_id: int) -> int:
    """``INSERT INTO registrant … SELECT … FROM g2p_import_registrant WHERE is_new``.

    Every NOT NULL column is filled explicitly (the ORM defaults do not exist in the database).
    Uses the staged primary keys (the identity column is ``GENERATED BY DEFAULT``). Takes row
    locks on the new rows only; the audit trigger records one ``insert`` event per row.
    Returns the number of registrants created.
    """
    statement = sql.SQL(
        """INSERT INTO {reg} (
               id, is_registrant, is_group, name, given_name, family_name, addl_name, birthdate,
               birthdate_not_exact, birth_place, registration_date, address, email, civil_status,
               occupation, income, is_partial_group, additional_g2p_info, active, disabled,
               disabled_reason, create_date, write_date, company_id, disabled_by_id, gender,
               kind_id)
           SELECT s.registrant_id, true, s.is_group, s.name, COALESCE(s.given_name, ''),
                  COALESCE(s.family_name, ''), COALESCE(s.addl_name, ''), s.birthdate,
                  false, COALESCE(s.birth_place, ''), s.registration_date, COALESCE(s.address, ''),
                  COALESCE(s.email, ''), '', '', NULL, false, '{{}}'::jsonb, true, NULL,
                  '', now(), now(), %s, NULL, s.gender, s.kind_id
             FROM {stage} s
            WHERE s.is_new
            ORDER BY s.row_no"""
    ).format(reg=_t(Registrant), stage=sql.Identifier(STAGE_REGISTRANT))
    return _execute(statement, [company_id])


def update_registrants_from_staging() -> int:
    """``UPDATE registrant … FROM g2p_import_registrant`` for rows matched by key.

    A staged ``NULL`` keeps the current value (an empty cell never erases data). Rows whose
    values would not change are not touched (no new row version, no audit event, ``write_date``
    kept). Joins on the registrant primary key; locks the updated rows. Returns the number of
    registrants actually changed.
    """
    statement = sql.SQL(
        """UPDATE {reg} r SET
               name = COALESCE(s.name, r.name),
               given_name = COALESCE(s.given_name, r.given_name),
               family_name = COALESCE(s.family_name, r.family_name),
               addl_name = COALESCE(s.addl_name, r.addl_name),
               gender = COALESCE(s.gender, r.gender),
               birthdate = COALESCE(s.birthdate, r.birthdate),
               birth_place = COALESCE(s.birth_place, r.birth_place),
               registration_date = COALESCE(s.registration_date, r.registration_date),
               email = COALESCE(s.email, r.email),
               address = COALESCE(s.address, r.address),
               kind_id = COALESCE(s.kind_id, r.kind_id),
               write_date = now()
             FROM {stage} s
            WHERE r.id = s.registrant_id AND NOT s.is_new
              AND (r.name, r.given_name, r.family_name, r.addl_name, r.gender, r.birthdate,
                   r.birth_place, r.registration_date, r.email, r.address, r.kind_id)
                  IS DISTINCT FROM
                  (COALESCE(s.name, r.name), COALESCE(s.given_name, r.given_name),
                   COALESCE(s.family_name, r.family_name), COALESCE(s.addl_name, r.addl_name),
                   COALESCE(s.gender, r.gender), COALESCE(s.birthdate, r.birthdate),
                   COALESCE(s.birth_place, r.birth_place),
                   COALESCE(s.registration_date, r.registration_date),
                   COALESCE(s.email, r.email), COALESCE(s.address, r.address),
                   COALESCE(s.kind_id, r.kind_id))"""
    ).format(reg=_t(Registrant), stage=sql.Identifier(STAGE_REGISTRANT))
    return _execute(statement)


def upsert_registrant_ids_from_staging() -> int:
    """``INSERT INTO registrantid … ON CONFLICT (registrant_id, id_type_id) DO UPDATE``.

    Adds IDs of new types and changes the value of existing ones (only when it differs), using
    the ``regid_one_per_type`` unique index as the arbiter. Locks the inserted/updated rows.
    Returns the number of IDs inserted or changed.
    """
    statement = sql.SQL(
        """INSERT INTO {regid} AS t (value, expiry_date, status, description, id_type_id,
                                     registrant_id)
           SELECT s.value, NULL, '', '', s.id_type_id, s.registrant_id FROM {stage} s
           ON CONFLICT (registrant_id, id_type_id) DO UPDATE SET value = EXCLUDED.value
            WHERE t.value IS DISTINCT FROM EXCLUDED.value"""
    ).format(regid=_t(RegistrantId), stage=sql.Identifier(STAGE_ID))
    return _execute(statement)


def insert_phones_from_staging(*, date_collected: datetime.date) -> int:
    """``INSERT INTO phonenumber … ON CONFLICT (registrant_id, phone_sanitized) DO NOTHING``.

    Adds numbers a registrant does not have yet (arbiter: ``phone_unique_per_registrant``);
    never removes one. Returns the number of phone numbers added.
    """
    statement = sql.SQL(
        """INSERT INTO {phone} (phone_no, phone_sanitized, country_code, date_collected, disabled,
                                disabled_by_id, registrant_id)
           SELECT s.phone_no, s.phone_sanitized, '', %s, NULL, NULL, s.registrant_id FROM {stage} s
           ON CONFLICT (registrant_id, phone_sanitized) DO NOTHING"""
    ).format(phone=_t(PhoneNumber), stage=sql.Identifier(STAGE_PHONE))
    return _execute(statement, [date_collected])


def insert_tags_from_staging() -> int:
    """``INSERT INTO registrant_tags … ON CONFLICT (registrant_id, registranttag_id) DO NOTHING``.

    Adds tags (never removes one), arbiter: the link table's unique index. Returns the number
    of tag links added.
    """
    statement = sql.SQL(
        """INSERT INTO {tags} (registrant_id, registranttag_id)
           SELECT s.registrant_id, s.tag_id FROM {stage} s
           ON CONFLICT (registrant_id, registranttag_id) DO NOTHING"""
    ).format(tags=_tags_table(), stage=sql.Identifier(STAGE_TAG))
    return _execute(statement)


def delete_replaced_membership_kinds() -> int:
    """``DELETE FROM groupmembership_kinds USING …`` the kinds a file row no longer lists.

    Only for staged rows with ``set_kinds`` (the file has a ``membership_kinds`` column): the
    kinds of the (group, individual) membership become exactly the listed ones, so kinds not
    listed are removed first, before any unique kind ("Head") is given to someone else.
    Uses ``membership_unique_member``; locks the deleted link rows. Returns the number removed.
    """
    statement = sql.SQL(
        """DELETE FROM {gmk} l
            USING {gm} m, {stage} s
            WHERE s.set_kinds AND s.group_id IS NOT NULL AND NOT s.is_new
              AND m.group_id = s.group_id AND m.individual_id = s.registrant_id
              AND l.groupmembership_id = m.id
              AND NOT EXISTS (SELECT 1 FROM {kinds} k
                               WHERE k.group_id = m.group_id AND k.individual_id = m.individual_id
                                 AND k.kind_id = l.membershipkind_id)"""
    ).format(
        gmk=_kinds_table(),
        gm=_t(GroupMembership),
        stage=sql.Identifier(STAGE_REGISTRANT),
        kinds=sql.Identifier(STAGE_KIND),
    )
    return _execute(statement)


def upsert_memberships_from_staging() -> int:
    """``INSERT INTO groupmembership … ON CONFLICT (group_id, individual_id) DO UPDATE``.

    Creates the missing memberships; an existing one that has ended is made current again
    (``ended_date`` cleared), a current one (no end date, or an end date still ahead) is left
    as it is. Arbiter:
    ``membership_unique_member``. The party-check trigger runs per inserted row. Returns the
    number of memberships created or reopened.
    """
    statement = sql.SQL(
        """INSERT INTO {gm} AS t (start_date, ended_date, group_id, individual_id)
           SELECT now(), NULL, s.group_id, s.registrant_id FROM {stage} s
            WHERE s.group_id IS NOT NULL
            ORDER BY s.group_id, s.registrant_id
           ON CONFLICT (group_id, individual_id) DO UPDATE SET ended_date = NULL
            WHERE t.ended_date <= statement_timestamp()"""
    ).format(gm=_t(GroupMembership), stage=sql.Identifier(STAGE_REGISTRANT))
    return _execute(statement)


def insert_membership_kinds_from_staging() -> int:
    """``INSERT INTO groupmembership_kinds … ON CONFLICT DO NOTHING`` the listed kinds.

    Joins the staged (group, individual, kind) to the membership through
    ``membership_unique_member``. The unique-kind constraint trigger checks each added unique
    kind under a lock on the group row (validation has already refused a second "Head").
    Returns the number of kind links added.
    """
    statement = sql.SQL(
        """INSERT INTO {gmk} (groupmembership_id, membershipkind_id)
           SELECT m.id, k.kind_id FROM {kinds} k
             JOIN {gm} m ON m.group_id = k.group_id AND m.individual_id = k.individual_id
           ON CONFLICT (groupmembership_id, membershipkind_id) DO NOTHING"""
    ).format(gmk=_kinds_table(), gm=_t(GroupMembership), kinds=sql.Identifier(STAGE_KIND))
    return _execute(statement)


def drop_import_staging() -> int:
    """``DROP TABLE`` the staging tables now rather than at commit (frees temp space early and
    lets another import run in the same transaction). Returns 5."""
    statement = sql.SQL(
        "DROP TABLE IF EXISTS pg_temp.{}, pg_temp.{}, pg_temp.{}, pg_temp.{}, pg_temp.{}"
    ).format(
        sql.Identifier(STAGE_REGISTRANT),
        sql.Identifier(STAGE_ID),
        sql.Identifier(STAGE_PHONE),
        sql.Identifier(STAGE_TAG),
        sql.Identifier(STAGE_KIND),
    )
    _execute(statement)
    return 5
