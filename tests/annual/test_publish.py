"""The public report (向社会公开, issue 12 item 4): `tracker publish YEAR` writes a static
site and its tables (.xlsx, .csv) from the year's issued scorecard; nothing personal; WCAG
2.1 AA checked by axe-core in Chromium, at 200 % zoom (640 CSS px) and by keyboard.

One small year, built once for the module: the small plan (3 measures, 9 assignments, an
indicator, two districts) through its four 2017 quarters, its indicator value, two
executive meetings, and its card issued on 13 February 2018. Personal data is planted
everywhere an agency or the office can type it (narratives, problems, next steps, an
indicator's source, a meeting's name and decisions, contacts, a staff account), so the
test that none of it is published means something.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.browser import AXE, CHROMIUM, CHROMIUM_ARGS, axe_violations
from tests.conftest import at
from tests.factories import small_plan
from tracker.annual.checkpoint import run_checkpoint
from tracker.annual.indicators import record_baseline
from tracker.annual.meetings import record_meeting
from tracker.annual.publish import NotIssued, publish
from tracker.annual.publish.site import MARKER, PAGES
from tracker.catalog.load import load_catalog
from tracker.cli import app
from tracker.dates.workdays import WorkCalendar
from tracker.db import make_engine, migrate, session_factory, transaction
from tracker.directory.contacts import ensure_demo_contacts
from tracker.directory.staff import create_user
from tracker.enums import ChannelKind, ContactRole, StaffRole
from tracker.errors import DomainError
from tracker.escalation.sweep import sweep_overdue
from tracker.models import (
    Agency,
    Assignment,
    Contact,
    Plan,
    ProgressRequest,
    ReportingPeriod,
    StaffUser,
)
from tracker.policy import Policy
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports
from tracker.settings import Rules

PERSON, PHONE, EMAIL = "王建国", "13812345678", "wang.jianguo@tj-example.org"
DEPUTY, DEPUTY_PHONE = "李秀英", "022-23456789"
PII_TEXT = f"联系人{PERSON}，电话{PHONE}，邮箱{EMAIL}；{DEPUTY}（{DEPUTY_PHONE}）审核"
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-\d{7,8})(?!\d)")
# opening, answering on time, and a day after the due day, per quarter of 2017
QUARTERS = {"2017Q1": ("2017-03-20", "2017-03-22"), "2017Q2": ("2017-06-19", "2017-06-21"),
            "2017Q3": ("2017-09-18", "2017-09-20"), "2017Q4": ("2017-12-18", "2017-12-20")}


def _policy() -> Policy:
    return Policy(Rules(), WorkCalendar(), ChannelKind.EMAIL)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The small plan's 2017 with its card issued; returns the session factory, the plan,
    the issued figures and the database URL."""
    folder = tmp_path_factory.mktemp("publish")
    url = f"sqlite:///{folder / 'tracker.db'}"
    engine = make_engine(url)
    migrate(engine)
    db = session_factory(engine)
    policy = _policy()
    with transaction(db) as s:
        plan_id = load_catalog(s, small_plan(), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
        agencies = dict(s.execute(select(Agency.name, Agency.id)).all())
        s.add(Contact(agency_id=agencies["市残联"], role=ContactRole.LIAISON, name=PERSON,
                      email=EMAIL, phone=PHONE, active=True))
        s.add(Contact(agency_id=agencies["和平区人民政府"], role=ContactRole.DEPUTY_HEAD,
                      name=DEPUTY, email="li.xiuying@hp-example.org", phone=DEPUTY_PHONE,
                      active=True))
        create_user(s, username="zhaomin", display_name="督查室赵敏科长", role=StaffRole.OFFICE,
                    password="correct horse battery", now=at("2017-01-05"))
    plan = _plan(db, plan_id)
    for label, (opening, answer) in QUARTERS.items():
        with transaction(db) as s:
            open_due_requests(s, _plan(db, plan_id, s), at(opening), policy)
        with db() as s:
            rows = s.execute(
                select(ProgressRequest.id, Agency.name, Assignment.role, Assignment.measure_id)
                .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
                .join(Agency, Agency.id == ProgressRequest.agency_id)
                .join(Assignment, Assignment.id == ProgressRequest.assignment_id)
                .where(ReportingPeriod.label == label)).all()
            codes = _measure_codes(s)
        on_time, late = [], []
        for rid, agency, role, measure_id in rows:
            code = codes[measure_id]
            if agency == "和平区人民政府" and label == "2017Q3":
                continue  # never answered
            status, percent = "in_progress", 10 * int(label[-1])
            if role == "lead" and label == "2017Q4":
                status, percent = {"1": ("in_progress", 60), "2": ("in_progress", 30),
                                    "3": ("completed", 100)}[code]
            item = ReportInput(request_id=rid, status=status, percent=percent,
                               narrative=PII_TEXT, problems=PII_TEXT,
                               next_steps=f"下一步请联系{PERSON}")
            (late if agency == "市财政局" and label == "2017Q2" else on_time).append(item)
        with transaction(db) as s:
            record_reports(s, on_time, submitted_by=EMAIL, now=at(answer))
        if late:
            with transaction(db) as s:
                sweep_overdue(s, _plan(db, plan_id, s), at("2017-07-20"), policy)
                record_reports(s, late, submitted_by=EMAIL, now=at("2017-07-21"))
    with transaction(db) as s:
        p = _plan(db, plan_id, s)
        sweep_overdue(s, p, at("2018-01-20"), policy)
        record_baseline(s, p, "I1", 800, source=f"{PERSON}提供（{PHONE}）",
                        actor="user:zhaomin", now=at("2018-01-02"))
        indicator_request = s.scalar(
            select(ProgressRequest.id)
            .join(ReportingPeriod, ReportingPeriod.id == ProgressRequest.period_id)
            .where(ProgressRequest.indicator_id.is_not(None), ReportingPeriod.year == 2017))
        assert indicator_request is not None
        record_reports(s, [ReportInput(request_id=indicator_request, status="completed",
                                       percent=100, value=950, source=PII_TEXT)],
                       submitted_by=EMAIL, now=at("2018-01-10"))
        for government, day in (("天津市人民政府", "2017-06-15"), ("和平区人民政府", "2017-09-01")):
            record_meeting(s, p, government=government, held_on=dt.date.fromisoformat(day),
                           topic="研究残疾人就业促进工作", recorded_by="督查室赵敏科长",
                           now=at("2017-12-01"), name=f"常务会议（{PII_TEXT}）",
                           decisions=PII_TEXT)
    with transaction(db) as s:
        issued = run_checkpoint(s, _plan(db, plan_id, s), 2017, at("2018-02-13"), policy,
                                folder / "cards", soffice="")
    assert issued.written and issued.figures is not None
    return {"db": db, "plan": plan, "figures": issued.figures, "url": url, "folder": folder}


def _plan(db: Any, plan_id: int, session: Any = None) -> Plan:
    if session is not None:
        return session.get_one(Plan, plan_id)
    with db() as s:
        return s.get_one(Plan, plan_id)


def _measure_codes(session: Any) -> dict[int, str]:
    from tracker.models import Measure

    return dict(session.execute(select(Measure.id, Measure.code)).all())


@pytest.fixture(scope="module")
def site(year: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "public"
    with year["db"]() as s:
        result = publish(s, s.get_one(Plan, year["plan"].id), 2017, out)
    assert result.out == out
    return out


def _csv(site: Path, stem: str) -> list[dict[str, str]]:
    raw = (site / "data" / f"{stem}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel and WPS
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def _sheet(site: Path, name: str) -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(next((site / "data").glob("public-2017-*.xlsx")),
                                  read_only=True)
    rows = list(book[name].iter_rows(values_only=True))
    book.close()
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# --- what it writes ------------------------------------------------------------------------


def test_the_site_files(site: Path) -> None:
    files = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    assert files == sorted([
        MARKER, "about.html", "index.html", "indicators.html", "meetings.html",
        "progress.html", "reporting.html", "site.css",
        "data/indicator-trajectory.csv", "data/indicators.csv", "data/meetings.csv",
        "data/progress-measures.csv", "data/progress-parts.csv", "data/reporting.csv",
        "data/public-2017-tianjin-employment-2017-2018.xlsx"])
    for name, _label in PAGES:
        html = (site / name).read_text(encoding="utf-8")
        assert html.count("<h1") == 1 and '<html lang="zh-CN">' in html
        assert "<script" not in html  # no JavaScript needed, no external resource:
        assert not re.search(r'(src|href)="(https?:)?//', html)
        assert "数据截至2018年2月13日" in html and "百分比按四舍五入保留一位小数。" in html
        # every download linked from the pages exists
        for href in re.findall(r'href="(data/[^"]+)"', html):
            assert (site / href).is_file(), href
    assert "url(" not in (site / "site.css").read_text(encoding="utf-8")  # no external file


def test_tables_equal_the_issued_figures(site: Path, year: dict[str, Any]) -> None:
    figures = year["figures"]
    summary = figures.summary.set_index("单位")
    for source in (_csv(site, "reporting"), _sheet(site, "按时报送")):
        assert {str(r["单位"]) for r in source} == set(summary.index)
        for row in source:
            card = summary.loc[row["单位"]]
            for column in ("应报", "按时", "逾期报送", "未报"):
                assert int(row[column]) == int(card[column]), (row["单位"], column)
            for column in ("按时报送率(%)", "完整率(%)"):
                assert float(row[column]) == float(card[column]), (row["单位"], column)
    reporting = {r["单位"]: r for r in _csv(site, "reporting")}
    # known values: 市财政局 answered Q2 late (3 of 4 on time); 和平区 (measures 1 and 3)
    # never answered Q3: 6 of 8 on time
    assert (reporting["市财政局"]["按时"], reporting["市财政局"]["逾期报送"],
            reporting["市财政局"]["按时报送率(%)"]) == ("3", "1", "75.0")
    assert (reporting["和平区人民政府"]["应报"], reporting["和平区人民政府"]["未报"],
            reporting["和平区人民政府"]["按时报送率(%)"]) == ("8", "2", "75.0")
    assert reporting["市残联"]["按时报送率(%)"] == "100.0"

    measures = figures.measures.set_index("编号")
    for source in (_csv(site, "progress-measures"), _sheet(site, "任务进展（分任务）")):
        assert [str(r["编号"]) for r in source] == ["1", "2", "3"]
        for row in source:
            card = measures.loc[str(row["编号"])]
            assert row["最新状态"] == card["牵头单位最新状态"]
            for column in ("完成进度(%)", "本年应达进度(%)", "达成率(%)"):
                assert float(row[column]) == float(card[column])
    by_code = {r["编号"]: r for r in _csv(site, "progress-measures")}
    assert [(by_code[c]["最新状态"], by_code[c]["完成进度(%)"], by_code[c]["达成率(%)"])
            for c in ("1", "2", "3")] == [("推进中", "60.0", "100.0"), ("推进中", "30.0", "60.0"),
                                          ("已完成", "100.0", "100.0")]
    assert {r["本年应达进度(%)"] for r in by_code.values()} == {"50.0"}  # 2017 of 2017–2018
    parts = _csv(site, "progress-parts")
    assert [(p["部分"], p["任务数"], p["推进中"], p["已完成"], p["达到本年应达进度"],
             p["达到本年应达进度比例(%)"]) for p in parts] == [
        ("一、促进按比例就业", "2", "2", "0", "1", "50.0"),
        ("二、加强就业服务", "1", "0", "1", "1", "100.0"),
        ("合计", "3", "2", "1", "2", "66.7")]

    indicators = figures.indicators.set_index("编号")
    for source in (_csv(site, "indicators"), _sheet(site, "主要指标")):
        (row,) = source
        card = indicators.loc["I1"]
        assert float(row["基期值"]) == float(card["基期值"]) == 800.0
        assert float(row["本年应达值"]) == float(card["本年应达值"]) == 900.0  # 800 + 200 × 1/2
        assert float(row["本年实际值"]) == float(card["本年实际值"]) == 950.0
        assert row["是否符合进度"] == card["是否符合进度"] == "符合"
    assert [(r["年度"], r["实际值"], r["应达值"]) for r in _csv(site, "indicator-trajectory")] \
        == [("2016", "800.0", "800.0"), ("2017", "950.0", "900.0")]

    meetings = figures.meetings.set_index("政府")
    for source in (_csv(site, "meetings"), _sheet(site, "政府常务会议")):
        assert [r["政府"] for r in source] == list(meetings.index)
        for row in source:
            card = meetings.loc[row["政府"]]
            assert int(row["会议次数"]) == int(card["会议次数"])
            assert (row["会议日期"] or "") == card["会议日期"]
            assert row["是否履职"] == card["是否履职"]
    assert [(r["政府"], r["会议次数"], r["是否履职"]) for r in _csv(site, "meetings")] == [
        ("天津市人民政府", "1", "是"), ("和平区人民政府", "1", "是"), ("河东区人民政府", "0", "否")]


def test_nothing_personal_in_any_file(site: Path, year: dict[str, Any]) -> None:
    with year["db"]() as s:
        people = s.execute(select(Contact.name, Contact.email, Contact.phone)).all()
        staff = s.execute(select(StaffUser.display_name, StaffUser.username)).all()
    needles = {v for row in people for v in row if v} | {v for row in staff for v in row if v}
    assert {PERSON, PHONE, EMAIL, DEPUTY, DEPUTY_PHONE, "督查室赵敏科长"} <= needles
    texts: dict[str, str] = {}
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    texts[f"{path.name}:{member}"] = z.read(member).decode("utf-8")
        else:
            texts[path.name] = path.read_text(encoding="utf-8-sig")
    assert any(n.endswith("sharedStrings.xml") for n in texts)
    for name, text in texts.items():
        for needle in needles:
            assert needle not in text, (name, needle)
        assert not EMAIL_RE.search(text), (name, EMAIL_RE.search(text))
        assert not PHONE_RE.search(text), (name, PHONE_RE.search(text))
        assert "联系人" not in text and "下一步" not in text, name  # no typed free text


def test_a_year_without_an_issued_card_is_refused_and_writes_nothing(
        year: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "public-2018"
    with year["db"]() as s:
        with pytest.raises(DomainError, match="不在"):
            publish(s, s.get_one(Plan, year["plan"].id), 2019, out)
        # 2018 has no request yet: said so, not "issue it first"
        with pytest.raises(NotIssued, match="尚无任务进展调度") as err:
            publish(s, s.get_one(Plan, year["plan"].id), 2018, out)
        assert err.value.code == "no-data"
    with transaction(year["db"]) as s:  # 2018's first quarter opens: a year with no card
        open_due_requests(s, s.get_one(Plan, year["plan"].id), at("2018-03-19"), _policy())
    with year["db"]() as s:
        with pytest.raises(NotIssued, match="tracker scorecard 2018") as err:
            publish(s, s.get_one(Plan, year["plan"].id), 2018, out)
        assert err.value.code == "not-issued" and "尚未正式印发" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no site, no temporary folder left
    monkeypatch.setenv("TRACKER_DATABASE_URL", year["url"])
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    r = CliRunner().invoke(app, ["publish", "2018", "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert "尚未正式印发" in r.output and "tracker scorecard 2018" in r.output
    assert "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []


def test_the_command_writes_and_replaces_the_site(year: dict[str, Any], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", year["url"])
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    r = CliRunner().invoke(app, ["publish", "2017"])  # default: $TRACKER_HOME/public/…
    assert r.exit_code == 0, r.output
    out = tmp_path / "public" / "2017-tianjin-employment-2017-2018"
    assert "已生成" in r.output and (out / "index.html").is_file()
    (out / "stale.html").write_text("old", encoding="utf-8")
    r = CliRunner().invoke(app, ["publish", "2017", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp or old copy
    # a folder with other files is not ours to replace
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "report.docx").write_bytes(b"x")
    r = CliRunner().invoke(app, ["publish", "2017", "--out", str(mine)])
    assert r.exit_code == 1 and "不是本系统生成的公开网站" in r.output
    assert [p.name for p in mine.iterdir()] == ["report.docx"]
    # an empty --out is not "the current folder"
    monkeypatch.chdir(mine)
    r = CliRunner().invoke(app, ["publish", "2017", "--out", ""])
    assert r.exit_code == 2 and "--out 不能为空" in r.output
    assert [p.name for p in mine.iterdir()] == ["report.docx"]


def test_user_text_never_runs_as_a_formula(tmp_path: Path) -> None:
    import pandas as pd

    from tracker.annual.publish.downloads import csv_bytes

    df = pd.DataFrame([["=1+1", 87.5, None, 3]], columns=["单位", "率", "空", "项"], dtype=object)
    text = csv_bytes(df).decode("utf-8-sig")
    assert text.splitlines()[1] == "'=1+1,87.5,,3"


# --- in the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    assert AXE.exists(), "run npm install --prefix tests/js"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_every_page_passes_axe(site: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for name, _label in PAGES:
        page.goto((site / name).as_uri())
        assert axe_violations(page) == [], name
        # charts: an image with a title and a description, and the table of its data beside
        for svg in page.query_selector_all("svg"):
            assert svg.get_attribute("role") == "img"
            ids = (svg.get_attribute("aria-labelledby") or "").split()
            assert len(ids) == 2 and svg.query_selector("title") and svg.query_selector("desc")
        figures = page.query_selector_all("figure")
        assert len(figures) <= len(page.query_selector_all("table[id] caption"))
        # landmarks and semantic tables
        for landmark in ("header", "nav", "main", "footer"):
            assert page.query_selector(landmark) is not None, (name, landmark)
        for table in page.query_selector_all("table"):
            assert table.query_selector("caption") is not None
            assert table.query_selector_all("th[scope=col]")
            region = table.evaluate_handle("t => t.parentElement")
            assert region.get_attribute("role") == "region"
            assert region.get_attribute("tabindex") == "0"
            assert region.get_attribute("aria-labelledby")
    page.close()


def test_no_horizontal_scroll_at_200_percent_zoom(site: Path, browser: Any) -> None:
    """1280 px at 200 % is a 640 CSS px viewport: the page never scrolls sideways; wide
    tables scroll inside their region."""
    page = browser.new_page(viewport={"width": 640, "height": 800})
    for name, _label in PAGES:
        page.goto((site / name).as_uri())
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert scroll <= client, (name, scroll, client)
    page.close()


def test_the_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(site: Path,
                                                                     browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for name, _label in PAGES:
        page.goto((site / name).as_uri())
        page.keyboard.press("Tab")
        first = page.evaluate("[document.activeElement.className, "
                              "document.activeElement.getAttribute('href'), "
                              "getComputedStyle(document.activeElement).outlineStyle]")
        assert first == ["skip-link", "#main", "solid"], name
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", name
        # the next tab stop is inside main (the reading continues there)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('main') !== null"), name
    page.close()


# --- on each database ----------------------------------------------------------------------


def test_publishes_from_the_issued_card_on_each_database(db, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same service on SQLite and PostgreSQL: refused before the card, then the card's
    figures, unchanged by data that changed after it was issued."""
    policy = _policy()
    with db() as s:
        with pytest.raises(NotIssued) as err:
            publish(s, s.get_one(Plan, small.id), 2017, tmp_path / "site")
        assert err.value.code == "no-data"
    for opening, _answer in QUARTERS.values():
        with transaction(db) as s:
            open_due_requests(s, s.get_one(Plan, small.id), at(opening), policy)
    with db() as s:
        first = list(s.scalars(select(ProgressRequest.id).join(ReportingPeriod)
                               .where(ReportingPeriod.label == "2017Q1",
                                      ProgressRequest.assignment_id.is_not(None))))
    with transaction(db) as s:
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=20,
                                       narrative="按计划推进", next_steps="继续推进")
                           for i in first], submitted_by="t", now=at("2017-03-22"))
    with db() as s:
        with pytest.raises(NotIssued) as err:
            publish(s, s.get_one(Plan, small.id), 2017, tmp_path / "site")
        assert err.value.code == "not-issued"
    with transaction(db) as s:
        issued = run_checkpoint(s, s.get_one(Plan, small.id), 2017, at("2018-02-13"), policy,
                                tmp_path / "cards", soffice="")
    assert issued.figures is not None
    with transaction(db) as s:  # a late answer after the card: the public figures stay
        later = list(s.scalars(select(ProgressRequest.id).join(ReportingPeriod)
                               .where(ReportingPeriod.label == "2017Q4",
                                      ProgressRequest.assignment_id.is_not(None))))
        record_reports(s, [ReportInput(request_id=i, status="in_progress", percent=50)
                           for i in later], submitted_by="t", now=at("2018-02-20"))
    with db() as s:
        publish(s, s.get_one(Plan, small.id), 2017, tmp_path / "site")
    rows = _csv(tmp_path / "site", "reporting")
    summary = issued.figures.summary.set_index("单位")
    assert {r["单位"]: (int(r["应报"]), int(r["按时"]), int(r["未报"]), float(r["按时报送率(%)"]))
            for r in rows} == {name: (int(c["应报"]), int(c["按时"]), int(c["未报"]),
                                      float(c["按时报送率(%)"])) for name, c in summary.iterrows()}
    # Q1 on time only, of four quarters: 25.0 %; the indicator's owner also missed the
    # 2017 value: 1 of 5, 20.0 %
    assert {r["单位"]: r["按时报送率(%)"] for r in rows} == {
        "市人力资源和社会保障局": "20.0", "市民政局": "25.0", "市财政局": "25.0", "市残联": "25.0",
        "和平区人民政府": "25.0", "河东区人民政府": "25.0"}


def test_a_plan_without_the_meeting_duty_says_so(year: dict[str, Any], tmp_path: Path) -> None:
    import dataclasses

    from tracker.annual.publish import public_report
    from tracker.annual.publish.site import write_site

    with year["db"]() as s:
        report = public_report(s, s.get_one(Plan, year["plan"].id), 2017)
    report = dataclasses.replace(report, meetings=report.meetings.iloc[0:0])
    write_site(report, tmp_path)
    page = (tmp_path / "meetings.html").read_text(encoding="utf-8")
    assert "本规划未要求各级政府常务会议每年研究规划实施工作" in page and "<svg" not in page
    assert "常务会议研究本规划的政府" not in (tmp_path / "index.html").read_text(encoding="utf-8")
