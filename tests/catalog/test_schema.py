"""A malformed catalog is refused, naming the field (JSON path) and line; nothing is written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tracker.catalog.schema import CatalogError, dump_catalog, validate_catalog_text
from tracker.cli import app
from tracker.models import Measure, Plan


def _broken(catalog, edit) -> str:  # type: ignore[no-untyped-def]
    data = json.loads(dump_catalog(catalog))
    edit(data)
    return json.dumps(data, ensure_ascii=False, indent=2)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_missing_lead(catalog):
    text = _broken(catalog, lambda d: d["measures"][3].pop("lead"))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    path, line, msg, _ = exc.value.problems[0]
    assert path == "measures[3].lead"
    assert msg == "缺少此项（必填）"
    assert line == _line_of(text, '"code": "2.1.4"') - 1  # the measure's opening brace
    assert "measures[3].lead" in str(exc.value)


def test_duplicate_code(catalog):
    def dup(d):  # type: ignore[no-untyped-def]
        d["measures"][5]["code"] = d["measures"][4]["code"]

    text = _broken(catalog, dup)
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    path, line, msg, value = exc.value.problems[0]
    assert (path, msg, value) == ("measures[5].code", "任务编号重复", "2.2.1")
    # I7 pointed at 2.2.2, which no longer exists: named too
    assert ("indicators[6].measures[0]", "没有这一编号的任务") in [
        (p[0], p[2]) for p in exc.value.problems]
    second = [i for i, ln in enumerate(text.splitlines(), 1) if '"code": "2.2.1"' in ln][1]
    assert line == second


def test_unknown_agency_names_path_line_and_value(catalog):
    text = _broken(catalog, lambda d: d["measures"][0]["co"].__setitem__(1, "市不存在局"))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    path, line, msg, value = exc.value.problems[0]
    assert (path, msg, value) == ("measures[0].co[1]", "不是 agencies 中列出的单位", "市不存在局")
    assert "市不存在局" in text.splitlines()[line - 1]
    assert str(exc.value) == (f"目录文件有 1 处问题：\n  measures[0].co[1]（第 {line} 行）："
                              "不是 agencies 中列出的单位（值：“市不存在局”）")


def test_bad_comparator_and_json_syntax(catalog):
    text = _broken(catalog, lambda d: d["indicators"][0].__setitem__("comparator", "<"))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    assert exc.value.problems[0][0] == "indicators[0].comparator"
    assert exc.value.problems[0][2] == "不是允许的取值（应为 >、>=）"
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text('{"plan": {,}')
    assert exc.value.problems[0][1] == 1
    assert exc.value.problems[0][2] == "不是有效的 JSON（键名应使用英文双引号，或多了一个逗号）"


def test_cli_load_refuses_and_writes_nothing(tmp_path, catalog, db_url, db, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text(_broken(catalog, lambda d: d["measures"][7].pop("lead")), encoding="utf-8")
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["catalog", "load", str(bad)])
    assert result.exit_code == 2
    assert "measures[7].lead" in result.output and "缺少此项（必填）" in result.output
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 0
        assert s.scalar(select(func.count()).select_from(Measure)) == 0


def test_cli_validate_says_ok_in_chinese(tmp_path, catalog):
    path = tmp_path / "tasks_catalog.json"
    path.write_text(dump_catalog(catalog), encoding="utf-8")
    result = CliRunner().invoke(app, ["catalog", "validate", str(path)])
    assert result.exit_code == 0
    assert result.output.replace("\n", "") == f"{path}：格式正确（任务 38 项，主要指标 9 项，单位 52 个）"


def test_a_rule_of_the_catalog_is_named_in_chinese(catalog):
    text = _broken(catalog, lambda d: d["plan"].__setitem__("period", [2020, 2016]))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    assert [(p, m) for p, _, m, _ in exc.value.problems] == [
        ("plan", "period 应为 [起始年, 终止年]，起始年不晚于终止年")]
    text = _broken(catalog, lambda d: d["plan"].__setitem__("extra", 1))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    assert [(p, m) for p, _, m, _ in exc.value.problems] == [("plan.extra", "不是可识别的字段")]
