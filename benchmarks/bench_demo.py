"""The demo's simulated year through Prefect beside the same task bodies called directly.

    .venv/bin/python benchmarks/bench_demo.py [--out DIR] [--year 2017]

In one run: (0) start the local Prefect API (`flows.local_api`, timed on its own line),
(a) `run_demo` through Prefect (one flow run per simulated month, one task run per
simulated day running the production tasks' bodies), (b) `run_demo` running the same days
without Prefect. Both runs start from a fresh tracker database and must print the same
figures. Target (issue 9): (a) at most 2 x (b); the API's start-up is reported apart
from (a). Prints the machine too.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.0


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU ({model or 'unknown'}), "
            f"Python {platform.python_version()}")


def figures(result) -> tuple:  # type: ignore[no-untyped-def]
    return (tuple(tuple(sorted(r.items())) for r in result.per_period),
            tuple(sorted(result.escalations.items())), result.messages_sent, result.pre_due_sent,
            result.pre_due_dropped, result.files_written)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--year", type=int, default=2017)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-demo-"))

    from flows.demo import demo_settings, run_demo
    from flows.runtime import local_api, prefect_context, stop_local_api
    from tracker.catalog import default_catalog_path
    from tracker.catalog.schema import load_catalog
    from tracker.policy import Policy

    catalog = load_catalog(default_catalog_path())
    print(f"machine: {machine()}")
    prefect_home = demo_settings(out / "prefect-run")
    direct_home = demo_settings(out / "direct-run")
    policy = Policy.from_settings(prefect_home)

    with prefect_context(prefect_home):
        lease = local_api(prefect_home)
        state = "started" if lease.started else "reused (already running)"
        print(f"local Prefect API start-up: {lease.startup_seconds:6.1f} s ({state}, {lease.url})")
        t = time.perf_counter()
        through = run_demo(catalog, prefect_home, year=args.year, policy=policy)
        a = time.perf_counter() - t
    print(f"(a) through Prefect:        {a:6.1f} s "
          f"({through.days} days: a task run each, a flow run per month)")
    stop_local_api()

    t = time.perf_counter()
    direct = run_demo(catalog, direct_home, year=args.year, policy=policy, through_prefect=False)
    b = time.perf_counter() - t
    print(f"(b) task bodies directly:   {b:6.1f} s")
    same = figures(through) == figures(direct)
    print(f"same figures: {'yes' if same else 'NO'} "
          f"(requests {sum(r['requests'] for r in through.per_period)}, "
          f"escalations {dict(sorted(through.escalations.items()))}, "
          f"pre-due sent {through.pre_due_sent} / dropped {through.pre_due_dropped})")
    ratio = a / b
    print(f"ratio (a)/(b): {ratio:.2f} (target <= {TARGET_RATIO:.1f}; "
          f"with start-up {(a + lease.startup_seconds) / b:.2f})")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0 if same and ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
