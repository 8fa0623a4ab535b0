"""Settings: environment, .env and files (BOMs welcome), one Chinese line per bad value."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT
from tracker.cli import app
from tracker.dates.workdays import WorkCalendar
from tracker.enums import ChannelKind
from tracker.settings import Settings, SettingsError

BOM = "\ufeff"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """No TRACKER_ variable from the machine, and no .env file but the test's own."""
    for key in list(os.environ):
        if key.upper().startswith("TRACKER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_env_file_with_bom_loads(tmp_path):
    # Windows Notepad's BOM sits before the first key: the first line must still count.
    (tmp_path / ".env").write_text(BOM + "TRACKER_SMTP_PORT=2525\nTRACKER_CHANNEL=file\n"
                                   "TRACKER_BASE_URL=https://ducha.example.gov.cn/\n",
                                   encoding="utf-8")
    settings = Settings()
    assert settings.smtp_port == 2525
    assert settings.channel is ChannelKind.FILE
    assert settings.base_url == "https://ducha.example.gov.cn"


def test_environment_wins_over_env_file_and_init_wins_over_both(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("TRACKER_SMTP_PORT=2525\nTRACKER_SMTP_HOST=mail.example\n",
                                   encoding="utf-8")
    monkeypatch.setenv("TRACKER_SMTP_PORT", "2626")
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "from-env"))
    assert Settings().smtp_port == 2626
    assert Settings().smtp_host == "mail.example"
    assert Settings().database_url == f"sqlite:///{tmp_path / 'from-env' / 'tracker.db'}"
    settings = Settings(smtp_port=25, home=tmp_path / "given")
    assert settings.smtp_port == 25
    assert settings.home == tmp_path / "given"
    assert settings.database_url == f"sqlite:///{tmp_path / 'given' / 'tracker.db'}"
    assert settings.outbox_dir == tmp_path / "given" / "outbox"
    assert settings.smtp_host == "mail.example"  # what is not given still comes from .env


def test_relative_home_is_made_absolute(tmp_path):
    assert Settings(home="data").home == tmp_path / "data"
    assert Settings().home == tmp_path / "var"


def test_rules_file_with_bom_loads(tmp_path, monkeypatch):
    path = tmp_path / "rules.json"
    path.write_text(BOM + json.dumps({"ladder": [2, 6, 11],
                                      "scoring": {"version": "2027.1", "on_time": 50}}),
                    encoding="utf-8")
    monkeypatch.setenv("TRACKER_RULES", str(path))
    rules = Settings().rules
    assert rules.ladder == (2, 6, 11)
    assert rules.scoring.on_time == 50 and rules.scoring.version == "2027.1"
    assert rules.due_after_quarter_end == 5  # the rest stays as DESIGN.md says


