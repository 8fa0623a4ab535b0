"""The directory's review list (issue 13, item 4): a name new to the directory mapped to
an existing agency (an alias; its tasks move there, so one liaison serves both plans) or
accepted; a flagged phrase resolved by picking agencies or districts (assignments made,
kept on a reload) or dismissed with a reason; every action audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import at
from tests.factories import small_plan
from tracker.catalog.load import load_catalog
from tracker.catalog.schema import Catalog
from tracker.db import transaction
from tracker.directory.agencies import plan_agencies, resolve
from tracker.directory.contacts import ensure_demo_contacts
from tracker.directory.review import (
    ReviewError,
    accept_name,
    assign_flag,
    dismiss,
    map_name,
    open_count,
    review_page,
    set_deadline,
)
from tracker.enums import Role
from tracker.errors import Conflict
from tracker.models import Agency, AgencyAlias, Assignment, AuditEvent, DirectoryReview, Measure, Plan
from tracker.requests.answer_form import agency_items
from tracker.requests.opening import open_due_requests

GOV = "天津市人民政府"
CO_REASON = "“市残联”后的“等有关部门”泛指其他单位，请督查室确定是否增列"


def second_plan() -> Catalog:
    """Plan B: its measure 2 is led by 市人力资源社会保障局 (a spelling the directory does
    not know) with 市残联 等有关部门; its measure 3 names 有关区; and a new 市统计局."""
    data = small_plan(plan_id="plan-b", title="天津市残疾人职业技能提升计划").model_dump(mode="json")
    data["schema_version"] = 2
    data["agencies"] += [{"name": "市人力资源社会保障局", "kind": "city_agency"},
                         {"name": "市统计局", "kind": "city_agency"}]
    m1, m2, m3 = data["measures"]
    m1["co"] = ["市财政局", "市统计局"]
    m2.update(lead="市人力资源社会保障局", co=["市残联"],
              flags=[{"field": "co", "phrase": "等有关部门", "reason": CO_REASON}])
    m3.update(districts=False, flags=[{"field": "districts", "phrase": "有关区",
                                       "reason": "未指明具体区县，请督查室选定承担的区县"}])
    return Catalog.model_validate(data)


def _loaded(db: Any) -> tuple[int, int, dict[str, int]]:
    with transaction(db) as s:
        a = load_catalog(s, small_plan(plan_id="plan-a"), at("2017-01-05")).plan_id
        b = load_catalog(s, second_plan(), at("2017-01-06")).plan_id
        reviews = {r.phrase: r.id for r in s.scalars(select(DirectoryReview))}
    return a, b, reviews


def _rows(s: Any, plan_id: int, code: str) -> list[tuple[str, str, bool]]:
    """(agency, role, active) of a measure's assignments by position, then name."""
    rows = s.execute(
        select(Assignment.position, Agency.name, Assignment.role, Assignment.active)
        .join(Agency, Agency.id == Assignment.agency_id)
        .join(Measure, Measure.id == Assignment.measure_id)
        .where(Measure.plan_id == plan_id, Measure.code == code)).all()
    return [tuple(r[1:]) for r in sorted(rows, key=lambda r: (r[0], r[1]))]


def test_the_page_lists_what_the_load_left(db):
    a, b, reviews = _loaded(db)
    with db() as s:
        assert open_count(s) == 4
        page = review_page(s)
    shown = [(i.row.kind, i.measure, i.field_label, i.row.phrase, i.plan, i.agency, i.assignable)
             for i in page.open]
    assert shown == [  # names first (mapping one changes the choices), then by measure
        ("name", "", "单位名称", "市人力资源社会保障局", "天津市残疾人职业技能提升计划",
         "市人力资源社会保障局", False),
        ("name", "", "单位名称", "市统计局", "天津市残疾人职业技能提升计划", "市统计局", False),
        ("flag", "2 扶持残疾人自主创业", "配合单位", "等有关部门", "天津市残疾人职业技能提升计划", "", True),
        ("flag", "3 开展残疾人职业技能培训", "区县", "有关区", "天津市残疾人职业技能提升计划", "",
         True)]
    # districts: the plan's own; agencies: the government's, not those still waiting
    assert [n for _, n in page.open[3].choices] == ["和平区人民政府", "河东区人民政府"]
    assert [n for _, n in page.open[0].choices] == [
        "和平区人民政府", "市人力资源和社会保障局", "市政府督查室", "市残联", "市民政局",
        "市绩效办", "市财政局", "河东区人民政府"]
    assert [i.similar for i in page.open] == [["市人力资源和社会保障局"], [], [], []]
    assert page.resolved == []


