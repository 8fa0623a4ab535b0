"""Pages that stay fast (issue 14, item 4): a GET never takes SQLite's write lock, a page's
form token is signed (rendering writes nothing) and still used once, the board pages by
keyset and counts what a plain GROUP BY counts, a lead's peers are summarised and paged."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import STAFF_PASSWORD, at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Agency as CatalogAgency
from tracker.catalog.schema import Catalog, Measure, PlanInfo
from tracker.db import ReadOnlyError, read_only_factory, transaction
from tracker.desk.board import BoardFilter, BoardKey, board, board_counts, heat_top
from tracker.directory.contacts import ensure_demo_contacts
from tracker.enums import AgencyKind, RequestState
from tracker.escalation.office_actions import waive
from tracker.models import Agency, Assignment, Base, Note, Plan, ProgressRequest, StaffSession
from tracker.models import Measure as MeasureRow
from tracker.policy import Policy
from tracker.requests.opening import open_due_requests
from tracker.requests.reports import ReportInput, record_reports
from tracker.requests.rules import light_sql


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no form token on the page"
    return m.group(1)


def _login(client: TestClient) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"username": "duchashi", "password": STAFF_PASSWORD,
                                     "csrf": _csrf(page.text), "next": "/desk"})
    assert r.status_code == 303


@pytest.fixture
def desk_site(db, db_url, overdue, tmp_path):  # type: ignore[no-untyped-def]
    clock = Clock(at("2017-04-12", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    _login(client)
    return client, clock, overdue, settings


def _row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables}


# Read-only requests ------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_a_get_answers_while_another_connection_holds_the_write_lock(desk_site, db, db_url):
    client, clock, ids, settings = desk_site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-10"))
    path = db_url.split("///", 1)[1]
    job = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        job.execute("BEGIN IMMEDIATE")  # a job's transaction: it holds the write lock
        job.execute("UPDATE progress_request SET level = level WHERE id = ?", (ids[0],))
        page = client.get("/desk")
        assert page.status_code == 200 and "逾期看板" in page.text and "共 " in page.text
        liaison = client.get(f"/l/{token}")
        assert liaison.status_code == 200 and "市残联" in liaison.text
        # five minutes on, the view would refresh the session: it does not wait for the lock
        clock.now = at("2017-04-12", 10, 5)
        page = client.get(f"/desk/requests/{ids[0]}")
        assert page.status_code == 200 and "督办" in page.text
        with read_only_factory(db)() as s:  # a read of our own, during the lock too
            assert s.scalar(select(StaffSession.last_seen_at)) == at("2017-04-12", 10)
    finally:
        job.execute("ROLLBACK")
        job.close()
    assert client.get("/desk").status_code == 200  # the lock is free: the view refreshes it
    with db() as s:
        assert s.scalar(select(StaffSession.last_seen_at)) == at("2017-04-12", 10, 5)


@pytest.mark.sqlite_only
def test_a_read_only_session_refuses_to_write(db, overdue):
    reader = read_only_factory(db)
    with reader() as s:
        s.add(Note(request_id=overdue[0], text="x", author="t", at=at("2017-04-12")))
        with pytest.raises(ReadOnlyError):
            s.flush()
        s.rollback()
    assert _row_counts(db)["note"] == 0


# Form tokens ---------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_rendering_form_pages_leaves_the_database_unchanged(desk_site, db):
    client, _clock, ids, settings = desk_site
    token = token_for(settings, liaison_of(db, "市残联"), at("2017-04-10"))
    before = _row_counts(db)
    with db() as s:
        seen = s.scalar(select(StaffSession.last_seen_at))
    pages = [client.get("/desk"), client.get(f"/desk/requests/{ids[0]}"),
             client.get("/desk/queues"), client.get(f"/l/{token}")]
    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    assert _csrf(pages[0].text) != _csrf(pages[1].text)  # each page its own token
    assert _row_counts(db) == before
    with db() as s:
        assert s.scalar(select(StaffSession.last_seen_at)) == seen


@pytest.mark.sqlite_only
def test_a_signed_form_token_records_one_submission(desk_site, db, db_url, tmp_path):
    client, _clock, ids, settings = desk_site
    csrf = _csrf(client.get(f"/desk/requests/{ids[0]}").text)
    first = client.post(f"/desk/requests/{ids[0]}/note", data={"csrf": csrf, "text": "已电话催报"})
    again = client.post(f"/desk/requests/{ids[0]}/note", data={"csrf": csrf, "text": "已电话催报"})
    assert first.status_code == 303 and again.status_code == 403
    with db() as s:
        assert s.scalars(select(Note.text)).all() == ["已电话催报"]
    # another staff session's token is refused: it was signed for this one
    other = TestClient(make_app(db, settings, Clock(at("2017-04-12", 10))),
                       follow_redirects=False)
    _login(other)
    theirs = _csrf(other.get(f"/desk/requests/{ids[0]}").text)
    refused = client.post(f"/desk/requests/{ids[0]}/note", data={"csrf": theirs, "text": "x"})
    forged = client.post(f"/desk/requests/{ids[0]}/note",
                         data={"csrf": theirs[:-2] + "AA", "text": "x"})
    assert refused.status_code == 403 and forged.status_code == 403
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Note)) == 1


# The board -----------------------------------------------------------------------------


def _expected_order(s: Session, today: dt.date, policy: Policy) -> list[int]:
    """Every request in the board's order, sorted in Python from plain columns."""
    light = light_sql(today, policy)
    rank = {"red": 0, "yellow": 1, "green": 2, "grey": 3}
    rows = s.execute(select(ProgressRequest.id, light, ProgressRequest.due_on,
                            ProgressRequest.agency_id, MeasureRow.position)
                     .outerjoin(Assignment, Assignment.id == ProgressRequest.assignment_id)
                     .outerjoin(MeasureRow, MeasureRow.id == Assignment.measure_id)).all()
    return [r[0] for r in sorted(rows, key=lambda r: (rank[r[1]], r[2], r[3],
                                                      -1 if r[4] is None else r[4], r[0]))]


