"""Dates and periods as official documents write them (GB/T 9704-2012)."""

from __future__ import annotations

import datetime as dt

import pytest

from tracker.dates.chinese import cn_date, cn_period


def test_cn_date():
    assert cn_date(dt.date(2017, 4, 10)) == "2017年4月10日"
    assert cn_date("2017-10-01") == "2017年10月1日"
    with pytest.raises(ValueError):
        cn_date("2017/10/01")


def test_cn_period():
    assert [cn_period(p) for p in ("2017Q1", "2017Q4", "2017H1", "2017H2", "2017", "x")] == [
        "2017年第一季度", "2017年第四季度", "2017年上半年", "2017年下半年", "2017年度", "x"]
