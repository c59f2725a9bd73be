"""Raw SQL of the proxy means test: the score of every registrant of a program in one statement.

The statement is composed from the program's indicators with :mod:`psycopg.sql`: JSON keys,
weights and choice maps are bound parameters, column names come from a fixed whitelist, table
names from the models through :class:`~psycopg.sql.Identifier`. It runs through Django's cursor
so query counters see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from psycopg import sql

from g2p_pmt.choices import Aggregate, IndicatorSource, ValueType
from g2p_pmt.models import PmtScore
from g2p_registry_base.models import GroupMembership, Registrant


@dataclass(frozen=True)
class Indicator:
    """What the statement needs of a :class:`~g2p_pmt.models.PmtIndicator`."""

    name: str
    source: str
    key: str
    value_type: str
    weight: Decimal
    aggregate: str = Aggregate.OWN
    choices: dict[str, Any] = field(default_factory=dict)


def _t(model: Any) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


class _Params:
    """Collects bound parameters under generated names (``p0``, ``p1``…)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


def _value(ind: Indicator, alias: str, bind: _Params) -> sql.Composable:
    """A numeric expression of ``ind``'s value on the registrant row ``alias`` (never NULL)."""
    a = sql.Identifier(alias)
    if ind.source == IndicatorSource.FIELD:
        if ind.key == "income":
            return sql.SQL("coalesce({a}.income, 0)::numeric").format(a=a)
        if ind.key == "age":
            return sql.SQL(
                "coalesce(date_part('year', age(current_date, {a}.birthdate)), 0)::numeric"
            ).format(a=a)
        raise ValueError(f"{ind.key!r} is not a numeric registrant field")
    json_value = sql.SQL("({a}.additional_g2p_info -> {k})").format(a=a, k=bind(ind.key))
    text_value = sql.SQL("({a}.additional_g2p_info ->> {k})").format(a=a, k=bind(ind.key))
    if ind.value_type == ValueType.BOOLEAN:
        return sql.SQL(
            "CASE WHEN lower(coalesce({t}, '')) IN ('true', 'yes', '1') THEN 1 ELSE 0 END::numeric"
        ).format(t=text_value)
    if ind.value_type == ValueType.CHOICE:
        choices = {str(k): str(v) for k, v in ind.choices.items()}
        return sql.SQL("coalesce(({m}::jsonb ->> {t})::numeric, 0)").format(
            m=bind(_json(choices)), t=text_value
        )
    # a JSON number, or a string holding one; anything else counts 0
    return sql.SQL(
        "CASE WHEN jsonb_typeof({j}) = 'number' THEN {t}::numeric"
        r" WHEN jsonb_typeof({j}) = 'string' AND {t} ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$'"
        " THEN btrim({t})::numeric ELSE 0 END"
    ).format(j=json_value, t=text_value)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _aggregate(ind: Indicator, bind: _Params) -> sql.Composable:
    """The aggregate of ``ind`` over the member rows ``m`` of the lateral join."""
    if ind.aggregate == Aggregate.COUNT and not ind.key:
        return sql.SQL("count(*)::numeric")
    v = _value(ind, "m", bind)
    if ind.aggregate == Aggregate.COUNT:
        return sql.SQL("(count(*) FILTER (WHERE {v} <> 0))::numeric").format(v=v)
    if ind.aggregate == Aggregate.SUM:
        return sql.SQL("coalesce(sum({v}), 0)").format(v=v)
    if ind.aggregate == Aggregate.ANY:
        return sql.SQL("CASE WHEN bool_or({v} <> 0) THEN 1 ELSE 0 END::numeric").format(v=v)
    if ind.aggregate == Aggregate.ALL:
        return sql.SQL(
            "CASE WHEN count(*) > 0 AND bool_and({v} <> 0) THEN 1 ELSE 0 END::numeric"
        ).format(v=v)
    raise ValueError(f"unknown aggregate {ind.aggregate!r}")