def test_keyset_pages_return_every_row_once_in_order(db, overdue, policy):
    today = dt.date(2017, 4, 12)
    with db() as s:
        expected = _expected_order(s, today, policy)
        assert len(expected) == len(overdue)
        seen: list[int] = []
        pages: list[list[int]] = []
        f = BoardFilter(per_page=97)
        while True:
            result = board(s, f, today, policy)
            pages.append([r["id"] for r in result.rows])
            seen += pages[-1]
            if result.next_key is None:
                break
            f = BoardFilter(per_page=97, after=result.next_key)
        assert seen == expected
        assert [len(p) for p in pages] == [97] * (len(expected) // 97) + [len(expected) % 97]
        # back from the last page by `before`: the same pages, last to first
        back: list[list[int]] = []
        key = BoardKey.parse(f.after.text()) if f.after else None
        result = board(s, BoardFilter(per_page=97, after=key), today, policy)
        back.append([r["id"] for r in result.rows])
        while result.prev_key is not None:
            result = board(s, BoardFilter(per_page=97, before=result.prev_key), today, policy)
            back.append([r["id"] for r in result.rows])
        assert back == pages[::-1]
        # a filter pages the same way: only its rows, each once
        red = [r for r in expected if r in set(overdue[:5])]
        f = BoardFilter(light="red", per_page=2)
        got: list[int] = []
        while True:
            result = board(s, f, today, policy)
            got += [r["id"] for r in result.rows]
            if result.next_key is None:
                break
            f = BoardFilter(light="red", per_page=2, after=result.next_key)
        assert got == red and len(got) == 5


@pytest.mark.sqlite_only
def test_the_board_page_links_its_pages_by_keyset(desk_site, db, policy):
    client, _clock, ids, _settings = desk_site
    with db() as s:
        expected = _expected_order(s, dt.date(2017, 4, 12), policy)
    url, seen, pages = "/desk", [], 0
    while url:
        page = client.get(url).text
        pages += 1
        table = page.split('<table class="board"', 1)[1].split("</table>", 1)[0]
        seen += [int(i) for i in re.findall(r'href="/desk/requests/(\d+)"', table)]
        assert f"第 {pages} / {(len(expected) + 49) // 50} 页" in page
        nxt = re.search(r'<a href="(/desk\?[^"]*after=[^"]+)" rel="next">下一页</a>', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
        assert "offset" not in url
    assert seen == expected and pages == (len(expected) + 49) // 50
    assert 'rel="prev">上一页</a>' in page


def test_board_counts_equal_a_plain_group_by_after_state_changes(db, overdue, policy, plan):
    today = dt.date(2017, 4, 12)
    light = light_sql(today, policy)

    def plain(*where) -> dict[str, int]:  # type: ignore[no-untyped-def]
        with db() as s:
            return {str(k): n for k, n in s.execute(
                select(light, func.count()).select_from(ProgressRequest).where(*where)
                .group_by(light))}

    def shown(f: BoardFilter) -> dict[str, int]:
        with db() as s:
            return board_counts(s, f, today, policy)

    assert shown(BoardFilter()) == plain() == {"red": 5, "green": len(overdue) - 5}
    with transaction(db) as s:
        waive(s, overdue[0], reason="已撤销", actor="t", now=at("2017-04-12", 11), policy=policy)
        record_reports(s, [ReportInput(request_id=overdue[1], status="in_progress", percent=50)],
                       submitted_by="t", now=at("2017-04-12", 11))
    assert shown(BoardFilter()) == plain() == {
        "red": 3, "grey": 1, "yellow": 1, "green": len(overdue) - 5}
    with db() as s:
        agency = s.scalar(select(ProgressRequest.agency_id).where(
            ProgressRequest.id == overdue[2]))
    assert shown(BoardFilter(agency_id=agency)) == plain(ProgressRequest.agency_id == agency)
    assert shown(BoardFilter(plan_id=plan.id, light="red")) == {"red": 3}
    with db() as s:
        assert board(s, BoardFilter(), today, policy).total == len(overdue)


# A lead's peers ------------------------------------------------------------------------

PEERS = 120


def _crowded_plan() -> Catalog:
    """One measure led by 牵头局 with PEERS co-responsible agencies (配合单位001 …)."""
    co = [f"配合单位{i:03d}" for i in range(1, PEERS + 1)]
    agencies = [CatalogAgency(name=n, kind=AgencyKind.CITY_AGENCY)
                for n in ("牵头局", *co, "市政府督查室")]
    return Catalog(
        plan=PlanInfo(id="crowded-2017", title="多单位配合的规划", issuer="某市人民政府",
                      issued=dt.date(2017, 1, 5), period=(2017, 2018), government="某市人民政府",
                      supervision_office="市政府督查室"),
        agencies=agencies,
        measures=[Measure(code="1", section="一、总体", title="多单位共同推进的任务", text="",
                          lead="牵头局", co=co, districts=False)])


def test_a_leads_page_with_many_peers_is_summarised_and_paged(db, db_url, policy, tmp_path):
    with transaction(db) as s:
        plan_id = load_catalog(s, _crowded_plan(), at("2017-01-05")).plan_id
        ensure_demo_contacts(s, plan_id)
        open_due_requests(s, s.get_one(Plan, plan_id), at("2017-03-17"), policy)
    with db() as s:
        by_name = {n: i for n, i in s.execute(
            select(Agency.name, ProgressRequest.id)
            .join(ProgressRequest, ProgressRequest.agency_id == Agency.id))}
    with transaction(db) as s:  # the first 30 peers answer, two more are waived
        record_reports(s, [ReportInput(request_id=by_name[f"配合单位{i:03d}"], status="in_progress",
                                       percent=40, narrative=f"第{i}家进展")
                           for i in range(1, 31)], submitted_by="t", now=at("2017-03-25"))
        for i in (31, 32):
            waive(s, by_name[f"配合单位{i:03d}"], reason="不涉及", actor="t", now=at("2017-03-25"),
                  policy=policy)
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, Clock(at("2017-03-27", 10))),
                        follow_redirects=False)
    token = token_for(settings, liaison_of(db, "牵头局"), at("2017-03-26"))
    url = f"/l/{token}/requests/{by_name['牵头局']}"
    shown: list[list[str]] = []
    while url:
        page = client.get(url)
        assert page.status_code == 200
        section = page.text.split('<section class="peers-section"', 1)[1].split("</section>")[0]
        assert f"本期已报送 30 个单位，共 {PEERS} 个单位。" in section
        assert "待报送 <strong>88</strong> 个" in section
        assert "已报送 <strong>30</strong> 个" in section
        assert "已免报 <strong>2</strong> 个" in section
        table = section.split('<table class="peers">', 1)[1].split("</table>", 1)[0]
        shown.append(re.findall(r'<tr><th scope="row">([^<]+)</th>', table))
        nxt = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', section)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert [len(p) for p in shown] == [50, 50, 20]
    assert [n for p in shown for n in p] == [f"配合单位{i:03d}" for i in range(1, PEERS + 1)]
    assert "第1家进展" in client.get(f"/l/{token}/requests/{by_name['牵头局']}").text
    with db() as s:  # the peers' states as stored, for the summary above
        states = dict(s.execute(select(ProgressRequest.state, func.count())
                                .where(ProgressRequest.id != by_name["牵头局"])
                                .group_by(ProgressRequest.state)).all())
    assert states == {RequestState.OPEN: 88, RequestState.ANSWERED: 30, RequestState.WAIVED: 2}


def test_the_heat_table_keeps_its_top_rows_and_adds_up_the_rest():
    rows = [("甲", {"一": 3, "二": 1}, 4), ("乙", {"一": 2}, 2), ("丙", {"二": 1}, 1),
            ("丁", {"一": 1}, 1)]
    assert heat_top(rows, 4) == (rows, None)
    assert heat_top(rows, 2) == (rows[:2], (2, {"二": 1, "一": 1}, 2))
