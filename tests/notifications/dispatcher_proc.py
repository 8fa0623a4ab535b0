"""A dispatcher in its own process, for the tests that kill one or run two at once:

    python -m tests.notifications.dispatcher_proc DB_URL SMTP_PORT NOW_ISO RECIPIENTS

Prints the run's result as JSON on stdout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys

from notifications.channels import EmailChannel
from notifications.dispatch import dispatch
from tracker.dates.workdays import WorkCalendar
from tracker.db import make_engine, session_factory
from tracker.enums import ChannelKind


def main(url: str, port: str, now: str, recipients: str) -> None:
    factory = session_factory(make_engine(url))
    channel = EmailChannel("127.0.0.1", int(port), "tracker@example.org", timeout=10)
    r = dispatch(factory, {ChannelKind.EMAIL: channel}, now=dt.datetime.fromisoformat(now),
                 calendar=WorkCalendar(), recipients=int(recipients), run_timeout=600)
    print(json.dumps(dataclasses.asdict(r), ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:5])
