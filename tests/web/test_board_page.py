"""The board page passes its filter to the heat table and the on-time chart (issue 10, item 5).

The state is tests.desk.test_board's `year`: the small plan on 23 January 2018, five red
requests (人社局 2, 市残联 2, 和平区 1).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import STAFF_PASSWORD, at
from tests.desk.test_board import CDPF, HEPING, HRSS, year  # noqa: F401 (the fixture)
from tests.web.test_desk import login
from tests.web_helpers import Clock, make_app, make_settings
from tracker.db import transaction
from tracker.directory.staff import create_user
from tracker.enums import StaffRole


@pytest.fixture
def client(db, db_url, year, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    with transaction(db) as s:
        create_user(s, username="duchashi", display_name="督查室张科长", role=StaffRole.OFFICE,
                    password=STAFF_PASSWORD, now=at("2018-01-02"))
    client = TestClient(make_app(db, make_settings(tmp_path, db_url), Clock(at("2018-01-23", 10))),
                        follow_redirects=False)
    assert login(client).status_code == 303
    return client, year


def _heat(html: str) -> dict[str, str]:
    """The heat table's rows: agency -> its total."""
    part = html[html.index('id="heat-h"'):html.index('id="rate-h"')]
    return dict(re.findall(r'<th scope="row" class="sticky">([^<]+)</th>.*?<td>(\d+)</td></tr>', part))


def _rates(html: str) -> list[tuple[str, ...]]:
    part = html[html.index('id="rate-h"'):]
    return re.findall(r'<th scope="row" class="nowrap">([^<]+)</th><td class="num">(\d+)</td>'
                      r'<td class="num">(\d+)</td>', part)


def test_heat_table_and_chart_follow_the_agency_filter(client):
    c, agencies = client
    page = c.get("/desk").text
    assert _heat(page) == {HRSS: "2", CDPF: "2", HEPING: "1"}
    assert _rates(page) == [("2017年第一季度", "7", "9"), ("2017年第四季度", "5", "9"),
                            ("2017年度", "0", "1")]
    assert "按上方筛选条件统计" not in page

    page = c.get("/desk", params={"agency": agencies[CDPF]}).text
    assert "共 4 项" in page
    assert _heat(page) == {CDPF: "2"}
    assert _rates(page) == [("2017年第一季度", "0", "2"), ("2017年第四季度", "1", "2")]
    assert "2017年第一季度：0.0%；2017年第四季度：50.0%；" in page  # the chart's description
    assert page.count("按上方筛选条件统计") == 2

    page = c.get("/desk", params={"agency": agencies[HEPING], "light": "green"}).text
    assert "符合筛选条件的事项中没有逾期事项。" in page and _heat(page) == {}
    assert _rates(page) == [("2017年第一季度", "2", "2")]


def test_agency_filter_is_a_search_box(client):
    """The agency filter does not list the directory (tens of thousands at national scale):
    a search box whose suggestions are the heat table's agencies; a name, or a part of one
    that only one agency has, filters; a part several have lists them as links."""
    c, agencies = client
    page = c.get("/desk").text
    assert 'name="agency_name" value=""' in page and "<select id=\"f-agency\"" not in page
    suggested = re.findall(r'<option value="([^"]+)"></option>', page.split('id="f-agency-list"')[1]
                           .split("</datalist>")[0])
    assert suggested == [HRSS, CDPF, HEPING]

    page = c.get("/desk", params={"agency_name": CDPF}).text
    assert "共 4 项" in page and _heat(page) == {CDPF: "2"}
    assert f'name="agency_name" value="{CDPF}"' in page
    page = c.get("/desk", params={"agency_name": "残联"}).text  # a part only 市残联 has
    assert "共 4 项" in page and 'id="agency-matches"' not in page
    page = c.get("/desk", params={"agency": agencies[HEPING]}).text  # links keep the id
    assert f'name="agency_name" value="{HEPING}"' in page

    page = c.get("/desk", params={"agency_name": "区人民政府", "light": "red"}).text
    assert "共 1 项" not in page and 'id="agency-matches"' in page
    assert f'<a href="/desk?light=red&amp;agency={agencies[HEPING]}">{HEPING}</a>' in page
    assert "河东区人民政府</a>" in page
    page = c.get("/desk", params={"agency_name": "没有的单位"}).text
    assert "没有名称含“没有的单位”的责任单位，未按责任单位筛选。" in page
    assert "共 19 项" in page
