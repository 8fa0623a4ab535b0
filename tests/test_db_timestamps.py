"""Every timestamp stored in UTC and read back aware, whichever path wrote it (SQLite and PG).

SQLite keeps no time zone: a datetime bound without UTCDateTime used to be stored as its
Beijing wall time, so a report imported at 23:30 showed as 07:30 the next day.
"""

from __future__ import annotations

import datetime as dt
import io
import lzma
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    create_engine,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.annual.scorecard.figures import escalation_detail
from tracker.cli import app as cli_app
from tracker.dates.chinese import cn_period
from tracker.dates.workdays import SHANGHAI
from tracker.db import alembic_config, make_engine, migrate, session_factory, transaction
from tracker.desk.board import BoardFilter
from tracker.desk.ledger import ledger_frame
from tracker.exchange.template import agency_template
from tracker.exchange.upload import import_sheet
from tracker.models import (
    Agency,
    Assignment,
    AuditEvent,
    Measure,
    ProgressReport,
    ProgressRequest,
    ReportingPeriod,
)

FIXTURE = Path(__file__).parent / "fixtures" / "demo-2017-rev0001.sqlite.xz"
LATE_NIGHT = at("2017-04-13", 23, 30)  # after the 催办 of 12 April; 15:30 UTC
SHOWN = "2017-04-13 23:30"


def _shown(value: dt.datetime | pd.Timestamp) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


# --- a. a report at 23:30 Beijing time, through each write path ------------------------------


def _subject(db, request_id: int) -> tuple[int, str, str, str]:  # type: ignore[no-untyped-def]
    """(agency id, agency name, measure code, period label) of a request."""
    with db() as s:
        return tuple(s.execute(  # type: ignore[return-value]
            select(Agency.id, Agency.name, Measure.code, ReportingPeriod.label)
            .join(ProgressRequest, ProgressRequest.agency_id == Agency.id)
            .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
            .join(Measure, Measure.id == Assignment.measure_id)
            .where(ProgressRequest.id == request_id)).one())


def _filled_sheet(db, agency_id: int, request_id: int) -> bytes:  # type: ignore[no-untyped-def]
    """The agency's template with one row (the request's) answered 推进中 40%."""
    with db() as s:
        data = agency_template(s, agency_id, dt.date(2017, 4, 13), at("2017-04-13", 9))
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["进展填报"]
    rows = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == request_id]
    assert len(rows) == 1
    sheet.cell(rows[0], 7, "推进中")
    sheet.cell(rows[0], 8, 40)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _write_web(db, db_url, tmp_path, request_id, agency, agency_id, monkeypatch):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, Clock(LATE_NIGHT)), follow_redirects=False)
    token = token_for(settings, liaison_of(db, agency), at("2017-04-13", 9))
    r = client.post(f"/l/{token}/requests/{request_id}", data={
        "action": "submit", "status": "in_progress", "percent": "40", "narrative": "深夜报送"})
    assert r.status_code == 303, r.text


def _write_excel(db, db_url, tmp_path, request_id, agency, agency_id, monkeypatch):  # type: ignore[no-untyped-def]
    data = _filled_sheet(db, agency_id, request_id)
    with transaction(db) as s:
        assert import_sheet(s, data, agency_id=agency_id, submitted_by="t", now=LATE_NIGHT).recorded == 1