def test_mapping_a_name_makes_one_agency_whose_liaison_serves_both_plans(db, policy):
    a, b, reviews = _loaded(db)
    with transaction(db) as s:
        hr = resolve(s, GOV, "市人力资源和社会保障局")
        assert hr is not None
        map_name(s, reviews["市人力资源社会保障局"], hr, by="user:duchashi", now=at("2017-01-09"),
                 policy=policy)
    with transaction(db) as s:
        assert resolve(s, GOV, "市人力资源社会保障局") == hr
        assert s.scalars(select(AgencyAlias.agency_id)
                         .where(AgencyAlias.alias == "市人力资源社会保障局")).one() == hr
        assert _rows(s, b, "2") == [("市人力资源和社会保障局", Role.LEAD, True),
                                   ("市人力资源社会保障局", Role.LEAD, False),
                                   ("市残联", Role.CO, True)]
        assert "市人力资源社会保障局" not in {n for _, n in plan_agencies(s, b)}
        ensure_demo_contacts(s, a)
        ensure_demo_contacts(s, b)
        for p in (a, b):
            open_due_requests(s, s.get_one(Plan, p), at("2017-03-17"), policy)
    with db() as s:
        items = agency_items(s, hr, at("2017-03-20").date())
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "directory.review.mapped")).one()
    # one link: plan A's measure 1 and plan B's measures 1 and 2, and plan A's indicator
    assert sorted((i.plan, i.code) for i in items if i.code in {"1", "2"}) == [
        ("天津市残疾人就业促进三年行动方案", "1"), ("天津市残疾人职业技能提升计划", "1"),
        ("天津市残疾人职业技能提升计划", "2")]
    assert (event.actor, event.detail["agency"]) == ("user:duchashi", "市人力资源和社会保障局")
    # the plan loaded again: no new agency, no new review row, the lead stays with hr
    data = second_plan().model_dump(mode="json")
    data["plan"]["title"] = "天津市残疾人职业技能提升计划（修订）"
    with transaction(db) as s:
        result = load_catalog(s, Catalog.model_validate(data), at("2017-04-01"))
    assert result.changes == {"plan_updated": 1}
    with db() as s:
        assert _rows(s, b, "2") == [("市人力资源和社会保障局", Role.LEAD, True),
                                   ("市人力资源社会保障局", Role.LEAD, False),
                                   ("市残联", Role.CO, True)]


def test_picking_agencies_and_districts_for_a_phrase_adds_assignments_kept_on_reload(db):
    a, b, reviews = _loaded(db)
    with transaction(db) as s:
        finance, hedong = resolve(s, GOV, "市财政局"), resolve(s, GOV, "河东区人民政府")
        assert finance and hedong
        assert assign_flag(s, reviews["等有关部门"], [finance], by="user:duchashi",
                           now=at("2017-01-09")) == 1
        assert assign_flag(s, reviews["有关区"], [hedong], by="user:duchashi",
                           now=at("2017-01-09")) == 1
    data = second_plan().model_dump(mode="json")
    data["measures"][1]["text"] = "对自主创业的残疾人给予一次性补贴。"
    with transaction(db) as s:
        result = load_catalog(s, Catalog.model_validate(data), at("2017-02-01"))
    assert result.changes == {"plan_updated": 1, "measures_updated": 1}
    with db() as s:
        assert _rows(s, b, "2") == [("市人力资源社会保障局", Role.LEAD, True),
                                   ("市残联", Role.CO, True), ("市财政局", Role.CO, True)]
        assert _rows(s, b, "3") == [("市残联", Role.LEAD, True),
                                   ("河东区人民政府", Role.DISTRICT, True)]
        page = review_page(s)
    assert [(i.row.phrase, i.state_label, i.agency) for i in page.resolved] == [
        ("有关区", "已指定单位", "河东区人民政府"), ("等有关部门", "已指定单位", "市财政局")]


