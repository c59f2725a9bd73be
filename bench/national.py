"""National-scale benchmark: one program cycle over a generated registry, stage by stage.

Fills a fresh database set-based (``generate_series``) with ``--size`` individuals (default
1,000,000) in households of four, each with a National ID (every 500th shares the ID of the
person before), a phone, a bank account, a birthdate, a gender and proxy-means-test indicators;
then runs each stage of a cycle through the project's own services — the code the back office,
the RPC and REST APIs call — with a real procrastinate worker in this process running the jobs
the services enqueue:

 import        registry import of a generated file (100,000 rows at the default size)
 pmt           PMT scores of every individual (four indicators, one job)
 add           the individuals added to an individual program (Add to Program)
 enrol         Enroll Eligible Registrants, a domain that matches 60 %
 dedup         deduplicate by National ID
 cycle         create Cycle 1 and copy the enrolled beneficiaries
 entitlements  prepare entitlements (100.00 each, 1 % fee)
 pending       To Approve (entitlements set pending) and cycle approval
 approve       approve the entitlements against the program's fund
 payments      prepare payments in batches of 5,000
 send+files    send payments and write one CSV payment file per batch
 rpc, rest     a search_read page over JSON-RPC and a REST search, 8 concurrent clients

For every bulk stage a hand-written SQL statement doing the same row work on the same data
runs first inside a transaction that is rolled back — the floor — and the table shows both
times and their ratio. Each stage's results are checked (counts, amounts, checksums) against
the numbers the generator implies and the floor produced; a wrong result fails the run.
Between stages the tables touched are vacuumed and analysed (not timed), as autovacuum would.

Run (PostgreSQL from ``DATABASE_URL``, else the embedded server; the benchmark creates and
drops its own database ``<name>_bench``)::

    make bench                                 # 1,000,000 individuals
    make bench SIZE=10000                      # a quick run that checks every stage
    .venv/bin/python -m bench.national --size 200000 --json bench/result.json
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import (
    MemoryWatch,
    database_url,
    peak_rss_mb,
    reset_peak,
    run_worker,
    setup_database,
)

HOUSEHOLD = 4  # individuals per household
SHARED_ID_EVERY = 500  # individual g with g % 500 == 2 carries the National ID of g - 1
AMOUNT = Decimal("100.00")
FEE_PCT = Decimal("1.00")
BATCH_SIZE = 5_000
QUEUES = ["programs"]
DOMAIN = "[('gender', '=', 'Female'), ('birthdate', '<', '2010-01-01')]"
GIVEN = ["Grace", "Peter", "Akinyi", "Samuel", "Wanjiru", "John", "Mary", "Otieno", "Amina",
         "Hassan", "Faith", "Joseph", "Esther", "David", "Njeri", "Brian", "Mercy", "Kevin",
         "Lucy", "Daniel"]  # fmt: skip
FAMILY = ["Mwangi", "Otieno", "Kamau", "Ochieng", "Wanjiku", "Kiprop", "Mutua", "Njoroge",
          "Odhiambo", "Chebet", "Kariuki", "Achieng", "Mohamed", "Ali", "Korir", "Wafula",
          "Nyambura", "Kilonzo"]  # fmt: skip
PMT_INDICATORS = [
    {"name": "Income", "source": "field", "key": "income", "weight": Decimal("-0.0010")},
    {"name": "Rooms", "source": "info", "key": "rooms", "weight": Decimal("-1.5000")},
    {
        "name": "Roof",
        "source": "info",
        "key": "roof",
        "value_type": "choice",
        "choices": {"mud": 3, "iron": 1, "tile": 0},
        "weight": Decimal("2.0000"),
    },
    {
        "name": "Disability",
        "source": "info",
        "key": "disability",
        "value_type": "boolean",
        "weight": Decimal("5.0000"),
    },
]
FILE_COLUMNS = [
    {"header": "Reference", "expression": "payment.name"},
    {"header": "Beneficiary", "expression": "beneficiary.family_name|upper"},
    {"header": "Account", "expression": "bank_account.acc_number"},
    {"header": "Holder", "expression": "bank_account.acc_holder_name"},
    {"header": "Amount", "expression": "payment.amount_issued|amount"},
    {"header": "Currency", "expression": "payment.currency"},
    {"header": "Date", "expression": 'payment.issuance_date|date:"%Y-%m-%d"'},
]


class CheckFailed(AssertionError):
    """A stage produced a wrong result."""


def expect(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, expected {want!r}")


@dataclass
class Stage:
    name: str
    rows: int = 0
    seconds: float = 0.0
    floor_seconds: float | None = None
    memory: dict[str, float] = field(default_factory=dict)
    note: str = ""
    latency: dict[str, float] | None = None

    @property
    def ratio(self) -> float | None:
        if not self.floor_seconds:
            return None
        return self.seconds / self.floor_seconds

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "stage": self.name,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds else None,
            "floor_seconds": None if self.floor_seconds is None else round(self.floor_seconds, 3),
            "ratio": None if self.ratio is None else round(self.ratio, 2),
            "peak_app_mb": self.memory.get("app_mb"),
            "peak_db_mb": self.memory.get("db_mb"),
        }
        if self.latency:
            data["latency_ms"] = self.latency
        if self.note:
            data["note"] = self.note
        return data


# --- SQL helpers -------------------------------------------------------------------------------


def sql(statement: str, params: Any = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def one(statement: str, params: Any = None) -> Any:
    rows = sql(statement, params)
    return rows[0][0] if len(rows[0]) == 1 else rows[0]


def maintain(*tables: str) -> None:
    """``VACUUM ANALYZE`` the tables a stage wrote (outside any transaction), as autovacuum
    would after a bulk change, so the next stage plans with current statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


class _Rollback(Exception):
    pass


def floor(body: Callable[[Any], Any]) -> tuple[float, Any]:
    """Time ``body(cursor)`` — the hand-written statements of a stage — in a transaction that
    is then rolled back; return (seconds, what ``body`` returned).

    The timing ends with ``SET CONSTRAINTS ALL IMMEDIATE``: the schema's foreign keys are
    ``DEFERRABLE INITIALLY DEFERRED``, so their row checks run at commit, which a rolled-back
    transaction never reaches. Every committed write pays them (at 600,000 cycle members they
    cost more than the ``INSERT`` itself), so the floor does too."""
    from django.db import connection, transaction

    box: list[Any] = []
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                started = time.perf_counter()
                result = body(cursor)
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                box.extend([time.perf_counter() - started, result])
            raise _Rollback
    except _Rollback:
        pass
    return box[0], box[1]


# --- the registry --------------------------------------------------------------------------------


REGISTRY_TABLES = (
    "g2p_registry_base_registrant",
    "g2p_registry_base_groupmembership",
    "g2p_registry_base_groupmembership_kinds",
    "g2p_registry_base_registrantid",
    "g2p_registry_base_phonenumber",
    "g2p_registry_base_bankaccount",
)
LOAD_SESSIONS = 2  # parallel loading sessions (this machine has two cores)


