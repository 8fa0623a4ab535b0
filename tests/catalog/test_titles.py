"""A plan's own title when a notice issues or forwards it (issue 13, attacker finding F11)."""

from __future__ import annotations

import datetime as dt

import pytest

from tracker.catalog.options import PlanOptions
from tracker.catalog.plan_text import parse_source
from tracker.catalog.sources import Source
from tracker.catalog.titles import own_title

NOTICE = """某市人民政府办公厅关于印发某市加快
养老服务发展实施方案的通知
某政办发〔2019〕8号
各区人民政府，市政府各委、办、局：
经市人民政府同意，现将《某市加快养老服务发展实施方案》印发给你们，请认真贯彻执行。
某市人民政府办公厅
2019年3月1日
某市加快养老服务发展实施方案
一、主要任务
（一）完善居家养老服务。发展社区嵌入式养老。（市民政局负责）
"""


@pytest.mark.parametrize(("title", "body", "own"), [
    ("某市人民政府办公厅关于印发某市加快养老服务发展实施方案的通知", [], "某市加快养老服务发展实施方案"),
    ("某市人民政府关于印发《某市“十四五”养老服务体系规划》的通知", [], "某市“十四五”养老服务体系规划"),
    # forwarded: the body's 《》 name that the title ends with, the forwarding office dropped
    ("天津市人民政府办公厅关于转发市残联拟定的天津市“十三五”加快残疾人小康进程规划纲要的通知",
     ["市残联拟定的《天津市“十三五”加快残疾人小康进程规划纲要》已经市人民政府同意，现转发给你们"],
     "天津市“十三五”加快残疾人小康进程规划纲要"),
    ("某区人民政府办公室关于转发区发展改革委制定的某区重点工作任务分工方案的通知", [],
     "某区重点工作任务分工方案"),
    # a notice that is itself the plan keeps its title
    ("国务院办公厅关于对真抓实干成效明显地方进一步加大激励支持力度的通知", [],
     "国务院办公厅关于对真抓实干成效明显地方进一步加大激励支持力度的通知"),
    ("某市关于加快养老服务发展的实施意见", [], "某市关于加快养老服务发展的实施意见"),
])
def test_own_title(title, body, own):
    assert own_title(title, body) == own


def test_a_plan_issued_by_a_notice_takes_its_own_title():
    options = PlanOptions(plan_id="t", period=(2019, 2020), government="某市人民政府")
    result = parse_source(Source("方案.txt", NOTICE.splitlines()), None, options)
    plan = result.catalog.plan
    assert (plan.title, plan.doc_number, plan.issuer, plan.issued) == (
        "某市加快养老服务发展实施方案", "某政办发〔2019〕8号", "某市人民政府办公厅", dt.date(2019, 3, 1))
    assert [(m.code, m.lead) for m in result.catalog.measures] == [("1.1", "市民政局")]