def test_refusals_and_dismissal(db, policy):
    a, b, reviews = _loaded(db)
    with transaction(db) as s:
        civil = resolve(s, GOV, "市民政局")
        with pytest.raises(ReviewError) as no_reason:
            dismiss(s, reviews["等有关部门"], "  ", by="user:duchashi", now=at("2017-01-09"))
        assert no_reason.value.message == "请写明不予处理的理由"
        with pytest.raises(ReviewError) as nothing:
            assign_flag(s, reviews["等有关部门"], [], by="user:duchashi", now=at("2017-01-09"))
        assert nothing.value.message == "请选择“等有关部门”所指的单位"
        with pytest.raises(ReviewError) as not_a_district:
            assign_flag(s, reviews["有关区"], [civil], by="user:duchashi", now=at("2017-01-09"))
        assert not_a_district.value.message == "所选单位不在可选范围内，请刷新页面后重新选择"
        with pytest.raises(ReviewError) as wrong_kind:
            accept_name(s, reviews["等有关部门"], by="user:duchashi", now=at("2017-01-09"),
                        policy=policy)
        assert wrong_kind.value.message == "“等有关部门”不能这样处理"
        dismiss(s, reviews["等有关部门"], "市残联一家即可承担", by="user:duchashi",
                now=at("2017-01-09"))
        accept_name(s, reviews["市统计局"], by="user:duchashi", now=at("2017-01-09"),
                    policy=policy)
    with transaction(db) as s, pytest.raises(Conflict) as twice:
        dismiss(s, reviews["等有关部门"], "再次", by="user:duchashi", now=at("2017-01-10"))
    assert twice.value.message == "“等有关部门”已处理（不予处理）"
    with db() as s:
        row = s.get_one(DirectoryReview, reviews["等有关部门"])
        assert (row.state, row.note, row.resolved_by) == (
            "dismissed", "市残联一家即可承担", "user:duchashi")
        assert open_count(s) == 2
        assert sorted(s.scalars(select(AuditEvent.action).where(
            AuditEvent.object_type == "directory_review"))) == [
            "directory.review.accepted", "directory.review.dismissed"]


def test_mapping_after_requests_opened_moves_the_open_ones(db, policy):
    from tracker.models import ProgressRequest, ReportingPeriod

    a, b, reviews = _loaded(db)
    with transaction(db) as s:
        open_due_requests(s, s.get_one(Plan, b), at("2017-03-17"), policy)
        added = resolve(s, GOV, "市人力资源社会保障局")
        hr = resolve(s, GOV, "市人力资源和社会保障局")
        asked = s.scalars(select(ProgressRequest.id).where(ProgressRequest.agency_id == added)).one()
        map_name(s, reviews["市人力资源社会保障局"], hr, by="user:duchashi", now=at("2017-03-20"),
                 policy=policy)
    with db() as s:
        moved = s.get_one(ProgressRequest, asked)
        lead = s.scalars(select(Assignment).join(Measure).where(
            Measure.plan_id == b, Measure.code == "2", Assignment.agency_id == hr)).one()
        assert (moved.agency_id, moved.assignment_id, moved.state) == (hr, lead.id, "open")
        assert s.get_one(ReportingPeriod, moved.period_id).label == "2017Q1"
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "directory.review.mapped")).one()
    assert (event.detail["assignments_moved"], event.detail["requests_moved"],
            event.detail["requests_closed"], event.detail["requests_kept"]) == (1, [asked], [], [])


STAGES = "2018年底前启动，2020年底前完成"


def _deadline_flags() -> Catalog:
    """Plan C: three tasks whose 完成时限 the importer could not read."""
    data = small_plan(plan_id="plan-c").model_dump(mode="json")
    data["schema_version"] = 2
    for m, phrase in zip(data["measures"], (STAGES, "及时", "适时"), strict=True):
        m["flags"] = [{"field": "deadline", "phrase": phrase,
                       "reason": "完成时限分阶段表述，系统未读成单一时限，请督查室确定跟踪的时限"}]
    return Catalog.model_validate(data)


def test_an_unreadable_deadline_is_set_on_the_review_list_and_kept_on_reload(db):
    from tracker.requests.milestones import deadline_days

    with transaction(db) as s:
        plan_id = load_catalog(s, _deadline_flags(), at("2017-01-05")).plan_id
        rows = {r.phrase: r.id for r in s.scalars(select(DirectoryReview))}
    with transaction(db) as s:
        by = dict(by="user:duchashi", now=at("2017-01-09"))
        assert set_deadline(s, rows[STAGES], "date", due=dt.date(2018, 6, 30), **by) == \
            "2018年6月30日前完成"
        assert set_deadline(s, rows["及时"], "yearly", month=12, day=31, **by) == "每年12月31日前完成"
        assert set_deadline(s, rows["适时"], "ongoing", **by) == \
            "长期坚持（不设完成时限，由定期进展调度跟踪）"
    data = _deadline_flags().model_dump(mode="json")
    data["measures"][0]["text"] = "修订后的任务说明。"
    with transaction(db) as s:
        result = load_catalog(s, Catalog.model_validate(data), at("2017-02-01"))
    assert result.changes == {"plan_updated": 1, "measures_updated": 1}  # deadlines kept
    with db() as s:
        stored = s.execute(select(Measure.code, Measure.deadline_text, Measure.deadline_kind,
                                  Measure.deadline_due, Measure.deadline_month,
                                  Measure.deadline_day).order_by(Measure.code)).all()
        assert [tuple(r) for r in stored] == [
            ("1", STAGES, "date", dt.date(2018, 6, 30), None, None),
            ("2", "及时", "yearly", None, 12, 31),
            ("3", "适时", "ongoing", None, None, None)]
        assert deadline_days(s, s.get_one(Plan, plan_id)) == [
            dt.date(2017, 12, 31), dt.date(2018, 6, 30), dt.date(2018, 12, 31)]
        page = review_page(s)
        events = s.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "directory.review.dated").order_by(AuditEvent.id)).all()
    assert page.open == []
    assert [(i.row.phrase, i.state_label, i.row.note) for i in page.resolved] == [
        ("适时", "已设定完成时限", "长期坚持（不设完成时限，由定期进展调度跟踪）"),
        ("及时", "已设定完成时限", "每年12月31日前完成"),
        (STAGES, "已设定完成时限", "2018年6月30日前完成")]
    assert [(e["deadline"], e["due"], e["month"], e["day"]) for e in events] == [
        ("date", "2018-06-30", None, None), ("yearly", None, 12, 31), ("ongoing", None, None, None)]