def upsert_pmt_scores(
    *,
    program_id: int,
    is_group: bool,
    indicators: Sequence[Indicator],
    registrant_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> int:
    """``INSERT … SELECT … ON CONFLICT DO UPDATE`` the score of each registrant of a program.

    The registrants are every registrant (``is_registrant``) of the program's target kind —
    groups for a group program, individuals otherwise — disabled ones included (eligibility
    excludes them; re-enabling needs no recompute); ``registrant_ids`` limits them to those ids
    and the groups they are or were members of, ``id_range`` ``(after, upto)`` to
    ``after < id <= upto`` (a job's keyset chunk). Member aggregates are one ``LEFT JOIN
    LATERAL`` over the group's current memberships (``membership_group_idx``'s table); the
    score is ``Σ weight × value`` in NUMERIC (exact), the breakdown a JSON array of
    ``{indicator, value, weight, points}``. The update is skipped when score and breakdown are
    unchanged, so a re-run changes 0 rows. Locks the rows written. Returns how many changed.
    """
    bind = _Params()
    own: list[sql.Composable] = []
    member_aggs: list[sql.Composable] = []
    columns: list[sql.Identifier] = []
    for i, ind in enumerate(indicators):
        column = sql.Identifier(f"v{i}")
        columns.append(column)
        if ind.aggregate == Aggregate.OWN:
            own.append(sql.SQL("{v} AS {c}").format(v=_value(ind, "r", bind), c=column))
        else:
            member_aggs.append(sql.SQL("{v} AS {c}").format(v=_aggregate(ind, bind), c=column))
            own.append(sql.SQL("coalesce(mem.{c}, 0) AS {c}").format(c=column))
    points = [
        sql.SQL("s.{c} * {w}::numeric").format(c=c, w=bind(ind.weight))
        for c, ind in zip(columns, indicators, strict=True)
    ]
    entries = [
        sql.SQL(
            "jsonb_build_object('indicator', {n}::text, 'value', s.{c}, 'weight', {w}::numeric,"
            " 'points', s.{c} * {w}::numeric)"
        ).format(n=bind(ind.name), c=c, w=bind(ind.weight))
        for c, ind in zip(columns, indicators, strict=True)
    ]
    lateral: sql.Composable = sql.SQL("")
    if member_aggs:
        lateral = sql.SQL(
            """
            LEFT JOIN LATERAL (
                SELECT {aggs}
                  FROM {group_membership} gm
                  JOIN {registrant} m ON m.id = gm.individual_id
                 WHERE gm.group_id = r.id AND m.disabled IS NULL
                   AND (gm.ended_date IS NULL OR gm.ended_date > statement_timestamp())
            ) mem ON true
            """
        ).format(
            aggs=sql.SQL(", ").join(member_aggs),
            group_membership=_t(GroupMembership),
            registrant=_t(Registrant),
        )
    statement = sql.SQL(
        """
        INSERT INTO {score} AS old (program_id, registrant_id, score, breakdown, computed_at)
        SELECT %(program)s, s.id, {total}, jsonb_build_array({entries}), now()
          FROM (
            SELECT {own_columns}
              FROM {registrant} r
              {lateral}
             WHERE r.is_group = %(is_group)s AND r.is_registrant
               AND (%(after)s::bigint IS NULL OR r.id > %(after)s::bigint)
               AND (%(upto)s::bigint IS NULL OR r.id <= %(upto)s::bigint)
               AND (%(all)s OR r.id = ANY(%(ids)s::bigint[])
                    OR r.id IN (SELECT g.group_id FROM {group_membership} g
                                 WHERE g.individual_id = ANY(%(ids)s::bigint[])))
          ) s
        ON CONFLICT (program_id, registrant_id) DO UPDATE
           SET score = EXCLUDED.score, breakdown = EXCLUDED.breakdown,
               computed_at = EXCLUDED.computed_at
         WHERE (old.score, old.breakdown) IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.breakdown)
        """
    ).format(
        score=_t(PmtScore),
        total=sql.SQL(" + ").join([sql.SQL("0::numeric"), *points]),
        entries=sql.SQL(", ").join(entries),
        own_columns=sql.SQL(", ").join([sql.SQL("r.id"), *own]),
        registrant=_t(Registrant),
        group_membership=_t(GroupMembership),
        lateral=lateral,
    )
    params = {
        **bind.values,
        "program": program_id,
        "is_group": is_group,
        "after": id_range[0] if id_range else None,
        "upto": id_range[1] if id_range else None,
        "all": registrant_ids is None,
        "ids": list(registrant_ids or []),
    }
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.connection), params)
        return int(cursor.rowcount)
