"""The one rounding rule for percentages people read (issue 12): half up, one decimal, the
same in the scorecard, the documents, the desk and the public report."""

from __future__ import annotations

from tracker.annual.scorecard.figures import round_half_up as scorecard_rounding
from tracker.numbers import PERCENT_RULE, percent, percent_text, round_half_up
from tracker.web.pages import templates


def test_half_up_where_python_rounds_half_to_even():
    assert round(6.25, 1) == 6.2 and round_half_up(6.25, 1) == 6.3
    assert round_half_up(0.125, 2) == 0.13 and round_half_up(2.5, 0) == 3.0
    assert percent(1, 16) == 6.3 and percent(1, 8) == 12.5 and percent(2, 3) == 66.7
    assert percent(0, 0) is None
    assert [percent_text(1, 16), percent_text(3, 3), percent_text(0, 5), percent_text(1, 0)] == [
        "6.3%", "100.0%", "0.0%", "—"]
    assert scorecard_rounding is round_half_up  # one home
    assert PERCENT_RULE == "百分比按四舍五入保留一位小数。"


def test_the_desk_shows_percentages_by_the_same_rule():
    render = templates.env.from_string("{{ 1|pct(16) }} {{ 7|pct(8) }}").render
    assert render() == "6.3% 87.5%"  # Jinja's round filter would print 6.2


def test_a_measured_value_prints_to_two_decimals_half_up_without_trailing_zeros():
    from tracker.numbers import number_text
    assert number_text(34074.46) == "34074.46"  # '%g' printed 34074.5
    assert number_text(1234567.5) == "1234567.5"
    assert number_text(2.675) == "2.68"  # half up, although 2.675 is 2.67499… in binary
    assert number_text(35.0) == "35"
    assert number_text(7) == "7"
    assert number_text(-0.001) == "0"
    assert number_text(None) == "—"
    assert number_text(float("nan")) == "—"