@pytest.mark.parametrize(("kind", "values", "message"), [
    ("date", {}, "请填写完成日期（如 2018-06-30）"),
    ("date", {"due": dt.date(2017, 1, 6)},
     "完成日期 2017年1月6日 早于今天，无法再作为完成时限跟踪；如无需跟踪，请写明理由后不予处理"),
    ("yearly", {"month": 2, "day": 30}, "请填写每年完成的月份和日期（如 12 月 31 日）"),
    ("yearly", {"month": 13, "day": 1}, "请填写每年完成的月份和日期（如 12 月 31 日）"),
    ("someday", {}, "请选择完成时限的设定方式"),
])
def test_a_deadline_is_refused_in_chinese(db, kind, values, message):
    with transaction(db) as s:
        load_catalog(s, _deadline_flags(), at("2017-01-05"))
        row = s.scalars(select(DirectoryReview.id).where(DirectoryReview.phrase == STAGES)).one()
    with transaction(db) as s, pytest.raises(ReviewError) as refused:
        set_deadline(s, row, kind, by="user:duchashi", now=at("2017-01-09"), **values)
    assert refused.value.message == message


def test_only_a_deadline_flag_takes_a_deadline(db):
    a, b, reviews = _loaded(db)
    with transaction(db) as s, pytest.raises(ReviewError) as refused:
        set_deadline(s, reviews["有关区"], "ongoing", by="user:duchashi", now=at("2017-01-09"))
    assert refused.value.message == "“有关区”（区县）不是完成时限"


def test_the_district_picker_shows_the_plans_own_governments_districts(db):
    """Two governments each with a 和平区人民政府 (Tianjin's and Shenyang's): each plan's 有关区
    offers its own districts only, and a pick of the other's is refused."""
    shenyang = small_plan(plan_id="plan-s", title="沈阳市残疾人就业促进三年行动方案",
                          government="沈阳市人民政府", districts=("和平区人民政府", "沈河区人民政府"))
    data = shenyang.model_dump(mode="json")
    data["schema_version"] = 2
    data["measures"][2].update(districts=False, flags=[{
        "field": "districts", "phrase": "有关区", "reason": "未指明具体区县，请督查室选定承担的区县"}])
    a, b, reviews = _loaded(db)
    with transaction(db) as s:
        load_catalog(s, Catalog.model_validate(data), at("2017-01-07"))
        page = review_page(s)
        ids = {(g, n): i for i, g, n in s.execute(select(Agency.id, Agency.government, Agency.name))}
    pickers = {(i.plan, i.row.phrase): i.choices for i in page.open if i.row.field == "districts"}
    assert pickers == {
        ("天津市残疾人职业技能提升计划", "有关区"): [
            (ids[GOV, "和平区人民政府"], "和平区人民政府"), (ids[GOV, "河东区人民政府"], "河东区人民政府")],
        ("沈阳市残疾人就业促进三年行动方案", "有关区"): [
            (ids["沈阳市人民政府", "和平区人民政府"], "和平区人民政府"),
            (ids["沈阳市人民政府", "沈河区人民政府"], "沈河区人民政府")]}
    with transaction(db) as s, pytest.raises(ReviewError):
        assign_flag(s, reviews["有关区"], [ids["沈阳市人民政府", "和平区人民政府"]],
                    by="user:duchashi", now=at("2017-01-09"))
