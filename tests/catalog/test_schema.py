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
    assert "Field required" in msg
    assert line == _line_of(text, '"code": "2.1.4"') - 1  # the measure's opening brace
    assert "measures[3].lead" in str(exc.value)


def test_duplicate_code(catalog):
    def dup(d):  # type: ignore[no-untyped-def]
        d["measures"][5]["code"] = d["measures"][4]["code"]

    text = _broken(catalog, dup)
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    path, line, msg, value = exc.value.problems[0]
    assert (path, msg, value) == ("measures[5].code", "duplicate measure code", "2.2.1")
    # I7 pointed at 2.2.2, which no longer exists: named too
    assert ("indicators[6].measures[0]", "unknown measure") in [
        (p[0], p[2]) for p in exc.value.problems]
    second = [i for i, ln in enumerate(text.splitlines(), 1) if '"code": "2.2.1"' in ln][1]
    assert line == second


def test_unknown_agency_names_path_line_and_value(catalog):
    text = _broken(catalog, lambda d: d["measures"][0]["co"].__setitem__(1, "市不存在局"))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    path, line, msg, value = exc.value.problems[0]
    assert (path, msg, value) == ("measures[0].co[1]", "unknown agency", "市不存在局")
    assert "市不存在局" in text.splitlines()[line - 1]


def test_bad_comparator_and_json_syntax(catalog):
    text = _broken(catalog, lambda d: d["indicators"][0].__setitem__("comparator", "<"))
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text(text)
    assert exc.value.problems[0][0] == "indicators[0].comparator"
    with pytest.raises(CatalogError) as exc:
        validate_catalog_text('{"plan": {,}')
    assert exc.value.problems[0][1] == 1


def test_cli_load_refuses_and_writes_nothing(tmp_path, catalog, db_url, db, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text(_broken(catalog, lambda d: d["measures"][7].pop("lead")), encoding="utf-8")
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["catalog", "load", str(bad)])
    assert result.exit_code == 2
    assert "measures[7].lead" in result.output
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 0
        assert s.scalar(select(func.count()).select_from(Measure)) == 0
