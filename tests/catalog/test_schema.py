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
    assert (path, msg) == ("measures[3].lead", "缺少此项（必填）")
    assert line == _line_of(text, '"code": "2.1.4"') - 1  # the measure's opening brace
    assert str(exc.value) == ("任务目录有误（1 处）：\n"
                              f"  第4项任务的牵头单位（measures[3].lead，第{line}行）：缺少此项（必填）")


def test_duplicate_code(catalog):
    def dup(d):  # type: ignore[no-untyped-def]
        d["measures"][5]["code"] = d["measures"][4]["code"]

    text = _broken(catalog, dup)
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    path, line, msg, value = exc.value.problems[0]
    assert (path, msg, value) == ("measures[5].code", "任务编号重复", "2.2.1")
    # I7 pointed at 2.2.2, which no longer exists: named too
    assert ("indicators[6].measures[0]", "没有此编号的任务") in [
        (p[0], p[2]) for p in exc.value.problems]
    second = [i for i, ln in enumerate(text.splitlines(), 1) if '"code": "2.2.1"' in ln][1]
    assert line == second


def test_unknown_agency_names_path_line_and_value(catalog):
    text = _broken(catalog, lambda d: d["measures"][0]["co"].__setitem__(1, "市不存在局"))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    path, line, msg, value = exc.value.problems[0]
    assert (path, msg, value) == ("measures[0].co[1]", "不在单位列表（agencies）中", "市不存在局")
    assert "市不存在局" in text.splitlines()[line - 1]
    assert str(exc.value) == (f"任务目录有误（1 处）：\n  第1项任务的第2个配合单位（measures[0].co[1]，"
                              f"第{line}行）：不在单位列表（agencies）中（值：“市不存在局”）")


def test_bad_comparator_and_json_syntax(catalog):
    text = _broken(catalog, lambda d: d["indicators"][0].__setitem__("comparator", "<"))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    assert exc.value.problems[0][:3:2] == ("indicators[0].comparator", "只能是 '>' 或 '>='")
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text('{"plan": {,}')
    assert exc.value.problems[0][1] == 1
    assert str(exc.value) == ("任务目录有误（1 处）：\n  第1行：第11列附近不是有效的 JSON 格式"
                              "（请检查引号、逗号和括号是否齐全、成对）")


@pytest.mark.parametrize(("path", "words"), [
    ("measures[3].lead", "第4项任务的牵头单位"),
    ("measures[0].co[1]", "第1项任务的第2个配合单位"),
    ("measures[2].title", "第3项任务的任务名称"),
    ("measures[2].deadline.due", "第3项任务的完成时限的到期日"),
    ("plan.issuer", "规划设置的印发机关"),
    ("plan.title", "规划设置的规划名称"),
    ("plan.period[1]", "规划设置的规划期的终止年份"),
    ("plan.districts[0]", "规划设置的第1个区县"),
    ("indicators[6].measures[0]", "第7项指标的第1个关联任务"),
    ("agencies[2].kind", "第3个单位的类别"),
    ("measures", "任务列表"),
])
def test_json_paths_in_chinese_words(path, words):
    from tracker.catalog.schema import path_words

    assert path_words(path) == words


def test_cli_validate_names_each_problem_in_chinese(tmp_path, catalog):
    def edit(d):  # type: ignore[no-untyped-def]
        d["measures"][3]["lead"] = ""
        d["measures"][0]["co"][1] = "市不存在局"
        d["plan"]["issued"] = "2016年1月"

    bad = tmp_path / "bad.json"
    text = _broken(catalog, edit)
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["catalog", "validate", str(bad)])
    assert result.exit_code == 2
    lead_line = _line_of(text, '"lead": ""')
    issued_line = _line_of(text, '"issued": "2016年1月"')
    assert result.output.splitlines() == [
        f"错误: 任务目录 {bad} 有误（2 处）：",
        f"  规划设置的印发日期（plan.issued，第{issued_line}行）：应为日期，如 2018-12-12（值：“2016年1月”）",
        f"  第4项任务的牵头单位（measures[3].lead，第{lead_line}行）：不能为空（值：“”）"]
    good = tmp_path / "good.json"
    good.write_text(dump_catalog(catalog), encoding="utf-8")
    result = CliRunner().invoke(app, ["catalog", "validate", str(good)])
    assert result.exit_code == 0
    assert result.output == (f"{good}：有效（任务 {len(catalog.measures)} 项，"
                             f"主要指标 {len(catalog.indicators)} 项）\n")


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
    assert result.output.replace("\n", "") == f"{path}：有效（任务 38 项，主要指标 9 项）"


def test_a_rule_of_the_catalog_is_named_in_chinese(catalog):
    text = _broken(catalog, lambda d: d["plan"].__setitem__("period", [2020, 2016]))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    assert [(p, m) for p, _, m, _ in exc.value.problems] == [
        ("plan", "规划期应写作 [起始年份, 终止年份]，起始年份不得晚于终止年份")]
    text = _broken(catalog, lambda d: d["plan"].__setitem__("extra", 1))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    assert [(p, m) for p, _, m, _ in exc.value.problems] == [
        ("plan.extra", "不是任务目录的字段（请删除，或检查拼写）")]
