"""The one rule for text typed by people (tracker.text)."""

from __future__ import annotations

from tracker.text import clean_name, clean_text


def test_clean_text_keeps_lines_and_tabs_and_drops_what_cannot_be_seen():
    typed = ("第一行\r\n第二行\r第三行\t完\x00\x07\x1b\x85\u2028"
             "\u202e3)trela(\u202c\u2066隔离\u2069\u200e\u200f\u061c\u200b\u2060\ufeff。")
    assert clean_text(typed) == "第一行\n第二行\n第三行\t完3)trela(隔离。"


def test_clean_name_is_one_line():
    assert clean_name("报告\t\n\u202egnp.exe\u2067.pdf") == "报告gnp.exe.pdf"
