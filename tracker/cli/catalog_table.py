"""`tracker catalog template` and `tracker catalog import`: the 任务分工表 as the input."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tracker.cli.common import catalog_app, console, current_settings, err, factory, parse_now


@catalog_app.command("template")
def catalog_template(
    output: Annotated[Path, typer.Option("-o", "--output",
                                         help="任务分工表模板.xlsx, or a .csv (header row only)")]
    = Path("任务分工表模板.xlsx"),
    government: Annotated[str | None, typer.Option(
        help="本级政府: the example's agencies are of its level (市/区/县/省)")] = None,
    districts: Annotated[str | None, typer.Option(
        help="the plan's district governments (、 or ,): the guide quotes them")] = None,
) -> None:
    """Write the documented 任务分工表 template (Excel with 填表说明, or CSV); its examples
    name no real place, or follow --government / --districts."""
    from tracker.catalog.phrases import split_clause
    from tracker.catalog.table_template import template_csv, template_xlsx

    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise _fail([f"模板只能保存为 .xlsx 或 .csv，不能是“{output.name}”"])
    try:
        names = split_clause(districts) if districts else []
        gov = government.strip() if government and government.strip() else None
        output.write_bytes(template_xlsx(gov, names) if suffix == ".xlsx" else template_csv())
    except OSError as exc:
        raise _fail([f"无法写入 {output}：{_os_reason(exc)}"]) from None
    console.print(f"已生成任务分工表模板：{escape(str(output))}", highlight=False)


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="the 任务分工表: .xlsx (.xls/.et), .csv or .docx")],
    plan_id: Annotated[str | None, typer.Option("--plan-id", help="规划标识, e.g. farm-2018")] = None,
    title: Annotated[str | None, typer.Option(help="规划名称")] = None,
    issuer: Annotated[str | None, typer.Option(help="印发机关")] = None,
    doc_number: Annotated[str | None, typer.Option("--doc-number", help="文号")] = None,
    issued: Annotated[str | None, typer.Option(help="印发日期 YYYY-MM-DD")] = None,
    period: Annotated[str | None, typer.Option(help="规划期, e.g. 2018-2020")] = None,
    government: Annotated[str | None, typer.Option(help="本级政府 (whose districts apply)")] = None,
    districts: Annotated[str | None, typer.Option(
        help="the district governments, separated by 、 or , (各区人民政府 expands to them)")] = None,
    supervision_office: Annotated[str | None, typer.Option(
        "--supervision-office", help="督查室 that chases the plan, e.g. 某市人民政府督查室 "
        "(needed to load when the rules' documents.offices configure none)")] = None,
    performance_office: Annotated[str | None, typer.Option(
        "--performance-office", help="绩效办 that scores it (optional)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="default: PLAN-ID.catalog.json")] = None,
    load: Annotated[bool, typer.Option("--load", help="load it into the database too")] = False,
    replace: Annotated[bool, typer.Option(
        "--replace", help="with --load: update a plan of this id whose identity differs")] = False,
    now: Annotated[str | None, typer.Option(help="ISO time (with --load)")] = None,
) -> None:
    """Read a 任务分工表 into a catalog; every problem is listed with its row and column."""
    from tracker.catalog.options import PlanOptionsError, plan_info
    from tracker.catalog.schema import dump_catalog
    from tracker.catalog.table import TableImportError, import_table
    from tracker.exchange.convert import Converter

    problems: list[str] = []
    plan = None
    try:
        plan = plan_info(plan_id=plan_id, title=title, issuer=issuer, doc_number=doc_number,
                         issued=issued, period=period, government=government,
                         districts=districts, supervision_office=supervision_office,
                         performance_office=performance_office)
    except PlanOptionsError as exc:
        problems.extend(exc.problems)
    if replace and not load:
        problems.append("--replace 只能与 --load 一起使用")
    from tracker.catalog.table import MAX_BYTES

    try:
        if file.stat().st_size > MAX_BYTES:
            raise _fail([*problems, f"文件过大（超过 {MAX_BYTES // 1024 // 1024} MB）；"
                                    "任务分工表通常只有几百 KB"], file)
        data = file.read_bytes()
    except OSError as exc:
        raise _fail([*problems, f"无法读取文件 {file}：{_os_reason(exc)}"]) from None
    settings = current_settings()
    try:
        result = import_table(data, file.name, plan,
                              Converter.find(settings.soffice, settings.convert_timeout))
    except TableImportError as exc:
        raise _fail([*problems, *(str(p) for p in exc.problems)], file) from None
    if problems:
        raise _fail(problems, file)
    catalog = result.catalog
    flags = [(m.code, f) for m in catalog.measures for f in m.flags]
    counts = (f"{len(catalog.measures)} 项任务，{len(catalog.agencies)} 个单位，"
              f"{len(flags)} 处待督查室确定")
    if len(result.parts) == 1:
        where = f"表头在第{result.header_row}行" if result.header_row else "表头在上一个表格"
        place = f"{result.place}，" if result.place else ""  # a CSV file has no sheet
        console.print(f"{escape(file.name)}（{escape(place)}{where}）：" + counts,
                      highlight=False, soft_wrap=True)
    else:
        console.print(f"{escape(file.name)}：{counts}；读取了 {len(result.parts)} 个工作表或表格：",
                      highlight=False, soft_wrap=True)
        for part in result.parts:
            where = f"表头在第{part.header_row}行" if part.header_row else "续上一个表格"
            console.print(f"  {escape(part.place)}（{where}）：{part.tasks} 项任务", highlight=False,
                          soft_wrap=True)
    for warning in result.warnings:
        console.print(f"[yellow]注意[/]：{escape(warning)}", highlight=False, soft_wrap=True)
    for note in result.notes:
        console.print(escape(note), highlight=False, soft_wrap=True)
    for code, flag in flags:
        console.print(f"  {escape(code)} {escape(flag.phrase)}：{escape(flag.reason)}",
                      highlight=False, soft_wrap=True)
    # with --load, the file is written only once the catalog is loaded (a refused load
    # leaves no file behind); it is written whole or not at all (a temporary file renamed)
    if load:
        _load(catalog, replace, now)
    if output is not None or not load:
        target = output or Path(f"{catalog.plan.id}.catalog.json")
        try:
            _write_whole(target, dump_catalog(catalog))
        except OSError as exc:
            raise _fail([f"无法写入 {target}：{_os_reason(exc)}"]) from None
        console.print(f"已写入 {escape(str(target))}", highlight=False)


def _write_whole(target: Path, text: str) -> None:
    """`text` into `target` (UTF-8) whole or not at all: written beside it under a
    temporary name, then renamed over it. Raises OSError."""
    import os
    import tempfile

    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                     dir=target.parent if str(target.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _load(catalog: Any, replace: bool, now: str | None) -> None:
    from tracker.catalog.load import WithdrawalError
    from tracker.catalog.load import load_catalog as load_into
    from tracker.cli.load_report import refuse_withdrawal, show_load
    from tracker.db import transaction
    from tracker.errors import DomainError

    at = parse_now(now)
    try:
        with transaction(factory()) as session:
            result = load_into(session, catalog, at, replace=replace,
                               rules=current_settings().rules)
    except WithdrawalError as exc:
        raise refuse_withdrawal(exc) from None
    except (DomainError, ValueError) as exc:
        raise _fail([str(exc)]) from None
    show_load(result, catalog.plan.id)


def _os_reason(exc: OSError) -> str:
    """Why a file could not be read or written, in Chinese."""
    if isinstance(exc, FileNotFoundError):
        return "文件或文件夹不存在"
    if isinstance(exc, IsADirectoryError):
        return "这是一个文件夹，不是文件"
    if isinstance(exc, PermissionError):
        return "没有访问权限"
    return "系统无法访问该文件"


def _fail(problems: list[str], file: Path | None = None) -> typer.Exit:
    """Every problem, one per line, under one heading; exit code 2."""
    head = (f"{file.name} 有 {len(problems)} 处问题，未导入：" if file is not None and len(problems) > 1
            else f"{file.name}：" if file is not None else "")
    if len(problems) == 1:
        err.print(f"[bold red]错误[/]: {escape(head + problems[0])}", highlight=False,
                  soft_wrap=True)
    else:
        err.print(f"[bold red]错误[/]: {escape(head)}", highlight=False, soft_wrap=True)
        for line in problems:
            err.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)
