"""The supervision office's commands: extensions, review, accounts, the board and ledger."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tracker.cli.common import (
    app,
    board_filter,
    console,
    extension_app,
    factory,
    fail,
    outbox_app,
    parse_now,
    plan_or_fail,
    policy,
    review_app,
    user_app,
)


@extension_app.command("list")
def extension_list(all_: Annotated[bool, typer.Option("--all")] = False) -> None:
    """Pending extension requests (or all, with --all)."""
    from sqlalchemy import select

    from tracker.enums import ExtensionState
    from tracker.models import Agency, ExtensionRequest, ProgressRequest

    with factory()() as session:
        query = (select(ExtensionRequest, Agency.name, ProgressRequest.due_on)
                 .join(ProgressRequest, ProgressRequest.id == ExtensionRequest.request_id)
                 .join(Agency, Agency.id == ProgressRequest.agency_id)
                 .order_by(ExtensionRequest.id))
        if not all_:
            query = query.where(ExtensionRequest.state == ExtensionState.PENDING)
        table = Table("编号", "单位", "请求", "现截止日期", "申请至", "理由", "状态")
        for ext, agency, due_on in session.execute(query):
            table.add_row(str(ext.id), agency, str(ext.request_id), str(due_on),
                          str(ext.requested_due_on), ext.reason, ext.state.value)
    console.print(table)


@extension_app.command("decide")
def extension_decide(extension_id: int, decision: Annotated[str, typer.Argument(help="grant|refuse")],
                     note: str = "", by: str = "督查室",
                     now: Annotated[str | None, typer.Option()] = None) -> None:
    """Grant or refuse an extension; a grant moves the due day and the ladder."""
    from tracker.db import transaction
    from tracker.requests.extensions import ExtensionError, decide_extension

    if decision not in ("grant", "refuse"):
        raise fail("decision must be grant or refuse")
    with transaction(factory()) as session:
        try:
            ext = decide_extension(session, extension_id, grant=decision == "grant", note=note,
                                   decided_by=f"cli:{by}", now=parse_now(now), policy=policy(session))
        except ExtensionError as exc:
            raise fail(str(exc)) from exc
    console.print(f"extension {ext.id}: {ext.state.value}")


@review_app.command("accept")
def review_accept(report_id: int, comment: str = "", by: str = "督查室",
                  now: Annotated[str | None, typer.Option()] = None) -> None:
    """Accept a report version."""
    from tracker.db import transaction
    from tracker.requests.review import ReviewError, accept_report

    with transaction(factory()) as session:
        try:
            accept_report(session, report_id, reviewer=f"cli:{by}", comment=comment, now=parse_now(now))
        except ReviewError as exc:
            raise fail(str(exc)) from exc
    console.print(f"report {report_id}: accepted")


@review_app.command("return")
def review_return(report_id: int, comment: str, by: str = "督查室",
                  now: Annotated[str | None, typer.Option()] = None) -> None:
    """Return a report with a comment; the request reopens and the liaison is told."""
    from tracker.db import transaction
    from tracker.requests.review import ReviewError, return_report

    with transaction(factory()) as session:
        try:
            return_report(session, report_id, reviewer=f"cli:{by}", comment=comment,
                          now=parse_now(now), policy=policy(session))
        except ReviewError as exc:
            raise fail(str(exc)) from exc
    console.print(f"report {report_id}: returned")


@review_app.command("close-out")
def review_close_out(measure: str, by: str = "督查室",
                     plan: Annotated[str | None, typer.Option(help="plan id (when several)")] = None,
                     now: Annotated[str | None, typer.Option()] = None) -> None:
    """办结销号: close a measure whose lead reported it completed, with evidence."""
    from sqlalchemy import select

    from tracker.db import transaction
    from tracker.models import Measure
    from tracker.requests.close_out import close_out
    from tracker.requests.review import ReviewError

    with transaction(factory()) as session:
        chosen = plan_or_fail(session, plan)
        measure_id = session.scalar(select(Measure.id).where(Measure.plan_id == chosen.id,
                                                             Measure.code == measure))
        if measure_id is None:
            raise fail(f"unknown measure {measure}")
        try:
            close_out(session, measure_id, signed_by=f"cli:{by}", now=parse_now(now))
        except ReviewError as exc:
            raise fail(str(exc)) from exc
    console.print(f"{measure}: closed out")


@user_app.command("add")
def user_add(username: str, display_name: str,
             role: Annotated[str, typer.Option(help="office | performance | admin")],
             password: Annotated[str | None, typer.Option(
                 help="default: asked for twice; or TRACKER_NEW_PASSWORD")] = None) -> None:
    """Add a staff account (the first administrator, then the offices' users)."""
    from tracker.db import transaction
    from tracker.directory.staff import create_user
    from tracker.enums import StaffRole

    try:
        staff_role = StaffRole(role)
    except ValueError as exc:
        raise fail("role must be office, performance or admin") from exc
    secret = password or os.environ.get("TRACKER_NEW_PASSWORD") or typer.prompt(
        "密码（至少 10 位）", hide_input=True, confirmation_prompt="再次输入密码")
    with transaction(factory()) as session:
        try:
            create_user(session, username=username, display_name=display_name, role=staff_role,
                        password=secret, now=parse_now(None))
        except ValueError as exc:
            raise fail(str(exc)) from exc
    console.print(f"已添加账户 {username}（{staff_role.label}）")


AGENCY_HELP = "agency, by its directory name or alias"
PERIOD_HELP = "reporting period, as stored (2017Q3) or as printed (2017年第三季度)"
NOW_HELP = "the day to count from, ISO (2017-10-20T18:00, Asia/Shanghai); default: now"


@app.command("overdue")
def overdue(agency: Annotated[str | None, typer.Option(help=AGENCY_HELP)] = None,
            period: Annotated[str | None, typer.Option(help=PERIOD_HELP)] = None,
            level: Annotated[str | None, typer.Option(
                    help="at least this rung: 催办 | 督办 | 通报 (or 1 | 2 | 3)")] = None,
            plan: Annotated[str | None, typer.Option(help="plan id (default: every plan)")] = None,
            light: Annotated[str, typer.Option(help="red | yellow | green | grey | all")] = "red",
            now: Annotated[str | None, typer.Option(help=NOW_HELP)] = None,
            limit: int = 100) -> None:
    """The overdue board in the terminal (default: red items, most overdue first)."""
    from tracker.dates.chinese import cn_period
    from tracker.dates.workdays import local_date
    from tracker.desk.board import board
    from tracker.enums import level_label
    from tracker.requests.rules import light_label

    with factory()() as session:
        chosen = plan_or_fail(session, plan) if plan else None
        f = board_filter(agency, period, level, None if light == "all" else light, session, chosen)
        result = board(session, f, local_date(parse_now(now)), policy(session))
    table = Table(title=f"共 {result.total} 项")
    for name in ("灯", "报送期", "编号", "任务或指标", "责任单位", "截止日期", "逾期工作日", "级别"):
        table.add_column(name, overflow="fold")
    for r in result.rows[:limit]:
        table.add_row(light_label(r["light"], r["state"]), cn_period(r["period"]), r["code"] or "",
                      r["title"] or "",
                      r["agency"], r["due_on"].isoformat(), str(r["days_overdue"] or ""),
                      level_label(r["level"]))
    console.print(table)
    if result.total > limit:
        console.print(f"（仅显示前 {limit} 项；导出全部请用 tracker ledger）")


@app.command("ledger")
def ledger_cmd(output: Annotated[Path, typer.Option("-o", "--output")] = Path("督查台账.xlsx"),
               agency: Annotated[str | None, typer.Option(help=AGENCY_HELP)] = None,
               period: Annotated[str | None, typer.Option(help=PERIOD_HELP)] = None,
               level: Annotated[str | None, typer.Option(
                   help="at least this rung: 催办 | 督办 | 通报 (or 1 | 2 | 3)")] = None,
               plan: Annotated[str | None, typer.Option(help="plan id (default: every plan)")] = None,
               light: Annotated[str, typer.Option(help="red | yellow | green | grey | all")] = "all",
               now: Annotated[str | None, typer.Option(help=NOW_HELP)] = None) -> None:
    """Export the ledger (台账) as Excel: one row per request, as filtered."""
    from tracker.dates.workdays import local_date
    from tracker.desk.ledger import ledger_count, ledger_title
    from tracker.desk.ledger_book import ledger_workbook

    at = parse_now(now)
    with factory()() as session:
        chosen = plan_or_fail(session, plan) if plan else None
        f = board_filter(agency, period, level, None if light == "all" else light, session, chosen)
        title = ledger_title(session, f, local_date(at))
        rows, _plans = ledger_count(session, f, local_date(at), policy(session))
        data = ledger_workbook(session, f, local_date(at), policy(session), title)
    output.write_bytes(data)
    console.print(f"{output}: {rows} 行", highlight=False)


@outbox_app.callback()
def outbox_show(ctx: typer.Context) -> None:
    """Notices by state (待发送 / 发送中 / 已发送 / 发送失败 / 已撤销), and the sent ones
    archived after the retention period (已发送并归档)."""
    if ctx.invoked_subcommand is not None:
        return
    from tracker.enums import OutboxStatus
    from tracker.outbox import archived_count, outbox_counts

    with factory()() as session:
        counts = outbox_counts(session)
        archived = archived_count(session)
    table = Table("状态", "条数")
    for status in OutboxStatus:
        table.add_row(status.label, str(counts.get(status.value, 0)))
    # sent notices past TRACKER_OUTBOX_RETENTION_DAYS, kept as delivery receipts
    table.add_row("已发送并归档", str(archived))
    console.print(table)


@outbox_app.command("show")
def outbox_one(message_id: Annotated[int, typer.Argument(help="the message's number")]) -> None:
    """One notice: recipient, state, reason of its last failure, and every attempt."""
    from tracker.dates.workdays import SHANGHAI
    from tracker.enums import ChannelKind, MessageKind, OutboxStatus
    from tracker.outbox import dead_letters, outbox_message

    def when(t):  # type: ignore[no-untyped-def]
        return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if t else "—"

    with factory()() as session:
        found = outbox_message(session, message_id)
        if found is None:
            raise fail(f"没有编号为 {message_id} 的通知")
        msg, attempts = found
        about = dead_letters(session, limit=1, message_id=message_id, any_status=True)[0]
        status = OutboxStatus(msg.status)
        lines = [
            f"通知编号：{msg.id}",
            f"类别：{about.kind or MessageKind(msg.kind).label}{'（抄送）' if msg.is_copy else ''}",
            f"收件人：{msg.recipient_name} <{msg.address}>（{ChannelKind(msg.channel).label}）",
            f"规划：{'《' + about.plan + '》' if about.plan else '—'}",
            f"单位：{about.agency or '—'}",
            f"事项：{about.item or '—'}",
            f"状态：{status.label}",
            f"已尝试：{msg.attempts} 次",
            f"生成时间：{when(msg.created_at)}",
        ]
        if status == OutboxStatus.PENDING:
            lines.append(f"下次发送：{when(msg.next_attempt_at)}")
        if status == OutboxStatus.SENT:
            lines.append(f"发送时间：{when(msg.sent_at)}")
        if msg.last_error:
            lines.append(f"原因：{msg.last_error}")
        tried = []
        for a in attempts:
            result = "成功" if a.ok else ("失败（不再重试）" if a.permanent else "失败（将重试）")
            line = f"  {when(a.attempted_at)}　{result}"
            if a.digest_id:
                line += f"　Message-ID <{a.digest_id}@plan-tracker>"
            tried.append(line + (f"\n    {a.error}" if a.error else ""))
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print("投递记录：" if tried else "尚无投递记录", highlight=False)
    for line in tried:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if status == OutboxStatus.FAILED:
        console.print(f"排除原因后可执行 tracker outbox retry {msg.id} 重新排队", highlight=False,
                      markup=False)


@outbox_app.command("retry")
def outbox_retry(message_id: Annotated[int | None, typer.Argument(
                     help="one message; default: all failed")] = None,
                 now: Annotated[str | None, typer.Option()] = None) -> None:
    """Put failed notices back in the queue (after fixing the mail setup or an address)."""
    from tracker.db import transaction
    from tracker.outbox import requeue_failed

    with transaction(factory()) as session:
        n = requeue_failed(session, parse_now(now), message_id)
    if message_id is not None and not n:
        from tracker.models import OutboxMessage

        with factory()() as session:
            exists = session.get(OutboxMessage, message_id) is not None
        raise fail(f"编号为 {message_id} 的通知不是“发送失败”状态" if exists
                   else f"没有编号为 {message_id} 的通知")
    console.print(f"已重新排队 {n} 条通知，下次投递时发送", highlight=False)


@outbox_app.command("failed")
def outbox_failed(limit: Annotated[int, typer.Option(help="at most this many")] = 50) -> None:
    """Notices that failed for good (dead letters), the most recent first, with the reason."""
    from tracker.dates.workdays import SHANGHAI
    from tracker.outbox import dead_letter_count, dead_letters

    with factory()() as session:
        total = dead_letter_count(session)
        rows = dead_letters(session, limit=max(limit, 1))
    if not rows:
        console.print("目前没有发送失败的通知。")
        return
    table = Table("编号", "收件人", "类别", "事项", "失败原因", "次数", "最近一次尝试",
                  title=f"发送失败的通知（共 {total} 条，显示 {len(rows)} 条）", title_justify="left")
    for r in rows:
        table.add_row(str(r.id), f"{r.recipient} <{r.address}>",
                      r.kind + ("（抄送）" if r.is_copy else ""), r.item or "—", r.reason,
                      str(r.attempts), r.last_attempt_at.astimezone(SHANGHAI).strftime(
                          "%Y-%m-%d %H:%M") if r.last_attempt_at else "—")
    console.print(table)
    console.print("排除原因后，用 tracker outbox retry [编号] 重新放入发送队列。", highlight=False)
