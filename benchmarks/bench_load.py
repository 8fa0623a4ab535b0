"""Benchmark the catalog load against a hand-written SQL floor in the same run (on demand).

    .venv/bin/python benchmarks/bench_load.py [--assignments 10000 100000 1000000]
        [--shape districts|measures] [--db sqlite postgresql] [--pg-admin URL]

For each database and size, a generated catalog (`tracker.catalog.schema.Catalog`, JSON as
`tracker catalog load` reads it) is loaded into a fresh database (a temporary SQLite file,
or a temporary PostgreSQL database made through --pg-admin and dropped after):

- shape `districts` (default; a national plan): 40 measures, each led by one of 30 city
  agencies with two co-responsible ones, shared by every district government
  (`districts: true`): n/40 − 3 districts, so 25,000 agencies at 1M assignments;
- shape `measures`: n/10 measures, each with a lead and nine co-responsible agencies of
  60 (100,000 measures at 1M), every assignment written out in the catalog.

Timed, each in its own child process (its peak resident set is the child's own VmHWM;
the parent's RUSAGE_CHILDREN `ru_maxrss` would add the parent's resident set at the fork):
- validate: reading and validating the JSON (pydantic, then the cross-checks);
- load: `load_catalog` of the new plan, committed (its peak includes the validation);
- reload: a changed catalog over it (the last district dropped, lead and co swapped on
  every fourth measure, a new co-responsible agency on one measure), committed.
Floors, in the parent on the same database: the load's is a bare INSERT … SELECT of the
same agency, measure and assignment rows into empty tables of the same shape, indexes
and foreign keys; the reload's is one join of the
plan's stored assignments with that copy by (measure, agency) comparing role, position
and active, i.e. reading both sides once as any reload must.

Prints one table: operation, rows, seconds, peak MiB, SQL floor in the same run, ratio.
`--code DIR` loads with another checkout's `tracker` package (the migrations and the
floor stay this checkout's): the same file measures the code before a change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
CODE = os.environ.get("BENCH_LOAD_CODE", str(ROOT))  # the checkout whose load is measured
sys.path.insert(0, CODE)

from tracker.dates.workdays import SHANGHAI  # noqa: E402
from tracker.db import make_engine, migrate  # noqa: E402

PG_ADMIN = os.environ.get("TRACKER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
GOVERNMENT = "某省人民政府"
LOADED = dt.datetime(2017, 1, 5, 9, 0, tzinfo=SHANGHAI)
RELOADED = dt.datetime(2017, 2, 1, 9, 0, tzinfo=SHANGHAI)


@dataclass
class Row:
    """One line of the table (the shape benchmarks/ prints for every operation)."""

    operation: str
    rows: int
    seconds: float
    peak_mib: float | None
    floor_seconds: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.floor_seconds else self.seconds / self.floor_seconds


# --- the catalog ----------------------------------------------------------------------------

def _district(i: int) -> str:
    """A distinct county government name, of one length (no look-alikes), with varied
    first characters as real names have."""
    return chr(0x4E00 + i % 2000) + chr(0x5600 + i // 2000) + "县人民政府"


def catalog_json(n: int, shape: str, *, changed: bool = False) -> dict[str, Any]:
    """The generated catalog as JSON data (see the module): `n` assignments; `changed`:
    the reload's catalog."""
    city = [f"省第{i + 1:02d}厅" for i in range(60)]
    if shape == "districts":
        districts = [_district(i) for i in range(n // 40 - 3)]
        if changed:
            districts = districts[:-1]
        heads = [(city[i % 30], [city[(i + 1) % 30], city[(i + 2) % 30]]) for i in range(40)]
        shared = True
    else:
        districts = []
        heads = [(city[i % 60], [city[(i + k) % 60] for k in range(1, 10)])
                 for i in range(n // 10)]
        shared = False
    measures = []
    for i, (lead, co) in enumerate(heads):
        if changed and i % 4 == 0:
            lead, co = co[0], [lead, *co[1:]]
        if changed and i == 5:
            co = [*co, "省新设厅"]
        measures.append(dict(code=f"{i // 50 + 1}.{i % 50 + 1}", section=f"第{i // 50 + 1}部分",
                             title=f"任务{i + 1}", text=f"第{i + 1}项任务的内容。", lead=lead,
                             co=co, districts=shared))
    agencies = [dict(name=a, kind="city_agency") for a in [*city, "省政府督查室"]]
    if changed:
        agencies.append(dict(name="省新设厅", kind="city_agency"))
    agencies += [dict(name=d, kind="district_government") for d in districts]
    return dict(schema_version=2, plan=dict(
        id=f"bench-{shape}-{n}", title="生成的全国性行动方案", issuer="某省人民政府办公厅",
        doc_number="某政办发〔2017〕1号", issued="2017-01-05", period=[2017, 2020],
        government=GOVERNMENT, districts=districts, supervision_office="省政府督查室"),
        agencies=agencies, measures=measures, indicators=[])


# --- the child: one load, measured in its own process --------------------------------------

def _peak_mib() -> float:
    """This process's peak resident set since it started (VmHWM: the high-water mark of
    its own memory map; `ru_maxrss` would also count the parent's resident set at the
    fork, which exec carries over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, path: str, reload: bool) -> None:
    """Validate and load one catalog file into `url`; prints the figures as JSON."""
    from tracker.catalog.load import load_catalog
    from tracker.catalog.schema import validate_catalog_text
    from tracker.db import session_factory, transaction

    started = time.perf_counter()
    catalog = validate_catalog_text(Path(path).read_text(encoding="utf-8"))
    validated = time.perf_counter()
    validate_peak = _peak_mib()
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        result = load_catalog(s, catalog, RELOADED if reload else LOADED)
    done = time.perf_counter()
    engine.dispose()
    print(json.dumps(dict(validate=validated - started, load=done - validated,
                          validate_peak=validate_peak, changes=result.changes,
                          peak=_peak_mib())))


def run_child(url: str, path: Path, reload: bool, code: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", url, str(path)]
                         + (["--reload"] if reload else []),
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": code, "BENCH_LOAD_CODE": code})
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


# --- databases and floors ----------------------------------------------------------------------

@contextmanager
def database(kind: str, pg_admin: str, tmp: Path) -> Iterator[str]:
    """The URL of a new empty database, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    name = f"bench_load_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


TABLES = ("agency", "measure", "assignment")
# the real tables' foreign keys, given to the PostgreSQL floor's copies (LIKE leaves them
# out), pointing at the floor's own copies as on SQLite
FOREIGN_KEYS = {"agency": [("parent_id", "floor_agency"), ("merged_into_id", "floor_agency")],
                "measure": [("plan_id", "plan")],
                "assignment": [("measure_id", "floor_measure"), ("agency_id", "floor_agency")]}


def make_floor_tables(engine: Engine) -> None:
    """Empty tables floor_agency, floor_measure, floor_assignment of the same shape and
    indexes as the real ones."""
    with engine.begin() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS floor_{table}")
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
                for column, target in FOREIGN_KEYS[table]:
                    conn.exec_driver_sql(f"ALTER TABLE floor_{table} ADD FOREIGN KEY "
                                         f"({column}) REFERENCES {target} (id)")
                continue
            ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                       "AND name = ?", (table,)).scalar_one()
            conn.exec_driver_sql(re.sub(rf'^CREATE TABLE\s+"?{table}"?', f"CREATE TABLE floor_{table}", ddl)
                                 .replace("REFERENCES agency", "REFERENCES floor_agency")
                                 .replace("REFERENCES measure", "REFERENCES floor_measure"))
            for (sql,) in conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                    "AND sql IS NOT NULL", (table,)).all():
                conn.exec_driver_sql(sql.replace("INDEX ", "INDEX floor_", 1)
                                     .replace(f" ON {table} ", f" ON floor_{table} "))


def load_floor(engine: Engine, plan_key: str) -> tuple[float, int]:
    """Seconds of the bare INSERT … SELECT of the plan's rows into the floor tables."""
    make_floor_tables(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO floor_agency SELECT * FROM agency WHERE government = :g"),
                         {"g": GOVERNMENT})
        conn.execute(text("INSERT INTO floor_measure SELECT m.* FROM measure m JOIN plan p "
                          "ON p.id = m.plan_id WHERE p.key = :k"), {"k": plan_key})
        n = conn.execute(text(
            "INSERT INTO floor_assignment SELECT a.* FROM assignment a "
            "JOIN measure m ON m.id = a.measure_id JOIN plan p ON p.id = m.plan_id "
            "WHERE p.key = :k"), {"k": plan_key}).rowcount
    return time.perf_counter() - started, n


def reload_floor(engine: Engine, plan_key: str) -> float:
    """Seconds of one join of the plan's assignments with their copy, comparing them."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(
            "SELECT count(*) FROM assignment a JOIN measure m ON m.id = a.measure_id "
            "JOIN plan p ON p.id = m.plan_id JOIN floor_assignment f "
            "ON f.measure_id = a.measure_id AND f.agency_id = a.agency_id "
            "WHERE p.key = :k AND (f.role <> a.role OR f.position <> a.position "
            "OR f.active <> a.active)"), {"k": plan_key}).scalar_one()
    return time.perf_counter() - started


def measure(kind: str, n: int, shape: str, pg_admin: str, code: str) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        first, second = tmp / "catalog.json", tmp / "changed.json"
        first.write_text(json.dumps(catalog_json(n, shape), ensure_ascii=False), encoding="utf-8")
        second.write_text(json.dumps(catalog_json(n, shape, changed=True), ensure_ascii=False),
                          encoding="utf-8")
        with database(kind, pg_admin, tmp) as url:
            engine = make_engine(url)
            migrate(engine)
            engine.dispose()
            loaded = run_child(url, first, reload=False, code=code)
            assert loaded["changes"]["assignments_created"] == n, loaded["changes"]
            engine = make_engine(url)
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(
                    text("assignment"))).scalar_one() == n
            floor, copied = load_floor(engine, f"bench-{shape}-{n}")
            assert copied == n, copied
            engine.dispose()
            reloaded = run_child(url, second, reload=True, code=code)
            engine = make_engine(url)
            refloor = reload_floor(engine, f"bench-{shape}-{n}")
            engine.dispose()
        label = f"({kind}, {shape})"
        return [Row(f"validate {label}", n, loaded["validate"], loaded["validate_peak"]),
                Row(f"load new plan {label}", n, loaded["load"], loaded["peak"], floor),
                Row(f"reload changed {label}", n, reloaded["load"], reloaded["peak"], refloor)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(rows: list[Row]) -> None:
    print(f"{'operation':40s} {'rows':>10s} {'seconds':>9s} {'peak MiB':>9s} "
          f"{'SQL floor':>9s} {'ratio':>6s}")
    for r in rows:
        floor = f"{r.floor_seconds:9.2f}" if r.floor_seconds is not None else f"{'-':>9s}"
        ratio = f"{r.ratio:5.2f}×" if r.ratio is not None else f"{'-':>6s}"
        peak = f"{r.peak_mib:9.0f}" if r.peak_mib is not None else f"{'-':>9s}"
        print(f"{r.operation:40s} {r.rows:10,d} {r.seconds:9.2f} {peak} {floor} {ratio}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--assignments", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--shape", choices=["districts", "measures"], default="districts")
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--pg-admin", default=PG_ADMIN,
                        help="PostgreSQL URL allowed to create and drop databases")
    parser.add_argument("--code", default=str(ROOT),
                        help="the checkout whose tracker package is loaded (a before/after)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "CATALOG"), help=argparse.SUPPRESS)
    parser.add_argument("--reload", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.reload)
        return
    rows: list[Row] = []
    for kind in args.db:
        for n in args.assignments:
            got = measure(kind, n, args.shape, args.pg_admin, args.code)
            print_table(got)
            rows += got
    print()
    print_table(rows)


if __name__ == "__main__":
    main()