def _load_session(dbname: str, replica: bool) -> Any:
    """A psycopg session of its own for the bulk load: triggers off (``replica``) when the
    role may, and room to sort for the index builds."""
    import psycopg

    from bench.common import server_params

    # client-side binding, as Django's cursors: literals typed by the statement, not smallint
    conn = psycopg.connect(
        **server_params(), dbname=dbname, autocommit=True, cursor_factory=psycopg.ClientCursor
    )
    conn.execute("SET maintenance_work_mem = '512MB'")
    if replica:
        conn.execute("SET session_replication_role = replica")
    return conn


def _parallel(dbname: str, replica: bool, lanes: Sequence[Sequence[tuple[str, Any]]]) -> None:
    """Run each lane (a list of ``(statement, params)``) in its own session, lanes in
    parallel; a failing statement fails the whole load."""
    errors: list[BaseException] = []

    def lane(statements: Sequence[tuple[str, Any]]) -> None:
        try:
            with _load_session(dbname, replica) as conn:
                for statement, params in statements:
                    conn.execute(statement, params)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=lane, args=(statements,)) for statements in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def generate(n: int) -> dict[str, int]:
    """``n`` individuals in ``n / 4`` households, with IDs, phones and bank accounts, loaded the
    way ``pg_restore`` loads a dump: a few ``INSERT … SELECT … generate_series`` statements in
    two parallel sessions with triggers off (the rows are valid by construction and
    :func:`check_generated` verifies them; the audit trail does not record the fixture), then
    the secondary indexes built over the loaded tables. Constraint indexes (primary keys,
    unique constraints) stay in place throughout. Returns the id bases (individual g has id
    ``person_base + g``)."""
    from django.db import connection

    from g2p_registry_base.models import Bank, IdType, MembershipKind, Registrant

    id_type, _ = IdType.objects.get_or_create(
        name="National ID", defaults={"id_validation": "[0-9]{10}"}
    )
    bank, _ = Bank.objects.get_or_create(name="Bench Bank", defaults={"bic": "BENCHKEN"})
    head = MembershipKind.objects.get(name="Head")
    company = Registrant._meta.get_field("company").get_default()
    base = int(one("SELECT coalesce(max(id), 0) FROM g2p_registry_base_registrant"))
    replica = bool(one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    households = n // HOUSEHOLD
    half = n // 2
    p = {
        "base": base,
        "hbase": base + n,
        "n": n,
        "h": households,
        "company": company,
        "given": GIVEN,
        "family": FAMILY,
        "id_type": id_type.pk,
        "bank": bank.pk,
        "head": head.pk,
        "hh": HOUSEHOLD,
        "every": SHARED_ID_EVERY,
    }
    indexes = sql(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
         WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
           AND NOT EXISTS (
                 SELECT 1 FROM pg_constraint k
                  WHERE k.conindid = format('%%I.%%I', i.schemaname, i.indexname)::regclass)
         ORDER BY i.tablename, i.indexname
        """,
        [list(REGISTRY_TABLES)],
    )
    for name, _definition in indexes:
        sql(f'DROP INDEX "{name}"')
    individuals = """
        INSERT INTO g2p_registry_base_registrant
          (id, is_registrant, is_group, name, given_name, family_name, addl_name, birthdate,
           birthdate_not_exact, birth_place, registration_date, address, email, civil_status,
           occupation, income, is_partial_group, additional_g2p_info, active, disabled_reason,
           create_date, write_date, company_id, gender)
        SELECT %(base)s + g, true, false, upper(x.fam) || ', ' || x.giv, x.giv, x.fam, '',
               DATE '1950-01-01' + ((g::bigint * 7919) %% 21000)::int, false, '',
               DATE '2023-01-01' + g %% 700, '', '', '', '', (g::bigint * 37) %% 20000, false,
               jsonb_build_object('rooms', 1 + g %% 4,
                                  'roof', (ARRAY['mud', 'iron', 'tile'])[1 + g %% 3],
                                  'disability', g %% 17 = 0),
               true, '', now(), now(), %(company)s,
               CASE WHEN g %% 5 IN (1, 2, 3) THEN 'Female' ELSE 'Male' END
          FROM generate_series(%(lo)s, %(hi)s) g,
               LATERAL (SELECT (%(given)s::text[])[1 + g %% 20] AS giv,
                               (%(family)s::text[])[1 + ((g - 1) / %(hh)s) %% 18] AS fam) x
    """
    groups = """
        INSERT INTO g2p_registry_base_registrant
          (id, is_registrant, is_group, name, given_name, family_name, addl_name,
           birthdate_not_exact, birth_place, registration_date, address, email, civil_status,
           occupation, is_partial_group, additional_g2p_info, active, disabled_reason,
           create_date, write_date, company_id)
        SELECT %(hbase)s + h, true, true, 'Household ' || h, '', '', '', false, '',
               DATE '2023-01-01' + h %% 700, 'Plot ' || h, '', '', '', false, '{}', true, '',
               now(), now(), %(company)s
          FROM generate_series(1, %(h)s) h
    """
    memberships = """
        INSERT INTO g2p_registry_base_groupmembership (group_id, individual_id, start_date)
        SELECT %(hbase)s + (g - 1) / %(hh)s + 1, %(base)s + g, now()
          FROM generate_series(1, %(n)s) g
    """
    heads = """
        INSERT INTO g2p_registry_base_groupmembership_kinds (groupmembership_id, membershipkind_id)
        SELECT gm.id, %(head)s FROM g2p_registry_base_groupmembership gm
         WHERE gm.individual_id > %(base)s AND gm.individual_id <= %(base)s + %(n)s
           AND (gm.individual_id - %(base)s - 1) %% %(hh)s = 0
    """
    national_ids = """
        INSERT INTO g2p_registry_base_registrantid
          (registrant_id, id_type_id, value, status, description)
        SELECT %(base)s + g, %(id_type)s,
               lpad((CASE WHEN g %% %(every)s = 2 THEN g - 1 ELSE g END)::text, 10, '0'), '', ''
          FROM generate_series(1, %(n)s) g
    """
    phones = """
        INSERT INTO g2p_registry_base_phonenumber
          (registrant_id, phone_no, phone_sanitized, country_code)
        SELECT %(base)s + g, '+2547' || lpad(g::text, 8, '0'), '+2547' || lpad(g::text, 8, '0'),
               'KE'
          FROM generate_series(1, %(n)s) g
    """
    bank_accounts = """
        INSERT INTO g2p_registry_base_bankaccount
          (registrant_id, bank_id, acc_number, acc_holder_name)
        SELECT r.id, %(bank)s, 'AC' || lpad((r.id - %(base)s)::text, 12, '0'),
               r.given_name || ' ' || r.family_name
          FROM g2p_registry_base_registrant r
         WHERE r.id > %(base)s AND r.id <= %(base)s + %(n)s
    """
    dbname = connection.settings_dict["NAME"]
    _parallel(
        dbname,
        replica,
        [
            [(individuals, {**p, "lo": 1, "hi": half}), (groups, p)],
            [(individuals, {**p, "lo": half + 1, "hi": n})],
        ],
    )
    sql(
        "SELECT setval(pg_get_serial_sequence('g2p_registry_base_registrant', 'id'), "
        "%(hbase)s + %(h)s)",
        p,
    )
    _parallel(
        dbname,
        replica,
        [[(memberships, p), (heads, p), (national_ids, p)], [(phones, p), (bank_accounts, p)]],
    )
    # the index builds dealt to the sessions in turn
    lanes: list[list[tuple[str, Any]]] = [[] for _ in range(LOAD_SESSIONS)]
    for i, (_name, definition) in enumerate(indexes):
        lanes[i % LOAD_SESSIONS].append((definition, None))
    _parallel(dbname, replica, lanes)
    maintain(*REGISTRY_TABLES)
    return {"person_base": base, "household_base": base + n, "id_type": id_type.pk}


def check_generated(n: int, ids: dict[str, int]) -> None:
    lo, hi = ids["person_base"], ids["person_base"] + n
    expect(
        "generated individuals, households",
        tuple(
            one(
                "SELECT count(*) FILTER (WHERE NOT is_group AND id > %s AND id <= %s), "
                "count(*) FILTER (WHERE is_group) FROM g2p_registry_base_registrant",
                [lo, hi],
            )
        ),
        (n, n // HOUSEHOLD),
    )
    counts = one(
        "SELECT (SELECT count(*) FROM g2p_registry_base_groupmembership),"
        " (SELECT count(*) FROM g2p_registry_base_groupmembership_kinds),"
        " (SELECT count(*) FROM g2p_registry_base_registrantid),"
        " (SELECT count(DISTINCT value) FROM g2p_registry_base_registrantid),"
        " (SELECT count(*) FROM g2p_registry_base_phonenumber),"
        " (SELECT count(*) FROM g2p_registry_base_bankaccount)"
    )
    shared = shared_ids(n)
    expect(
        "memberships, heads, IDs, distinct IDs, phones, bank accounts",
        tuple(counts),
        (n, n // HOUSEHOLD, n, n - shared, n, n),
    )


def shared_ids(n: int) -> int:
    """Individuals carrying the National ID of the individual before them."""
    return sum(1 for g in range(2, n + 1, SHARED_ID_EVERY))


# --- stages --------------------------------------------------------------------------------------


class Bench:
    def __init__(self, n: int, import_households: int) -> None:
        self.n = n
        self.import_households = import_households
        self.stages: list[Stage] = []
        self.watch = MemoryWatch()
        self.ids: dict[str, int] = {}
        self.actors: dict[str, Any] = {}
        self.program: Any = None
        self.cycle: Any = None
        self.profile_dir: Path | None = None

    # bookkeeping

    def stage(
        self,
        name: str,
        run: Callable[[], int],
        *,
        floor_body: Callable[[Any], Any] | None = None,
        check: Callable[[Any], None] | None = None,
        tables: Sequence[str] = (),
    ) -> Stage:
        """Floor first (rolled back), then the project's services, then the checks."""
        result = Stage(name)
        floor_result = None
        if floor_body is not None:
            result.floor_seconds, floor_result = floor(floor_body)
            maintain(*tables)
        from django.db import connection

        connection.close()  # the stage starts on a fresh server process: its own memory reading
        self.watch.start()
        profile = cProfile.Profile() if self.profile_dir else None
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        result.rows = run()
        if profile is not None:
            profile.disable()
            profile.dump_stats(str(self.profile_dir / f"{name.replace('+', '-')}.prof"))
        result.seconds = time.perf_counter() - started
        result.memory = self.watch.stop()
        if check is not None:
            check(floor_result)
        maintain(*tables)
        self.stages.append(result)
        ratio = f"{result.ratio:5.2f}x" if result.ratio is not None else "   - "
        floor_text = f"{result.floor_seconds:7.2f} s" if result.floor_seconds else "        -"
        print(
            f"  {name:<13} {result.rows:>10,} rows {result.seconds:8.2f} s  floor {floor_text}"
            f"  {ratio}  app {result.memory['app_mb']:>4.0f} MB"
            f"  db {result.memory['db_mb']:>4.0f} MB",
            flush=True,
        )
        return result

    def setup(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from g2p_programs.roles import (
            ROLE_CYCLE_APPROVER,
            ROLE_FINANCE_VALIDATOR,
            ROLE_PROGRAM_MANAGER,
        )

        users = get_user_model()
        for name, role in (
            ("manager", ROLE_PROGRAM_MANAGER),
            ("approver", ROLE_CYCLE_APPROVER),
            ("finance", ROLE_FINANCE_VALIDATOR),
        ):
            user = users.objects.create_user(name, password=f"{name}-bench-pass", is_staff=True)
            user.groups.add(Group.objects.get(name=role))
            self.actors[name] = user
        self.actors["admin"] = users.objects.create_superuser(
            "bench-admin", password="bench-admin-pass"
        )

    def run_jobs(self) -> None:
        run_worker(QUEUES)

    # -- import

    def stage_import(self, workdir: Path) -> None:
        from bench.registry_import import HEADER, generate_rows, write_file
        from g2p_registry_base import imports

        path = workdir / "registry.csv"
        write_file(
            generate_rows(households=self.import_households, members=3, seed=20240601),
            path,
            "csv",
        )
        households = self.import_households
        rows = households * 4
        before = int(one("SELECT count(*) FROM g2p_registry_base_registrant"))
        outcome: dict[str, Any] = {}

        def run() -> int:
            result = imports.registry_import_file(
                path=path, mode="all_or_nothing", source="national benchmark"
            )
            if not result.ok:
                raise CheckFailed("import: " + imports.report_text(result))
            outcome["created"] = result.created
            return int(result.rows_total)

        def floor_body(cursor: Any) -> int:
            columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
            cursor.execute(f"CREATE TEMP TABLE bench_stage ({columns}) ON COMMIT DROP")
            with (
                open(path, "rb") as fh,
                cursor.copy(
                    "COPY bench_stage FROM STDIN WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL ("
                    + ", ".join(f"c{i}" for i in range(len(HEADER)))
                    + "))"
                ) as copy,
            ):
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
            cursor.execute(
                """
                CREATE TEMP TABLE bench_rows ON COMMIT DROP AS
                SELECT s.*, nextval(pg_get_serial_sequence('g2p_registry_base_registrant', 'id'))
                       AS rid,
                       nextval(pg_get_serial_sequence('g2p_registry_base_groupmembership', 'id'))
                       AS mid
                  FROM bench_stage s
                """
            )
            cursor.execute(
                """
                INSERT INTO g2p_registry_base_registrant
                  (id, is_registrant, is_group, name, given_name, family_name, addl_name,
                   birthdate, birthdate_not_exact, birth_place, registration_date, address,
                   email, civil_status, occupation, is_partial_group, additional_g2p_info, active,
                   disabled_reason, create_date, write_date, company_id, gender)
                SELECT rid, true, c0 = 'group',
                       CASE WHEN c0 = 'group' THEN c4 ELSE upper(c6) || ', ' || c5 END,
                       c5, c6, '', nullif(c8, '')::date, false, c9, nullif(c10, '')::date, c11,
                       '', '', '', false, '{}', true, '', now(), now(), %s, nullif(c7, '')
                  FROM bench_rows
                """,
                [self._company()],
            )
            cursor.execute(
                """
                INSERT INTO g2p_registry_base_registrantid
                  (registrant_id, id_type_id, value, status, description)
                SELECT rid, %s, c1, '', '' FROM bench_rows
                """,
                [self.ids["id_type"]],
            )
            cursor.execute(
                """
                INSERT INTO g2p_registry_base_phonenumber
                  (registrant_id, phone_no, phone_sanitized, country_code)
                SELECT rid, c13, CASE WHEN c13 LIKE '0%%' THEN '+254' || substr(c13, 2)
                                      ELSE c13 END, 'KE'
                  FROM bench_rows WHERE c13 <> ''
                """
            )
            cursor.execute(
                """
                INSERT INTO g2p_registry_base_groupmembership (id, group_id, individual_id,
                                                               start_date)
                SELECT i.mid, g.rid, i.rid, now()
                  FROM bench_rows i JOIN bench_rows g ON g.c0 = 'group' AND g.c1 = i.c2
                 WHERE i.c0 = 'individual'
                """
            )
            cursor.execute(
                """
                INSERT INTO g2p_registry_base_groupmembership_kinds
                       (groupmembership_id, membershipkind_id)
                SELECT mid, (SELECT id FROM g2p_registry_base_membershipkind WHERE name = 'Head')
                  FROM bench_rows WHERE c0 = 'individual' AND c3 = 'Head'
                """
            )
            return rows

        def check(_floor: Any) -> None:
            expect("import: registrants created", outcome["created"], rows)
            expect(
                "import: registrants after",
                int(one("SELECT count(*) FROM g2p_registry_base_registrant")),
                before + rows,
            )

        self.stage(
            "import",
            run,
            floor_body=floor_body,
            check=check,
            tables=(
                "g2p_registry_base_registrant",
                "g2p_registry_base_registrantid",
                "g2p_registry_base_phonenumber",
                "g2p_registry_base_groupmembership",
            ),
        )

    def _company(self) -> int:
        from g2p_registry_base.models import Registrant

        return int(Registrant._meta.get_field("company").get_default())

    # -- program

    def make_program(self) -> None:
        from g2p_payment_files.models import PaymentFileConfig
        from g2p_programs.choices import ManagerKind
        from g2p_programs.models import ManagerAssignment
        from g2p_programs.services import programs

        manager = self.actors["manager"]
        program = programs.program_create(
            name="National Cash Transfer",
            target_type="individual",
            currency="KES",
            eligibility_domain=DOMAIN,
            actor=manager,
        )
        file_config = PaymentFileConfig(name="Bank file", file_format="csv", columns=FILE_COLUMNS)
        file_config.full_clean()
        file_config.save()
        for kind, config in (
            (
                ManagerKind.ENTITLEMENT,
                {"amount_per_cycle": str(AMOUNT), "transfer_fee_pct": str(FEE_PCT)},
            ),
            (ManagerKind.CYCLE, {"recurrence": {"rrule_type": "monthly", "cycle_duration": 1}}),
        ):
            assignment = ManagerAssignment.objects.get(program=program, kind=kind)
            programs.manager_configure(assignment=assignment, config=config, actor=manager)
        ManagerAssignment.objects.filter(program=program, kind=ManagerKind.PAYMENT).update(
            active=False
        )
        ManagerAssignment(
            program=program,
            kind=ManagerKind.PAYMENT,
            manager_key="file",
            name="Bank files",
            config={"max_batch_size": BATCH_SIZE, "file_config_ids": [file_config.pk]},
        ).save()
        ManagerAssignment(
            program=program,
            kind=ManagerKind.DEDUPLICATION,
            manager_key="id",
            name="National ID",
            config={"id_types": ["National ID"]},
            sequence=20,
        ).save()
        self.program = program

    def individuals(self) -> int:
        return int(
            one(
                "SELECT count(*) FROM g2p_registry_base_registrant"
                " WHERE NOT is_group AND is_registrant"
            )
        )

    # -- PMT

    def stage_pmt(self) -> None:
        from g2p_pmt.services import pmt_config_save

        total = self.individuals()

        def run() -> int:
            result = pmt_config_save(
                program=self.program,
                enabled=True,
                indicators=PMT_INDICATORS,
                actor=self.actors["admin"],
            )
            expect("pmt: queued", result, {"queued": total})
            self.run_jobs()
            return total

        def value(alias: str) -> list[str]:
            info = f"{alias}.additional_g2p_info"
            return [
                f"coalesce({alias}.income, 0)::numeric",
                f"CASE WHEN jsonb_typeof({info} -> 'rooms') = 'number' "
                f"THEN ({info} ->> 'rooms')::numeric ELSE 0 END",
                f'coalesce((\'{{"mud": "3", "iron": "1", "tile": "0"}}\'::jsonb '
                f"->> ({info} ->> 'roof'))::numeric, 0)",
                f"CASE WHEN lower(coalesce({info} ->> 'disability', '')) IN ('true', 'yes', '1')"
                " THEN 1 ELSE 0 END::numeric",
            ]

        weights = [str(i["weight"]) for i in PMT_INDICATORS]
        names = [str(i["name"]) for i in PMT_INDICATORS]
        values = value("r")
        score = " + ".join(f"s.v{i} * {w}" for i, w in enumerate(weights))
        breakdown = ", ".join(
            f"jsonb_build_object('indicator', '{n}', 'value', s.v{i}, 'weight', {w}::numeric,"
            f" 'points', s.v{i} * {w})"
            for i, (n, w) in enumerate(zip(names, weights, strict=True))
        )
        select_values = ", ".join(f"{v} AS v{i}" for i, v in enumerate(values))

        def floor_body(cursor: Any) -> Any:
            cursor.execute(
                f"""
                INSERT INTO g2p_pmt_pmtscore (program_id, registrant_id, score, breakdown,
                                              computed_at)
                SELECT %s, s.id, {score}, jsonb_build_array({breakdown}), now()
                  FROM (SELECT r.id, {select_values} FROM g2p_registry_base_registrant r
                         WHERE NOT r.is_group AND r.is_registrant) s
                ON CONFLICT (program_id, registrant_id) DO UPDATE
                   SET score = excluded.score, breakdown = excluded.breakdown,
                       computed_at = excluded.computed_at
                """,  # noqa: S608 (composed from this module's constants)
                [self.program.pk],
            )
            cursor.execute(
                "SELECT count(*), sum(score) FROM g2p_pmt_pmtscore WHERE program_id = %s",
                [self.program.pk],
            )
            return cursor.fetchone()

        def check(floor_result: Any) -> None:
            got = one(
                "SELECT count(*), sum(score) FROM g2p_pmt_pmtscore WHERE program_id = %s",
                [self.program.pk],
            )
            expect("pmt: scores and their sum (as the floor)", tuple(got), tuple(floor_result))
            expect("pmt: scores", got[0], total)

        self.stage("pmt", run, floor_body=floor_body, check=check, tables=("g2p_pmt_pmtscore",))

    # -- enrolment

    def stage_add(self) -> None:
        """Add to Program with the whole filtered registry list selected (a queryset: the
        selection is never loaded)."""
        from g2p_programs.services import programs
        from g2p_registry_base.models import Registrant

        lo, hi = self.ids["person_base"], self.ids["person_base"] + self.n
        selection = Registrant.objects.filter(is_group=False, pk__gt=lo, pk__lte=hi)

        def run() -> int:
            note = programs.program_add_registrants(
                program=self.program, registrants=selection, actor=self.actors["manager"]
            )
            expect(
                "add: message",
                note.message,
                f"Total registrants:{self.n}, Already in program:0, Newly added:{self.n}",
            )
            return self.n

        def floor_body(cursor: Any) -> int:
            cursor.execute(
                """
                INSERT INTO g2p_programs_programmembership
                       (registrant_id, program_id, state, create_date, write_date)
                SELECT r.id, %s, 'draft', now(), now() FROM g2p_registry_base_registrant r
                 WHERE r.id > %s AND r.id <= %s AND r.disabled IS NULL AND r.is_registrant
                   AND NOT r.is_group
                ON CONFLICT (registrant_id, program_id) DO NOTHING
                """,
                [self.program.pk, lo, hi],
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("add: floor rows", floor_rows, self.n)
            expect("add: memberships", self._states("programmembership"), {"draft": self.n})

        self.stage(
            "add", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_programmembership",),
        )  # fmt: skip

    def _states(self, table: str, column: str = "program_id", holder: Any = None) -> dict[str, int]:
        holder = holder or self.program
        rows = sql(
            f"SELECT state, count(*) FROM g2p_programs_{table} WHERE {column} = %s"  # noqa: S608
            " GROUP BY 1",
            [holder.pk],
        )
        return {str(state): int(count) for state, count in rows}

    def enrolled_expected(self) -> int:
        return sum(1 for g in range(1, self.n + 1) if g % 5 in (1, 2, 3))

    def stage_enrol(self) -> None:
        from g2p_programs.services import programs

        women = self.enrolled_expected()

        def run() -> int:
            note = programs.program_enroll_eligible(
                program=self.program, actor=self.actors["manager"]
            )
            expect(
                "enrol: message",
                note.message,
                f"Eligibility check of {self.n} beneficiaries started.",
            )
            self.run_jobs()
            return self.n

        def floor_body(cursor: Any) -> int:
            cursor.execute(
                """
                UPDATE g2p_programs_programmembership pm
                   SET state = CASE WHEN r.gender = 'Female' AND r.birthdate < DATE '2010-01-01'
                                    THEN 'enrolled' ELSE 'not_eligible' END,
                       enrollment_date = CASE WHEN r.gender = 'Female'
                                               AND r.birthdate < DATE '2010-01-01'
                                              THEN now() END,
                       write_date = now()
                  FROM g2p_registry_base_registrant r
                 WHERE r.id = pm.registrant_id AND pm.program_id = %s AND pm.state = 'draft'
                   AND r.disabled IS NULL
                """,
                [self.program.pk],
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("enrol: floor rows", floor_rows, self.n)
            expect(
                "enrol: memberships",
                self._states("programmembership"),
                {"enrolled": women, "not_eligible": self.n - women},
            )

        self.stage(
            "enrol", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_programmembership",),
        )  # fmt: skip

    def stage_dedup(self) -> None:
        from g2p_programs.services import programs

        women = self.enrolled_expected()
        pairs = shared_ids(self.n)  # g % 500 == 2 and g - 1 are both women

        def run() -> int:
            note = programs.program_deduplicate(program=self.program, actor=self.actors["manager"])
            expect(
                "dedup: message", note.message, f"Deduplication of {women} beneficiaries started."
            )
            self.run_jobs()
            return women

        def floor_body(cursor: Any) -> int:
            cursor.execute(
                """
                WITH ids AS (
                    SELECT pm.id AS membership_id, ri.value
                      FROM g2p_programs_programmembership pm
                      JOIN g2p_registry_base_registrantid ri
                        ON ri.registrant_id = pm.registrant_id AND ri.id_type_id = %(type)s
                     WHERE pm.program_id = %(program)s AND pm.state = 'enrolled'
                ), shared AS (
                    SELECT value FROM ids GROUP BY value HAVING count(*) > 1
                ), groups AS (
                    INSERT INTO g2p_programs_duplicategroup
                           (reason, state, comment, create_date, program_id)
                    SELECT 'National ID ' || value, 'duplicate', '', now(), %(program)s
                      FROM shared
                    RETURNING id, reason
                ), members AS (
                    INSERT INTO g2p_programs_duplicategroupmember
                           (duplicate_group_id, membership_id)
                    SELECT g.id, i.membership_id
                      FROM ids i JOIN groups g ON g.reason = 'National ID ' || i.value
                    RETURNING membership_id
                )
                UPDATE g2p_programs_programmembership pm
                   SET state = 'duplicated', write_date = now()
                  FROM members m WHERE pm.id = m.membership_id
                """,
                {"type": self.ids["id_type"], "program": self.program.pk},
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("dedup: floor rows", floor_rows, 2 * pairs)
            expect(
                "dedup: memberships",
                self._states("programmembership"),
                {
                    "enrolled": women - 2 * pairs,
                    "duplicated": 2 * pairs,
                    "not_eligible": self.n - women,
                },
            )
            expect("dedup: duplicate groups", self.program.duplicate_groups.count(), pairs)

        self.stage(
            "dedup", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_programmembership", "g2p_programs_duplicategroup",
                    "g2p_programs_duplicategroupmember"),
        )  # fmt: skip

    def beneficiaries(self) -> int:
        return self.enrolled_expected() - 2 * shared_ids(self.n)

    # -- cycle

    def stage_cycle(self) -> None:
        import datetime

        from g2p_programs.models import Cycle
        from g2p_programs.services import cycles

        count = self.beneficiaries()

        def run() -> int:
            self.cycle, note = cycles.program_create_new_cycle(
                program=self.program, actor=self.actors["manager"]
            )
            expect(
                "cycle: message",
                note.message,
                f"New cycle Cycle 1 created. Import of {count} beneficiaries started.",
            )
            self.run_jobs()
            return count

        def floor_body(cursor: Any) -> int:
            scratch = Cycle.objects.create(
                program=self.program,
                name="Floor",
                start_date=datetime.date.today(),
                end_date=datetime.date.today(),
            )
            cursor.execute(
                """
                INSERT INTO g2p_programs_cyclemembership (state, enrollment_date, cycle_id,
                                                          registrant_id)
                SELECT 'enrolled', current_date, %s, pm.registrant_id
                  FROM g2p_programs_programmembership pm
                 WHERE pm.program_id = %s AND pm.state = 'enrolled'
                ON CONFLICT (registrant_id, cycle_id) DO NOTHING
                """,
                [scratch.pk, self.program.pk],
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("cycle: floor rows", floor_rows, count)
            expect(
                "cycle: members",
                self._states("cyclemembership", "cycle_id", self.cycle),
                {"enrolled": count},
            )

        self.stage(
            "cycle", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_cyclemembership",),
        )  # fmt: skip

    def stage_entitlements(self) -> None:
        from g2p_programs.services import entitlements

        count = self.beneficiaries()
        fee = (AMOUNT * FEE_PCT / 100).quantize(Decimal("0.01"))

        def run() -> int:
            note = entitlements.entitlements_prepare(cycle=self.cycle, actor=self.actors["manager"])
            expect("entitlements: message", note.message,
                   f"Preparing entitlements of {count} beneficiaries started.")  # fmt: skip
            self.run_jobs()
            return count

        def floor_body(cursor: Any) -> Any:
            cursor.execute(
                """
                INSERT INTO g2p_programs_entitlement
                       (code, ern, registrant_id, cycle_id, program_id, is_cash_entitlement,
                        currency, initial_amount, transfer_fee, valid_from, valid_until, state,
                        create_date)
                SELECT substr(gen_random_uuid()::text, 8, 21), '', cm.registrant_id, c.id,
                       c.program_id, true, 'KES', %(amount)s, round(%(amount)s * %(pct)s / 100, 2),
                       c.start_date, c.end_date, 'draft', now()
                  FROM g2p_programs_cyclemembership cm
                  JOIN g2p_programs_cycle c ON c.id = cm.cycle_id
                 WHERE cm.cycle_id = %(cycle)s AND cm.state = 'enrolled'
                ON CONFLICT (cycle_id, registrant_id) DO NOTHING
                """,
                {"amount": AMOUNT, "pct": FEE_PCT, "cycle": self.cycle.pk},
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("entitlements: floor rows", floor_rows, count)
            got = one(
                "SELECT count(*), sum(initial_amount), sum(transfer_fee), count(DISTINCT code) "
                "FROM g2p_programs_entitlement WHERE cycle_id = %s AND state = 'draft'",
                [self.cycle.pk],
            )
            expect("entitlements: count, amount, fees, codes", tuple(got),
                   (count, AMOUNT * count, fee * count, count))  # fmt: skip

        self.stage(
            "entitlements", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_entitlement",),
        )  # fmt: skip

    def stage_pending(self) -> None:
        from g2p_programs.services import cycles

        count = self.beneficiaries()

        def run() -> int:
            note = cycles.cycle_to_approve(cycle=self.cycle, actor=self.actors["manager"])
            expect("pending: message", note.message,
                   f"Setting {count} entitlements to pending validation started.")  # fmt: skip
            self.run_jobs()
            note = cycles.cycle_approve(cycle=self.cycle, actor=self.actors["approver"])
            expect("pending: approval", note.message, "Cycle Cycle 1 approved.")
            return count

        def floor_body(cursor: Any) -> int:
            cursor.execute(
                "UPDATE g2p_programs_entitlement SET state = 'pending_validation' "
                "WHERE cycle_id = %s AND state = 'draft'",
                [self.cycle.pk],
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("pending: floor rows", floor_rows, count)
            expect("pending: entitlements", self._states("entitlement", "cycle_id", self.cycle),
                   {"pending_validation": count})  # fmt: skip
            self.cycle.refresh_from_db()
            expect("pending: cycle", self.cycle.state, "approved")

        self.stage(
            "pending", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_entitlement",),
        )  # fmt: skip

    def stage_approve(self) -> None:
        from g2p_programs.services import entitlements, funds

        count = self.beneficiaries()
        finance = self.actors["finance"]
        fund = funds.fund_create(program=self.program, amount=AMOUNT * count, actor=finance)
        funds.fund_post(fund=fund, actor=finance)

        def run() -> int:
            note = entitlements.entitlements_approve(cycle=self.cycle, actor=finance)
            expect("approve: message", note.message, f"Approval of {count} entitlements started.")
            self.run_jobs()
            return count

        def floor_body(cursor: Any) -> Any:
            balance = funds.program_fund_balance(program=self.program)
            cursor.execute(
                """
                WITH ranked AS (
                    SELECT id, sum(initial_amount) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING)
                           AS running
                      FROM g2p_programs_entitlement
                     WHERE cycle_id = %(cycle)s
                       AND state IN ('draft', 'pending_validation')
                )
                UPDATE g2p_programs_entitlement e
                   SET state = 'approved',
                       ern = lpad((floor(random() * 10000000000))::bigint::text, 10, '0'),
                       date_approved = current_date, approved_by_id = %(user)s
                  FROM ranked r WHERE e.id = r.id AND r.running <= %(balance)s
                """,
                {"cycle": self.cycle.pk, "user": finance.pk, "balance": balance},
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("approve: floor rows", floor_rows, count)
            expect("approve: entitlements", self._states("entitlement", "cycle_id", self.cycle),
                   {"approved": count})  # fmt: skip
            expect("approve: fund balance", funds.program_fund_balance(program=self.program),
                   Decimal("0.00"))  # fmt: skip

        self.stage(
            "approve", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_entitlement",),
        )  # fmt: skip

    def stage_payments(self) -> None:
        from g2p_programs.services import payments

        count = self.beneficiaries()
        batches = -(-count // BATCH_SIZE)

        def run() -> int:
            note = payments.payments_prepare(cycle=self.cycle, actor=self.actors["finance"])
            expect("payments: message", note.message, "Preparing Payments Asynchronously.")
            self.run_jobs()
            return count

        def floor_body(cursor: Any) -> Any:
            cursor.execute(
                """
                WITH src AS (
                    SELECT e.id, e.registrant_id, e.currency, e.initial_amount, e.transfer_fee,
                           (row_number() OVER (ORDER BY e.id) - 1) / %(size)s AS batch_no
                      FROM g2p_programs_entitlement e
                     WHERE e.cycle_id = %(cycle)s AND e.state = 'approved'
                ), batches AS (
                    INSERT INTO g2p_programs_paymentbatch
                           (name, external_batch_ref, batch_has_started, batch_has_completed,
                            stats_datetime, cycle_id)
                    SELECT 'floor-' || batch_no, '', false, false, now(), %(cycle)s
                      FROM (SELECT DISTINCT batch_no FROM src) d
                    RETURNING id, name
                )
                INSERT INTO g2p_programs_payment
                       (name, entitlement_id, cycle_id, batch_id, state, status, status_is_final,
                        account_number, currency, amount_issued, payment_fee, issuance_date)
                SELECT gen_random_uuid()::text, s.id, %(cycle)s, b.id, 'issued', '', false,
                       coalesce(a.acc_number, ''), s.currency, s.initial_amount, s.transfer_fee,
                       now()
                  FROM src s JOIN batches b ON b.name = 'floor-' || s.batch_no
                  LEFT JOIN LATERAL (
                        SELECT acc_number FROM g2p_registry_base_bankaccount ba
                         WHERE ba.registrant_id = s.registrant_id ORDER BY ba.id LIMIT 1) a ON true
                """,
                {"cycle": self.cycle.pk, "size": BATCH_SIZE},
            )
            return int(cursor.rowcount)

        def check(floor_rows: int) -> None:
            expect("payments: floor rows", floor_rows, count)
            got = one(
                "SELECT count(*), sum(amount_issued), count(DISTINCT batch_id), "
                "count(*) FILTER (WHERE account_number = '') "
                "FROM g2p_programs_payment WHERE cycle_id = %s AND state = 'issued'",
                [self.cycle.pk],
            )
            expect("payments: count, amount, batches, without account", tuple(got),
                   (count, AMOUNT * count, batches, 0))  # fmt: skip

        self.stage(
            "payments", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_payment", "g2p_programs_paymentbatch"),
        )  # fmt: skip

    def stage_send(self) -> None:
        from g2p_payment_files.models import PaymentFile
        from g2p_programs.services import payments

        count = self.beneficiaries()
        batches = -(-count // BATCH_SIZE)

        def run() -> int:
            note = payments.payments_send(cycle=self.cycle, actor=self.actors["finance"])
            expect("send: message", note.message, "Sending Payments Asynchronously")
            self.run_jobs()
            return count

        def floor_body(cursor: Any) -> Any:
            cursor.execute(
                "UPDATE g2p_programs_payment SET state = 'sent' "
                "WHERE cycle_id = %s AND state = 'issued'",
                [self.cycle.pk],
            )
            sent = int(cursor.rowcount)
            cursor.execute(
                "UPDATE g2p_programs_paymentbatch SET batch_has_started = true WHERE cycle_id = %s",
                [self.cycle.pk],
            )
            digest, size = hashlib.sha256(), 0
            with cursor.copy(
                f"""
                COPY (
                    SELECT p.name, upper(r.family_name), a.acc_number, a.acc_holder_name,
                           p.amount_issued, p.currency, to_char(p.issuance_date, 'YYYY-MM-DD')
                      FROM g2p_programs_payment p
                      JOIN g2p_programs_entitlement e ON e.id = p.entitlement_id
                      JOIN g2p_registry_base_registrant r ON r.id = e.registrant_id
                      LEFT JOIN LATERAL (
                            SELECT acc_number, acc_holder_name FROM g2p_registry_base_bankaccount
                             WHERE registrant_id = e.registrant_id ORDER BY id LIMIT 1) a ON true
                     WHERE p.cycle_id = {int(self.cycle.pk)} AND p.state = 'sent'
                     ORDER BY p.batch_id, p.id
                ) TO STDOUT WITH (FORMAT csv, HEADER true)
                """  # noqa: S608 (an integer id)
            ) as copy:
                for data in copy:
                    digest.update(data)
                    size += len(data)
            return sent

        def check(floor_rows: int) -> None:
            expect("send: floor rows", floor_rows, count)
            expect(
                "send: payments", self._states("payment", "cycle_id", self.cycle), {"sent": count}
            )
            files = PaymentFile.objects.filter(batch__cycle=self.cycle)
            expect("send: files", files.count(), batches)
            expect("send: rows in files", sum(files.values_list("row_count", flat=True)), count)
            sample = files.order_by("pk").first()
            assert sample is not None
            content = bytes(sample.content)
            expect("send: checksum", sample.checksum, hashlib.sha256(content).hexdigest())
            lines = content.decode().splitlines()
            expect("send: file header", lines[0],
                   "Reference,Beneficiary,Account,Holder,Amount,Currency,Date")  # fmt: skip
            expect("send: file rows", len(lines) - 1, sample.row_count)

        self.stage(
            "send+files", run, floor_body=floor_body, check=check,
            tables=("g2p_programs_payment", "g2p_programs_paymentbatch",
                    "g2p_payment_files_paymentfile"),
        )  # fmt: skip

    # -- APIs

    def stage_apis(self, clients: int, requests_each: int) -> None:
        from addons.g2p_rest.services import api_key_create

        admin = self.actors["admin"]
        _key, secret = api_key_create(user=admin, name="benchmark")
        server = WebServer()
        try:
            server.start()
            db = _db_name()
            uid = server.rpc("common", "login", [db, "bench-admin", "bench-admin-pass"])
            if not isinstance(uid, int):
                raise CheckFailed(f"rpc: login answered {uid!r}")
            total = self.individuals()
            base = self.ids["person_base"]

            def rpc_call(conn: http.client.HTTPConnection, i: int) -> None:
                offset = (i * 7919) % max(1, self.n - 80)
                rows = server.rpc(
                    "object",
                    "execute_kw",
                    [db, uid, "bench-admin-pass", "res.partner", "search_read",
                     [[["is_registrant", "=", True], ["is_group", "=", False]]],
                     {"fields": ["name", "gender", "birthdate", "reg_ids", "phone_number_ids"],
                      "limit": 80, "offset": offset, "order": "id"}],
                    conn=conn,
                )  # fmt: skip
                expect("rpc: page size", len(rows), 80)

            def rest_call(conn: http.client.HTTPConnection, i: int) -> None:
                g = 1 + (i * 104729) % self.n
                value = f"{(g - 1 if g % SHARED_ID_EVERY == 2 else g):010d}"
                query = urllib.parse.urlencode({"id_type": "National ID", "id_value": value})
                conn.request(
                    "GET", f"/api/v1/registry/individual?{query}", headers={"X-API-Key": secret}
                )
                response = conn.getresponse()
                body = json.loads(response.read())
                expect("rest: status", response.status, 200)
                owner = g - 1 if g % SHARED_ID_EVERY == 2 else g
                want = 2 if owner % SHARED_ID_EVERY == 1 and owner + 1 <= self.n else 1
                expect("rest: matches", body["count"], want)
                found = {item["id"] for item in body["items"]}
                if not found <= {base + owner, base + owner + 1}:
                    raise CheckFailed(f"rest: ids {sorted(found)} for individual {g}")

            for name, call in (("rpc", rpc_call), ("rest", rest_call)):
                server.reset_peaks()
                latencies, seconds = concurrent(server.port, call, clients, requests_each)
                memory = {"app_mb": server.peak_mb(), "db_mb": self._db_peak()}
                stage = Stage(
                    name,
                    rows=len(latencies),
                    seconds=seconds,
                    memory=memory,
                    latency={
                        "median": round(statistics.median(latencies) * 1000, 1),
                        "p95": round(percentile(latencies, 95) * 1000, 1),
                    },
                    note=(
                        f"{clients} clients x {requests_each} requests; "
                        + (f"search_read of 80 of {total} individuals" if name == "rpc"
                           else "search by National ID")
                    ),
                )  # fmt: skip
                self.stages.append(stage)
                print(
                    f"  {name:<13} {stage.rows:>10,} reqs {seconds:8.2f} s  median "
                    f"{stage.latency['median']:.1f} ms  p95 {stage.latency['p95']:.1f} ms"
                    f"  web {memory['app_mb']:.0f} MB",
                    flush=True,
                )
        finally:
            server.stop()

    def _db_peak(self) -> float:
        from bench.common import backend_pids

        return round(max((peak_rss_mb(p) or 0 for p in backend_pids()), default=0))


def _db_name() -> str:
    from django.conf import settings

    return str(settings.DATABASES["default"]["NAME"])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def concurrent(
    port: int,
    call: Callable[[http.client.HTTPConnection, int], None],
    clients: int,
    each: int,
) -> tuple[list[float], float]:
    """``clients`` threads, each with its own keep-alive connection, making ``each`` calls;
    returns every call's latency and the wall time. The first error stops the run."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            for j in range(each):
                if errors:
                    return
                started = time.perf_counter()
                call(conn, k * each + j)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return latencies, wall


class WebServer:
    """The web application under gunicorn, as ``g2p serve`` runs it, on a free local port."""

    def __init__(self, workers: int | None = None) -> None:
        from pbms import config

        self.workers = workers or config.worker_count()  # as ``g2p serve``
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="pbms.settings")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "pbms.wsgi:application", "--bind",
             f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--timeout", "300"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/web/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the web server did not start within 60 s")

    def pids(self) -> list[int]:
        import psutil

        assert self.proc is not None
        parent = psutil.Process(self.proc.pid)
        return [parent.pid, *(c.pid for c in parent.children(recursive=True))]

    def reset_peaks(self) -> None:
        from bench.common import backend_pids

        for pid in [*self.pids(), *backend_pids()]:
            reset_peak(pid)

    def peak_mb(self) -> float:
        return round(max((peak_rss_mb(p) or 0 for p in self.pids()), default=0))

    def rpc(
        self,
        service: str,
        method: str,
        args: list[Any],
        conn: http.client.HTTPConnection | None = None,
    ) -> Any:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            body = json.dumps(
                {"jsonrpc": "2.0", "method": "call", "id": 1,
                 "params": {"service": service, "method": method, "args": args}}
            )  # fmt: skip
            conn.request(
                "POST", "/jsonrpc", body=body, headers={"Content-Type": "application/json"}
            )
            answer = json.loads(conn.getresponse().read())
        finally:
            if own:
                conn.close()
        if "error" in answer:
            raise CheckFailed(f"rpc: {answer['error']}")
        return answer["result"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --- report --------------------------------------------------------------------------------------

CYCLE_STAGES = ("pmt", "add", "enrol", "dedup", "cycle", "entitlements", "pending", "approve",
                "payments", "send+files")  # fmt: skip


def table(stages: list[Stage]) -> str:
    lines = [
        "| stage | rows | seconds | rows/s | floor s | ratio | peak app MB | peak db MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stages:
        if s.latency:
            lines.append(
                f"| {s.name} | {s.rows:,} requests | {s.seconds:.2f} | {s.rows / s.seconds:,.0f}/s"
                f" | median {s.latency['median']:.1f} ms | p95 {s.latency['p95']:.1f} ms"
                f" | {s.memory['app_mb']:.0f} | {s.memory['db_mb']:.0f} |"
            )
            continue
        floor_text = f"{s.floor_seconds:.2f}" if s.floor_seconds is not None else "-"
        ratio = f"{s.ratio:.2f}x" if s.ratio is not None else "-"
        lines.append(
            f"| {s.name} | {s.rows:,} | {s.seconds:.2f} | {s.rows / s.seconds:,.0f} | {floor_text}"
            f" | {ratio} | {s.memory.get('app_mb', 0):.0f} | {s.memory.get('db_mb', 0):.0f} |"
        )
    cycle = sum(s.seconds for s in stages if s.name in CYCLE_STAGES)
    lines.append(f"| **cycle, scoring to payment files** | | **{cycle:.1f}** | | | | | |")
    return "\n".join(lines)


def machine() -> str:
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    version = one("SHOW server_version")
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB RAM, PostgreSQL {version}, "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="individuals (multiple of 20)")
    parser.add_argument(
        "--import-rows", type=int, default=None,
        help="rows of the import file (default 100,000, or size / 10 when smaller)",
    )  # fmt: skip
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25, help="requests per API client")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    parser.add_argument(
        "--profile", type=Path, default=None, help="write a cProfile of each stage in this folder"
    )
    args = parser.parse_args(argv)
    if args.size < 1000 or args.size % 20:
        parser.error("--size must be a multiple of 20, at least 1,000")
    import_rows = args.import_rows or min(100_000, args.size // 10)
    import_households = max(1, import_rows // 4)

    started = time.perf_counter()
    database = setup_database("bench")
    import django.db

    settings_conn = django.db.connection.settings_dict
    settings_conn["CONN_MAX_AGE"] = None
    bench = Bench(args.size, import_households)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        bench.profile_dir = args.profile
    print(f"database {database}; {machine()}", flush=True)
    t0 = time.perf_counter()
    bench.ids = generate(args.size)
    check_generated(args.size, bench.ids)
    generated = time.perf_counter() - t0
    print(
        f"  generated {args.size:,} individuals in {args.size // HOUSEHOLD:,} households with IDs,"
        f" phones and bank accounts in {generated:.1f} s",
        flush=True,
    )
    bench.setup()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench.stage_import(Path(tmp))
        bench.make_program()
        bench.stage_pmt()
        bench.stage_add()
        bench.stage_enrol()
        bench.stage_dedup()
        bench.stage_cycle()
        bench.stage_entitlements()
        bench.stage_pending()
        bench.stage_approve()
        bench.stage_payments()
        bench.stage_send()
        bench.stage_apis(args.clients, args.requests)
    except CheckFailed as exc:
        print(f"WRONG RESULT: {exc}", file=sys.stderr)
        return 1
    total = time.perf_counter() - started
    peak_self = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
    summary = {
        "benchmark": "national",
        "size": args.size,
        "households": args.size // HOUSEHOLD,
        "machine": machine(),
        "command": "python -m bench.national "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "generate_seconds": round(generated, 2),
        "stages": [s.as_json() for s in bench.stages],
        "cycle_seconds": round(sum(s.seconds for s in bench.stages if s.name in CYCLE_STAGES), 2),
        "total_seconds": round(total, 1),
        "checks": "passed",
    }
    print()
    print(table(bench.stages))
    print(
        f"\nall stage results checked; whole run {total:.0f} s"
        f" (bench process peak {peak_self:.0f} MB)"
    )
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