def _write_cli(db, db_url, tmp_path, request_id, agency, agency_id, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    path = tmp_path / "filled.xlsx"
    path.write_bytes(_filled_sheet(db, agency_id, request_id))
    r = CliRunner().invoke(cli_app, ["import", agency, str(path), "--now", "2017-04-13T23:30"])
    assert r.exit_code == 0 and "已记录 1 项报送" in r.output, r.output


WRITERS = {"web": _write_web, "excel": _write_excel, "cli": _write_cli}


@pytest.mark.parametrize("path", list(WRITERS))
def test_late_night_report_reads_back_at_its_time(path, db, db_url, plan, policy, overdue, tmp_path,
                                                  monkeypatch):
    request_id = overdue[0]  # open, 催办 on 12 April
    agency_id, agency, code, period = _subject(db, request_id)
    WRITERS[path](db, db_url, tmp_path, request_id, agency, agency_id, monkeypatch)

    with db() as s:
        req = s.get_one(ProgressRequest, request_id)
        assert req.state == "answered" and req.answered_late is True
        assert req.answered_at == LATE_NIGHT
        report = s.scalars(select(ProgressReport).where(ProgressReport.request_id == request_id)).one()
        assert report.submitted_at == LATE_NIGHT
        # the ledger (台账)
        ledger = ledger_frame(s, BoardFilter(plan_id=plan.id), dt.date(2017, 4, 14), policy)
        row = ledger[ledger["系统编号"] == request_id].iloc[0]
        assert _shown(row["报送时间"]) == SHOWN
        # the scorecard's 逾期督办 detail: the Beijing date of the report
        escalations = escalation_detail(s, plan, 2017)
        mine = escalations[(escalations["编号"] == code) & (escalations["责任单位"] == agency)
                           & (escalations["报送期"] == cn_period(period))]
        assert len(mine) == 1 and mine.iloc[0]["报送日期"] == dt.date(2017, 4, 13)

    # the office's item page
    settings = make_settings(tmp_path / "desk", db_url)
    client = TestClient(make_app(db, settings, Clock(at("2017-04-14", 10))), follow_redirects=False)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/login", data={"username": "duchashi", "password": STAFF_PASSWORD,
                                       "csrf": csrf, "next": "/desk"}).status_code == 303
    item = client.get(f"/desk/requests/{request_id}")
    assert item.status_code == 200
    assert f"<dt>报送时间</dt><dd>{SHOWN}</dd>" in item.text
    assert f"第 1 版 · {SHOWN}" in item.text


# --- b. the bottom: datetimes bound without UTCDateTime --------------------------------------


@pytest.fixture
def two_requests(db, plan, policy) -> list[int]:  # type: ignore[no-untyped-def]
    from tracker.requests.opening import open_due_requests

    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-03-17"), policy)
    with db() as s:
        return list(s.scalars(select(ProgressRequest.id).order_by(ProgressRequest.id).limit(2)))


def _answered_at(db, request_id: int) -> dt.datetime | None:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.get_one(ProgressRequest, request_id).answered_at


def _stored_text(db, request_id: int) -> str:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.execute(text("SELECT answered_at FROM progress_request WHERE id = :i"),
                         {"i": request_id}).scalar_one()


def test_raw_sql_with_an_aware_datetime(db, db_url, two_requests):
    one_request, another = two_requests
    sql = text("UPDATE progress_request SET answered_at = :t WHERE id = :i")
    with transaction(db) as s:
        s.execute(sql, {"t": LATE_NIGHT, "i": one_request})
    assert _answered_at(db, one_request) == LATE_NIGHT
    assert _shown(_answered_at(db, one_request).astimezone(SHANGHAI)) == SHOWN  # type: ignore[union-attr]
    # SQL compares the stored values too: answered before midnight, not after 16:00 UTC
    with db() as s:
        assert s.scalars(select(ProgressRequest.id).where(
            ProgressRequest.answered_at < at("2017-04-14", 0, 0),
            ProgressRequest.answered_at > at("2017-04-13", 23, 0))).all() == [one_request]
    if db_url.startswith("sqlite"):
        assert _stored_text(db, one_request) == "2017-04-13 15:30:00.000000"

    # executemany (a list of parameter sets) and the driver's own positional form
    other = at("2017-04-14", 0, 15)
    with transaction(db) as s:
        s.execute(sql, [{"t": other, "i": one_request}, {"t": other, "i": another}])
    assert _answered_at(db, one_request) == _answered_at(db, another) == other
    if db_url.startswith("sqlite"):
        assert _stored_text(db, one_request) == "2017-04-13 16:15:00.000000"
        with transaction(db) as s:
            s.connection().exec_driver_sql(
                "UPDATE progress_request SET answered_at = ? WHERE id = ?", (LATE_NIGHT, one_request))
        assert _answered_at(db, one_request) == LATE_NIGHT
        with pytest.raises(ValueError, match="naive datetime"), transaction(db) as s:
            s.execute(sql, {"t": dt.datetime(2017, 4, 13, 23, 30), "i": one_request})
        assert _answered_at(db, one_request) == LATE_NIGHT


