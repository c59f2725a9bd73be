"""Benchmark of the registry import (``g2p_registry_base.imports``).

Generates a registry file with a fixed seed — by default 25,000 households and 75,000 members
(100,000 rows), each row with a National ID and a phone, the first member of each household its
Head — imports it through :func:`registry_import_file` into a fresh database, then imports the
same file again (100,000 rows matched and updated, 0 created), and with ``--changes`` a third
time with every household's address changed and a new phone on every row (25,000 registrants
rewritten, 100,000 phones added). Prints rows/s and the seconds spent parsing, validating and
writing, peak memory, and a JSON summary.

Run (PostgreSQL from ``DATABASE_URL``, else the embedded server; the benchmark creates and drops
its own database ``<name>_bench_import`` next to the configured one)::

    .venv/bin/python -m bench.registry_import                 # 100,000 rows, CSV
    .venv/bin/python -m bench.registry_import --format xlsx   # the same as XLSX
    .venv/bin/python -m bench.registry_import --format xlsx --xlsx-reader openpyxl
    .venv/bin/python -m bench.registry_import --households 2500 --changes
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.common import setup_database

GIVEN = [
    "Grace",
    "Peter",
    "Akinyi",
    "Samuel",
    "Wanjiru",
    "John",
    "Mary",
    "Otieno",
    "Amina",
    "Hassan",
    "Faith",
    "Joseph",
    "Esther",
    "David",
    "Njeri",
    "Brian",
    "Mercy",
    "Kevin",
    "Lucy",
    "Daniel",
]
FAMILY = [
    "Mwangi",
    "Otieno",
    "Kamau",
    "Ochieng",
    "Wanjiku",
    "Kiprop",
    "Mutua",
    "Njoroge",
    "Odhiambo",
    "Chebet",
    "Kariuki",
    "Achieng",
    "Mohamed",
    "Ali",
    "Korir",
    "Wafula",
    "Nyambura",
    "Kilonzo",
]
PLACES = ["Nairobi", "Kisumu", "Mombasa", "Nakuru", "Eldoret", "Garissa", "Machakos", "Kitui"]
HEADER = [
    "type",
    "id:National ID",
    "group_ref",
    "membership_kinds",
    "name",
    "given_name",
    "family_name",
    "gender",
    "birthdate",
    "birth_place",
    "registration_date",
    "address",
    "group_kind",
    "phones",
]


def generate_rows(
    *, households: int, members: int, seed: int, variant: int = 0
) -> Iterator[list[Any]]:
    """The benchmark rows, streamed (deterministic for a seed). ``variant`` changes addresses
    and phones."""
    rnd = random.Random(seed)
    person = 0
    for h in range(households):
        group_key = f"{2_000_000_000 + h:010d}"
        place = rnd.choice(PLACES)
        registered = datetime.date(2023, 1, 1) + datetime.timedelta(days=rnd.randrange(700))
        address = f"Plot {rnd.randrange(1, 999)}, {place}" + (
            f" (moved {variant})" if variant else ""
        )
        phone_base = 710_000_000 + variant * 3_000_000
        yield (
            [
                "group",
                group_key,
                "",
                "",
                f"Household {h + 1}",
                "",
                "",
                "",
                "",
                "",
                registered.isoformat(),
                address,
                "Household",
                f"0{phone_base + h:09d}"[:10],
            ]
        )
        family = rnd.choice(FAMILY)
        for m in range(members):
            person += 1
            born = datetime.date(1940, 1, 1) + datetime.timedelta(days=rnd.randrange(29_000))
            yield (
                [
                    "individual",
                    f"{3_000_000_000 + person:010d}",
                    group_key,
                    "Head" if m == 0 else "",
                    "",
                    rnd.choice(GIVEN),
                    family,
                    rnd.choice(("Female", "Male")),
                    born.isoformat(),
                    place,
                    registered.isoformat(),
                    "",
                    "",
                    f"+2547{20_000_000 + person + variant * 1_000_000:08d}",
                ]
            )


def write_file(rows: Iterable[list[Any]], path: Path, fmt: str) -> None:
    if fmt == "csv":
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(rows)
        return
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Registrants")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _counts() -> dict[str, int]:
    from g2p_registry_base.models import GroupMembership, PhoneNumber, Registrant, RegistrantId

    return {
        "registrants": Registrant.objects.count(),
        "ids": RegistrantId.objects.count(),
        "phones": PhoneNumber.objects.count(),
        "memberships": GroupMembership.objects.count(),
        "heads": GroupMembership.kinds.through.objects.count(),
    }


def _run(label: str, path: Path) -> dict[str, Any]:
    from g2p_registry_base import imports

    started = time.perf_counter()
    result = imports.registry_import_file(path=path, mode="all_or_nothing", source=f"bench {label}")
    seconds = time.perf_counter() - started
    if not result.ok:
        print(imports.report_text(result), file=sys.stderr)
        raise SystemExit(f"{label}: the import failed")
    timings = {k: round(v, 2) for k, v in result.timings.items()}
    print(
        f"{label:<10} {result.rows_total:>8,} rows  created {result.created:>8,}  "
        f"updated {result.updated:>8,}"
        f"  {seconds:6.2f} s  {result.rows_total / seconds:>9,.0f} rows/s  "
        + "  ".join(f"{k} {v:.2f} s" for k, v in timings.items()),
        flush=True,
    )
    return {
        "label": label,
        "rows": result.rows_total,
        "created": result.created,
        "updated": result.updated,
        "seconds": round(seconds, 2),
        "rows_per_s": round(result.rows_total / seconds),
        **timings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=25_000)
    parser.add_argument("--members", type=int, default=3, help="members per household (default 3)")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument(
        "--xlsx-reader",
        choices=["calamine", "openpyxl"],
        default=None,
        help="XLSX reader (default: calamine when installed, else openpyxl)",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--changes", action="store_true", help="also re-import with changed addresses and phones"
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="reuse the benchmark database instead of recreating it",
    )
    args = parser.parse_args(argv)

    database = setup_database("bench_import", keep=args.keep_db)
    from g2p_registry_base import imports

    if args.xlsx_reader:
        imports.XLSX_READER = args.xlsx_reader
    from g2p_registry_base.models import IdType

    IdType.objects.get_or_create(name="National ID", defaults={"id_validation": "[0-9]{10}"})

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"registry.{args.format}"
        t0 = time.perf_counter()
        rows = generate_rows(households=args.households, members=args.members, seed=args.seed)
        write_file(rows, path, args.format)
        reader = f", XLSX reader {imports.XLSX_READER}" if args.format == "xlsx" else ""
        print(
            f"database {database}{reader}; generated {path.name} "
            f"({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        runs = [_run("import", path)]
        after_import = _counts()
        runs.append(_run("re-import", path))
        after_reimport = _counts()
        if args.changes:
            changed = Path(tmp) / f"changed.{args.format}"
            rows = generate_rows(
                households=args.households, members=args.members, seed=args.seed, variant=1
            )
            write_file(rows, changed, args.format)
            runs.append(_run("changes", changed))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"table counts after import {after_import}; after re-import {after_reimport}")
    print(f"peak memory {peak_mb:.0f} MB")
    print(
        json.dumps(
            {
                "benchmark": "registry_import",
                "format": args.format,
                "households": args.households,
                "members": args.members,
                "runs": runs,
                "counts": after_reimport,
                "peak_rss_mb": round(peak_mb),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
