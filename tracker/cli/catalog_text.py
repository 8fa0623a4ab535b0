"""`tracker catalog parse`: a published plan (text or .docx) through a profile into the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tracker.cli.common import catalog_app, console, current_settings, err, fail
from tracker.ops.files import os_reason


@catalog_app.command("parse")
def catalog_parse(
    plan: Annotated[Path, typer.Argument(help="the published plan: text (UTF-8 or GBK) or .docx")],
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("tasks_catalog.json"),
    profile: Annotated[str | None, typer.Option(
        help="tianjin | general | parts | sections | items (default: detected)")] = None,
    plan_id: Annotated[str | None, typer.Option(help="the plan's id, e.g. gov-2018-42")] = None,
    title: Annotated[str | None, typer.Option(help="default: the document's title")] = None,
    issuer: Annotated[str | None, typer.Option(help="default: the signing office")] = None,
    doc_number: Annotated[str | None, typer.Option(help="文号; default: the document's")] = None,
    issued: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: the signing date")] = None,
    period: Annotated[str | None, typer.Option(help="first-last year, e.g. 2018-2022")] = None,
    government: Annotated[str | None, typer.Option(
        help="the government whose districts apply, e.g. 天津市人民政府")] = None,
    districts: Annotated[str | None, typer.Option(
        help="the district governments 各区县人民政府 stands for, comma-separated")] = None,
    supervision_office: Annotated[str | None, typer.Option(
        help="督查室 that chases the plan, e.g. 某市人民政府督查室 (gathers tasks with no "
             "lead; needed to load unless the rules configure it)")] = None,
    performance_office: Annotated[str | None, typer.Option(
        help="绩效办 that scores it (optional)")] = None,
) -> None:
    """Turn a published plan into the catalog JSON; print counts, skipped lines and flags.

    Give the settings a document does not state (plan id, period, government).
    The Tianjin plan's profile supplies its own.
    """
    from tracker.catalog.options import read_cli_options
    from tracker.catalog.plan_text import parse_source
    from tracker.catalog.profiles import ProfileError, get_profile
    from tracker.catalog.schema import dump_catalog
    from tracker.catalog.sources import SourceError, read_source
    from tracker.catalog.text import TextParseError
    from tracker.exchange.convert import Converter

    options, problems = read_cli_options(
        plan_id=plan_id, title=title, issuer=issuer, doc_number=doc_number, issued=issued,
        period=period, government=government, districts=districts,
        supervision_office=supervision_office, performance_office=performance_office)
    try:
        chosen = get_profile(profile) if profile else None
    except ProfileError as exc:
        problems.append(str(exc))
    if problems:
        raise fail("\n".join(problems))
    settings = current_settings()
    try:
        # a .doc or WPS .wps document goes through LibreOffice, as .xls does on import
        source = read_source(plan, Converter.find(settings.soffice, settings.convert_timeout))
        result = parse_source(source, chosen, options)
    except SourceError as exc:
        raise fail(str(exc)) from None
    except TextParseError as exc:
        err.print(f"[bold red]错误[/]: {escape(plan.name)} 无法转为任务目录，共 {len(exc.problems)} 处问题：",
                  highlight=False, soft_wrap=True)
        for p in exc.problems:
            err.print(f"  {escape(p.where)}：{escape(p.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        output.write_text(dump_catalog(result.catalog), encoding="utf-8")
    except OSError as exc:
        raise fail(f"{output}：无法写入（{os_reason(exc)}）") from None
    report, catalog = result.report, result.catalog

    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    say(f"{escape(str(output))}：模板 {report.profile}，任务 {report.measures} 项，责任单位 "
        f"{len(report.named_agencies)} 个，区县 {len(catalog.plan.districts)} 个，"
        f"主要指标 {len(catalog.indicators)} 项")
    say(f"牵头规则：{report.lead_rule}")
    if report.settings_note:
        say(report.settings_note)
    for key, value in report.stated.items():
        say(f"取自原文的{key}：{escape(value)}")
    say(f"跳过的编号段落 {len(report.skipped)} 处" + ("：" if report.skipped else ""))
    for s in report.skipped:
        say(f"  {s.where} {escape(s.text)}\n    原因：{escape(s.reason)}")
    say(f"待督查室确认的表述 {len(report.flags)} 处" + ("：" if report.flags else ""))
    for code, flag in report.flags:
        say(f"  任务 {code}（{_FIELD[flag.field]}）“{escape(flag.phrase)}”：{escape(flag.reason)}")
    for warning in report.warnings:
        say(f"[yellow]注意[/]：{escape(warning)}")


_FIELD = {"lead": "牵头单位", "co": "配合单位", "districts": "区县", "deadline": "完成时限",
          "indicators": "指标"}