def test_bad_rules_key_names_file_key_and_value(tmp_path, monkeypatch):
    path = tmp_path / "rules.json"
    path.write_text(BOM + '{\n  "ladder": [1, 5, 10],\n  "scoring": {"on_time": "很多"}\n}\n',
                    encoding="utf-8")
    monkeypatch.setenv("TRACKER_RULES", str(path))
    with pytest.raises(SettingsError) as caught:
        Settings()
    message = str(caught.value)
    assert message == f"规则文件 {path} 第 3 行：键 scoring.on_time 的值“很多”无效（不是有效的数字）"
    path.write_text('{"ladder": [1, 5], "ladderr": 3}', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        Settings()
    message = str(caught.value)
    assert str(path) in message and "键 ladder 的值“[1, 5]”无效（缺少第 3 项）" in message
    assert "键 ladderr 不是可识别的规则项" in message


def test_rules_file_that_is_not_json_names_file_and_line(tmp_path, monkeypatch):
    path = tmp_path / "rules.json"
    path.write_text('{\n  "ladder": [1, 5, 10],\n  "yellow_within": \n}\n', encoding="utf-8")
    monkeypatch.setenv("TRACKER_RULES", str(path))
    with pytest.raises(SettingsError, match=re.escape(f"规则文件 {path} 第 4 行第 1 列：不是有效的 JSON")):
        Settings()
    monkeypatch.setenv("TRACKER_RULES", str(tmp_path / "missing.json"))
    with pytest.raises(SettingsError, match="missing.json：文件不存在"):
        Settings()


def test_bad_smtp_port_is_one_chinese_line_from_the_cli(monkeypatch):
    monkeypatch.setenv("TRACKER_SMTP_PORT", "abc")
    result = CliRunner().invoke(app, ["jobs", "list"])
    assert result.exit_code == 2, result.output
    line = one_line_error(result.output)
    assert "配置有误：TRACKER_SMTP_PORT（环境变量）的值“abc”不是有效的整数" in line


def test_bad_value_in_env_file_names_the_file(tmp_path):
    (tmp_path / ".env").write_text(BOM + "TRACKER_CHANNEL=wecom\nTRACKER_SMPT_PORT=25\n",
                                   encoding="utf-8")
    result = CliRunner().invoke(app, ["jobs", "list"])
    assert result.exit_code == 2, result.output
    line = one_line_error(result.output)
    assert f"TRACKER_CHANNEL（{tmp_path / '.env'} 文件）的值“wecom”不是允许的取值（应为 email、file）" in line
    assert "TRACKER_SMPT_PORT" in line and "不是可识别的配置项" in line


def test_bad_rules_file_from_the_cli(tmp_path, monkeypatch):
    path = tmp_path / "rules.json"
    path.write_text('{"checkpoint_working_day": 0}', encoding="utf-8")
    monkeypatch.setenv("TRACKER_RULES", str(path))
    result = CliRunner().invoke(app, ["overdue"])
    assert result.exit_code == 2, result.output
    line = one_line_error(result.output)
    assert f"规则文件 {path} 第 1 行：键 checkpoint_working_day 的值“0”无效（超出范围（不应小于 1））" in line


def test_calendar_override_file_with_bom_loads(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(BOM + json.dumps({"workdays": ["2027-02-07"], "holidays": ["2027-02-08"]}),
                    encoding="utf-8")
    cal = WorkCalendar.from_file(path)
    assert cal.is_workday(dt.date(2027, 2, 7))  # a Sunday made a working day
    assert not cal.is_workday(dt.date(2027, 2, 8))


def test_bad_calendar_override_names_file_key_and_value(tmp_path, monkeypatch):
    path = tmp_path / "calendar.json"
    path.write_text(BOM + '{"workdays": ["2027-02-07"],\n "holidays": ["2027-02-08", "2027-02-30"]}',
                    encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        WorkCalendar.from_file(path)
    assert str(caught.value) == (f"日历调整文件 {path} 第 2 行：键 holidays 的值“2027-02-30”"
                                 "不是有效的日期（应为 YYYY-MM-DD，如 2027-02-08）")
    path.write_text('{"holiday": ["2027-02-08"]}', encoding="utf-8")
    with pytest.raises(SettingsError, match="键 holiday 不是可识别的键"):
        WorkCalendar.from_file(path)
    # The CLI checks the file before any command runs.
    monkeypatch.setenv("TRACKER_CALENDAR_OVERRIDES", str(path))
    result = CliRunner().invoke(app, ["jobs", "list"])
    assert result.exit_code == 2, result.output
    assert f"日历调整文件 {path} 第 1 行：键 holiday" in one_line_error(result.output)


def test_secrets_stay_out_of_prefect_parameters(tmp_path):
    from flows.tracker_flows import dispatch_flow

    settings = Settings(home=tmp_path, secret_key="s3cret-key",
                        database_url="postgresql+psycopg://tracker:pa55word@db.example/tracker")
    assert "s3cret-key" not in repr(settings) and "s3cret-key" not in str(settings)
    stored = json.dumps(dispatch_flow.serialize_parameters({"settings": settings}))
    assert "s3cret-key" not in stored and "pa55word" not in stored
    assert "postgresql+psycopg://tracker:***@db.example/tracker" in stored
    assert settings.database_url.endswith(":pa55word@db.example/tracker")  # still usable


def test_serve_links_point_at_the_server_unless_told(monkeypatch):
    from flows.scheduler import serve_settings

    assert serve_settings(Settings(), "0.0.0.0", 8080).base_url == "http://0.0.0.0:8080"
    monkeypatch.setenv("TRACKER_BASE_URL", "https://ducha.example.gov.cn/")
    assert serve_settings(Settings(), "0.0.0.0", 8080).base_url == "https://ducha.example.gov.cn"


def test_prefect_context_puts_prefect_under_the_data_folder(tmp_path, monkeypatch):
    from prefect.context import SettingsContext, get_settings_context
    from prefect.settings import (
        PREFECT_HOME,
        PREFECT_LOGGING_TO_API_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    )
    from prefect.settings import Settings as PrefectSettings

    from flows.runtime import prefect_context

    session_home = Path(os.environ["PREFECT_HOME"])
    with prefect_context(Settings(home=tmp_path / "other")):  # a PREFECT_HOME set still wins
        assert PREFECT_HOME.value() == session_home
    # As Prefect starts when PREFECT_HOME is not set (the test session sets one for itself):
    monkeypatch.delenv("PREFECT_HOME")
    unset = SettingsContext(profile=get_settings_context().profile, settings=PrefectSettings())
    with unset, prefect_context(Settings(home=tmp_path)):
        assert PREFECT_HOME.value() == tmp_path / "prefect"
        assert (tmp_path / "prefect").is_dir()
        assert PREFECT_LOGGING_TO_API_ENABLED.value() is False
        assert PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value() >= 90


PREFECT_HOME_PROBE = """
import json, sys
from prefect.settings import get_current_settings
from flows.runtime import prefect_context
from tracker.settings import Settings
with prefect_context(Settings(home=sys.argv[1], _env_file=None)):
    print(json.dumps(get_current_settings().to_environment_variables(exclude_unset=True)))
"""


def test_prefect_data_goes_to_tracker_home_unless_prefect_home_is_set(tmp_path):
    """Inside our commands Prefect's home is TRACKER_HOME/prefect. The temporary local API is
    a subprocess started with exactly these variables
    (`get_current_settings().to_environment_variables()`), so its database lands there; a
    PREFECT_HOME the user set still wins. Prefect reads its environment once, at import: a
    fresh interpreter is the only honest place to look. (The demo scenario runs the real
    flows and checks that nothing but our output is printed.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TRACKER_"))}

    def probe(extra: dict[str, str]) -> dict[str, str]:
        # An API URL of its own: the probe looks at settings and starts no local API.
        extra = {"PREFECT_API_URL": "http://127.0.0.1:9/api", **extra}
        done = subprocess.run([sys.executable, "-c", PREFECT_HOME_PROBE, str(tmp_path / "home")],
                              env={**env, **extra}, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    ours = probe({})
    assert Path(ours["PREFECT_HOME"]) == tmp_path / "home" / "prefect"
    assert ours["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "300"
    assert ours["PREFECT_LOGGING_LEVEL"] == "ERROR"
    theirs = probe({"PREFECT_HOME": str(tmp_path / "mine")})
    assert Path(theirs["PREFECT_HOME"]) == tmp_path / "mine"


WRITES = [
    r"\benviron\s*\[[^\]]*\]\s*=(?!=)",
    r"\benviron\.(setdefault|update|pop|popitem|clear)\s*\(",
    r"\bdel\s+(os\.)?environ\b",
    r"\b(putenv|unsetenv)\s*\(",
]


def test_nothing_writes_os_environ():
    assert all(re.search(p, s) for p, s in zip(WRITES, [  # the patterns do catch writes
        'os.environ["TRACKER_HOME"] = str(out)', 'os.environ.setdefault("X", "1")',
        'del os.environ["X"]', 'os.putenv("X", "1")'], strict=True))
    found = []
    for folder in ("tracker", "flows"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if any(re.search(p, line) for p in WRITES):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "os.environ written at run time:\n" + "\n".join(found)


def test_the_offices_documents_in_the_rules_file(tmp_path):
    """Issue 12: an office's 机关代字 and letterhead names come from the rules file; the
    rules stay hashable (settings are cached by value) and a bad 代字 is named in Chinese."""
    import json

    from tracker.settings import SettingsError, load_rules

    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"documents": {"offices": {"市政府督查室": {
        "prefix": "津政督", "mark": "天津市人民政府督查室", "cc": ["市政府办公厅"]}}}},
        ensure_ascii=False), encoding="utf-8")
    rules = load_rules(path)
    office = rules.documents.for_office("市政府督查室")
    assert (office.prefix, office.mark, office.cc, office.style) == (
        "津政督", "天津市人民政府督查室", ("市政府办公厅",), "号")
    assert hash(rules) == hash(load_rules(path))
    path.write_text(json.dumps({"documents": {"offices": {"市政府督查室": {"prefix": "津政督〔"}}}},
                               ensure_ascii=False), encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        load_rules(path)
    assert str(refused.value) == (
        f"规则文件 {path} 第 1 行：键 documents.offices.市政府督查室.prefix 的值“津政督〔”无效"
        "（机关代字不含括号和数字，年份和序号由系统生成）")