def test_untyped_binds_in_coalesce_and_literal(db, two_requests):
    one_request = two_requests[0]
    untyped = {  # values bound as a plain DateTime, not the column's UTCDateTime
        "coalesce": func.coalesce(ProgressRequest.answered_at, LATE_NIGHT),  # record_reports' old form
        "literal": literal(LATE_NIGHT),
        "subquery": select(func.coalesce(None, LATE_NIGHT)).scalar_subquery(),
    }
    for name, value in untyped.items():
        with transaction(db) as s:
            s.execute(update(ProgressRequest).where(ProgressRequest.id == one_request)
                      .values(answered_at=None))
            s.execute(update(ProgressRequest).where(ProgressRequest.id == one_request)
                      .values(answered_at=value))
        assert _answered_at(db, one_request) == LATE_NIGHT, name


# --- c. the migration over the demo year as revision 0001 wrote it --------------------------

REPORT_COLUMNS = (ProgressReport.id, ProgressReport.request_id, ProgressReport.version,
                  ProgressReport.status, ProgressReport.percent, ProgressReport.submitted_at)
STORED = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


@pytest.fixture(scope="module")
def demo_rev0001(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture decompressed once; tests copy it before opening it."""
    path = tmp_path_factory.mktemp("demo") / "rev0001.sqlite"
    path.write_bytes(lzma.decompress(FIXTURE.read_bytes()))
    return path


def _copy(source: Path, tmp_path: Path) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "tracker.db"
    shutil.copyfile(source, path)
    return f"sqlite:///{path}"


def _orm_state(engine: Engine) -> tuple[list[tuple], dict[int, tuple]]:  # type: ignore[type-arg]
    """(every report's key columns, {request id: (answered_at, first report's submitted_at)})."""
    with Session(engine) as s:
        reports = [tuple(r) for r in s.execute(select(*REPORT_COLUMNS).order_by(ProgressReport.id))]
        answers = {rid: (answered_at, first) for rid, answered_at, first in s.execute(
            select(ProgressRequest.id, ProgressRequest.answered_at, ProgressReport.submitted_at)
            .outerjoin(ProgressReport, (ProgressReport.request_id == ProgressRequest.id)
                       & (ProgressReport.version == 1)))}
    return reports, answers


@pytest.fixture(scope="module")
def before(demo_rev0001: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """What the fixture holds before upgrading, read through the ORM."""
    engine = make_engine(_copy(demo_rev0001, tmp_path_factory.mktemp("before")))
    reports, answers = _orm_state(engine)
    engine.dispose()
    assert len(reports) == 2971 and len(answers) == 3201
    answered = [(a, first) for a, first in answers.values() if first is not None]
    assert len(answered) == 2971 and all(a is not None for a, _ in answered)
    # as 0001 wrote it: answered_at is the Beijing wall time of the first report, read as UTC
    assert all(a - first == dt.timedelta(hours=8) for a, first in answered)
    return reports, answers


def _assert_upgraded(engine: Engine, before) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    reports, answers = _orm_state(engine)
    assert len(reports) == 2971 and reports == before[0]
    assert answers.keys() == before[1].keys()
    assert all(answered_at == first for answered_at, first in answers.values())
    assert sum(first is not None for _, first in answers.values()) == 2971


def test_migration_on_sqlite(demo_rev0001, before, tmp_path):
    url = _copy(demo_rev0001, tmp_path)
    engine = make_engine(url)
    with engine.connect() as conn:
        raw_before = dict(conn.execute(text("SELECT id, answered_at FROM progress_request")).all())
    migrate(engine)
    _assert_upgraded(engine, before)
    with engine.connect() as conn:  # the stored text keeps its form, equal to the report's
        stored = conn.execute(text(
            "SELECT q.answered_at, r.submitted_at FROM progress_request q JOIN progress_report r"
            " ON r.request_id = q.id AND r.version = 1")).all()
    assert len(stored) == 2971 and all(STORED.fullmatch(a) and a == s for a, s in stored)

    engine.dispose()
    # 0002 alone can be undone (0003 merges the directory and refuses to go back)
    again = make_engine(_copy(demo_rev0001, tmp_path / "again"))
    command.upgrade(alembic_config(again), "0002")
    command.downgrade(alembic_config(again), "0001")
    with again.connect() as conn:
        raw_after = dict(conn.execute(text("SELECT id, answered_at FROM progress_request")).all())
    assert raw_after == raw_before
    again.dispose()


def _copy_rows(source: Engine, target: Engine) -> None:
    """Every table's rows, in foreign-key order, as the old code stored them on PostgreSQL.

    SQLite's timestamps are naive text: answered_at was the Beijing wall time, every other
    timestamp UTC. PostgreSQL's timestamptz held the right instant all along.
    """
    src, dst = MetaData(), MetaData()
    src.reflect(source)
    dst.reflect(target)
    with source.connect() as read, target.begin() as write:
        for table in dst.sorted_tables:
            if table.name == "alembic_version":
                continue
            zones = {c.name: SHANGHAI if (table.name, c.name) == ("progress_request", "answered_at")
                     else dt.UTC for c in table.columns if isinstance(c.type, DateTime)}
            rows = [dict(r) for r in read.execute(select(src.tables[table.name])).mappings()]
            for row in rows:
                for column, zone in zones.items():
                    if row[column] is not None:
                        row[column] = row[column].replace(tzinfo=zone)
            if rows:
                write.execute(insert(table), rows)
                if "id" in table.columns:
                    write.execute(text(
                        "SELECT setval(pg_get_serial_sequence(:t, 'id'), max(id)) FROM "
                        + write.dialect.identifier_preparer.quote(table.name)), {"t": table.name})


def test_migration_on_postgresql(demo_rev0001, before, tmp_path, fresh_pg_url):
    sqlite_engine = create_engine(_copy(demo_rev0001, tmp_path))
    pg = make_engine(fresh_pg_url)
    command.upgrade(alembic_config(pg), "0001")
    _copy_rows(sqlite_engine, pg)
    sqlite_engine.dispose()
    with Session(pg) as s:  # copied whole
        assert s.scalar(select(func.count()).select_from(ProgressRequest)) == 3201
        assert s.scalar(select(func.count()).select_from(Agency)) == 52
    migrate(pg)
    _assert_upgraded(pg, before)
    with transaction(session_factory(pg)) as s:  # the sequences follow the copied ids
        event = AuditEvent(at=LATE_NIGHT, actor="t", action="t", object_type="t", object_id="1",
                           detail={})
        s.add(event)
        s.flush()
        assert event.id == 62
    from tracker.dates.workdays import WorkCalendar
    from tracker.models import Plan
    from tracker.policy import Policy
    from tracker.requests.opening import open_due_requests
    from tracker.settings import Rules

    with transaction(session_factory(pg)) as s:  # and the next quarter opens as on SQLite
        plan = s.scalars(select(Plan)).one()
        opened = open_due_requests(s, plan, at("2018-03-30", 8), Policy(Rules(), WorkCalendar()))
        assert (opened.requests_opened, opened.periods) == (798, ["2018Q1"])
    pg.dispose()
