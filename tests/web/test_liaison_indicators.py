"""The liaison's indicator item (issue 11, item 3): numerator, denominator and source; a
wrong ratio refused naming the field; the explanation of a value off its trajectory."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import at
from tests.web_helpers import Clock, liaison_of, make_app, make_settings, token_for
from tracker.annual.indicators import follow_up_off_trajectory, record_baseline, trajectory_table
from tracker.db import transaction
from tracker.enums import ChannelKind
from tracker.models import Indicator, IndicatorValue, Plan, ProgressReport, ProgressRequest
from tracker.requests.opening import open_due_requests


@pytest.fixture
def site(db, db_url, plan, policy, tmp_path):  # type: ignore[no-untyped-def]
    with transaction(db) as s:
        open_due_requests(s, plan, at("2017-12-18"), policy)
        p = s.get_one(Plan, plan.id)
        record_baseline(s, p, "I4", 80, source="2015年统计公报", actor="t", now=at("2018-01-02"))
        record_baseline(s, p, "I1", 20000, source="2015年住户调查", actor="t", now=at("2018-01-02"))
    clock = Clock(at("2018-01-08", 10))
    settings = make_settings(tmp_path, db_url)
    client = TestClient(make_app(db, settings, clock), follow_redirects=False)
    return client, settings, clock


def _rid(db, code: str) -> int:  # type: ignore[no-untyped-def]
    with db() as s:
        return s.scalar(select(ProgressRequest.id).join(
            Indicator, Indicator.id == ProgressRequest.indicator_id).where(Indicator.code == code))


def test_rate_form_numerator_denominator_source_and_a_wrong_ratio(site, db):
    client, settings, _ = site
    token = token_for(settings, liaison_of(db, "市人力社保局"), at("2018-01-08"))
    rid = _rid(db, "I4")
    page = client.get(f"/l/{token}/requests/{rid}").text
    for name in ("numerator", "denominator", "value", "source"):
        assert f'id="r{rid}-{name}" name="{name}"' in page
    assert "<dt>目标值</dt><dd>90%</dd>" in page
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "completed", "percent": "100", "numerator": "830",
        "denominator": "1000", "value": "85", "source": "社保参保数据"})
    assert r.status_code == 422
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', r.text, re.S).group(0)
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary) == [(
        f"r{rid}-value", "指标数值（85%）与分子÷分母×100（83.00%）不一致，请核对；"
                         "也可不填指标数值，由系统按分子、分母计算。")]
    assert f'<p class="field-error" id="r{rid}-value-error">' in r.text
    assert 'value="830"' in r.text and 'value="社保参保数据"' in r.text  # kept as typed
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "completed", "percent": "100", "numerator": "830",
        "value": ""})
    assert r.status_code == 422 and "填写了分子时，须同时填写分母。" in r.text
    with db() as s:
        assert s.scalar(select(func.count()).select_from(ProgressReport)) == 0
    # the rate left empty is computed from the numerator and denominator
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "completed", "percent": "100", "numerator": "830",
        "denominator": "1000", "value": "", "source": "社保参保数据"})
    assert r.status_code == 303, r.text
    with db() as s:
        iv = s.scalar(select(IndicatorValue).where(IndicatorValue.indicator_id == s.scalar(
            select(Indicator.id).where(Indicator.code == "I4"))))
        assert (iv.year, iv.value, iv.numerator, iv.denominator, iv.source) == (
            2017, 83.0, 830.0, 1000.0, "社保参保数据")
    page = client.get(f"/l/{token}/requests/{rid}").text  # the answer shown again
    assert 'value="830"' in page and 'value="社保参保数据"' in page


def test_growth_form_asks_the_level_then_the_explanation(site, db):
    client, settings, clock = site
    token = token_for(settings, liaison_of(db, "市人力社保局"), at("2018-01-08"))
    rid = _rid(db, "I1")
    page = client.get(f"/l/{token}/requests/{rid}").text
    assert "残疾人家庭人均可支配收入：2017年度实际值（元）" in page
    assert f'id="r{rid}-numerator"' not in page
    import io

    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(client.get(f"/l/{token}/template.xlsx").content)).active
    subjects = [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert ("残疾人家庭人均可支配收入年均增速（指标数值栏填残疾人家庭人均可支配收入，单位：元；"
            "年均增速由系统计算）") in subjects
    assert "<dt>目标值</dt><dd>&gt;9%（残疾人家庭人均可支配收入年均增速）</dd>" in page
    r = client.post(f"/l/{token}/requests/{rid}", data={
        "action": "submit", "status": "completed", "percent": "100", "value": "23762",
        "source": "住户调查"})
    assert r.status_code == 303
    with transaction(db) as s:
        done = follow_up_off_trajectory(s, s.scalars(select(Plan)).one(), at("2018-02-01", 8, 30),
                                        channel=ChannelKind.EMAIL)
    assert done.asked == [("I1", 2017)]
    clock.now = at("2018-02-02", 10)
    token = token_for(settings, liaison_of(db, "市人力社保局"), at("2018-02-02"))
    index = client.get(f"/l/{token}").text
    assert "指标偏离进度，请填写说明" in index and f"/requests/{rid}" in index
    page = client.get(f"/l/{token}/requests/{rid}").text
    assert "<h2 id=\"explanation-h\">偏离进度说明</h2>" in page
    assert ("2017年残疾人家庭人均可支配收入23762元，按2015年基期值20000元计算的年均增速为9%，"
            "未达到目标值&gt;9%。请说明原因") in page
    r = client.post(f"/l/{token}/requests/{rid}/explanation", data={"text": "   "})
    assert r.status_code == 422
    assert f'<a href="#r{rid}-explanation">请填写偏离进度说明。</a>' in r.text
    r = client.post(f"/l/{token}/requests/{rid}/explanation", data={"text": "x" * 2001})
    assert r.status_code == 422 and "偏离进度说明过长（最多 2000 字）。" in r.text
    r = client.post(f"/l/{token}/requests/{rid}/explanation",
                    data={"text": "<script>alert(1)</script>受企业效益影响，工资性收入增长放缓。"})
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "偏离进度说明已提交" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    other = token_for(settings, liaison_of(db, "市残联"), at("2018-02-02"))
    assert client.post(f"/l/{other}/requests/{rid}/explanation",
                       data={"text": "说明"}).status_code == 403
    with db() as s:
        table = trajectory_table(s, s.scalars(select(Plan)).one(), 2017)
    row = table.set_index("编号").loc["I1"]
    assert row["处理情况"] == "<script>alert(1)</script>受企业效益影响，工资性收入增长放缓。"
    assert (row["本年实际值"], row["是否符合进度"]) == (9.0, "偏离")


def test_office_page_shows_the_trajectory_and_records_a_baseline(site, db):
    from tracker.directory.staff import create_user
    from tracker.enums import StaffRole

    client, settings, clock = site
    with transaction(db) as s:
        create_user(s, username="duchashi", display_name="督查室张科长", role=StaffRole.OFFICE,
                    password="correct horse battery", now=at("2018-01-02"))
    token = token_for(settings, liaison_of(db, "市人力社保局"), at("2018-01-08"))
    client.post(f"/l/{token}/requests/{_rid(db, 'I4')}", data={
        "action": "submit", "status": "completed", "percent": "100", "value": "83"})
    with transaction(db) as s:
        follow_up_off_trajectory(s, s.scalars(select(Plan)).one(), at("2018-02-01", 8, 30),
                                 channel=ChannelKind.EMAIL)
    clock.now = at("2018-02-02", 10)
    login = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    client.post("/login", data={"username": "duchashi", "password": "correct horse battery",
                                "csrf": csrf, "next": "/desk"})
    page = client.get("/desk/indicators")
    assert page.status_code == 200 and "<h1>主要指标进度（2017年）</h1>" in page.text
    row = re.search(r'<th scope="row">I4</th>.*?</tr>', page.text, re.S).group(0)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row) == [
        "残疾人城乡居民基本养老保险参保率", "预期性", "市人力社保局", "80%", "90%", "84%", "83%", "", "",
        "", "待说明"]  # 分子, 分母, 数据来源 empty; 是否符合进度 in <strong> below
    assert "<strong class=\"overdue\">偏离</strong>" in row
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    plan_id = re.search(r'name="plan" value="(\d+)"', page.text).group(1)
    r = client.post("/desk/indicators/baseline", data={
        "csrf": csrf, "plan": plan_id, "year": "2017", "code": "I7", "value": "65", "source": " "})
    assert r.status_code == 303
    refused = client.get(r.headers["location"])
    assert "数据来源：须填写基期值的出处" in refused.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', refused.text).group(1)
    r = client.post("/desk/indicators/baseline", data={
        "csrf": csrf, "plan": plan_id, "year": "2017", "code": "I7", "value": "65",
        "source": "2015年康复统计"})
    assert r.status_code == 303 and "m=baseline" in r.headers["location"]
    done = client.get(r.headers["location"]).text
    assert "基期值已记录。" in done
    row = re.search(r'<th scope="row">I7</th>.*?</tr>', done, re.S).group(0)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row)[3:5] == ["65%", "80%"]
    with db() as s:
        assert s.scalar(select(Indicator.baseline_recorded_by).where(
            Indicator.code == "I7")) == "user:duchashi"
