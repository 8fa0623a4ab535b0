"""Group bots of agencies (`tracker bot …`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from tracker.cli.common import agency_or_fail, app, console, current_settings, factory, fail, parse_now

bot_app = typer.Typer(help="Group bots (群机器人) of agencies: WeCom, DingTalk, Feishu, webhook.",
                      no_args_is_help=True)
app.add_typer(bot_app, name="bot")


@bot_app.command("keygen")
def bot_keygen() -> None:
    """Print a new TRACKER_CHANNEL_KEY (encrypts bot tokens and secrets)."""
    from tracker.directory.bots import new_key

    console.print(f"TRACKER_CHANNEL_KEY={new_key()}", highlight=False, soft_wrap=True)
    console.print("请将上面一行写入 .env 文件或环境变量并妥善保管；更换密钥后须重新添加群机器人。")


@bot_app.command("add")
def bot_add(
    agency: Annotated[str, typer.Option(help="agency name (or alias)")],
    kind: Annotated[str, typer.Option(help="wecom | dingtalk | feishu | webhook")],
    token: Annotated[str, typer.Option(
        prompt="令牌（webhook 的 key / access_token / hook id，或完整地址）", hide_input=True,
        help="the webhook key / access_token / hook id, or its URL (asked if not given, "
             "so it stays out of the shell history)")],
    secret: Annotated[str | None, typer.Option(
        help="signing secret (DingTalk 加签, Feishu 签名校验)")] = None,
    name: Annotated[str, typer.Option(help="a name for the group")] = "",
    government: Annotated[str | None, typer.Option(help="the agency's government")] = None,
    now: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a group bot to an agency; its notices are posted there too."""
    from tracker.db import transaction
    from tracker.directory.bots import BotError, add_bot
    from tracker.enums import BOT_KINDS, ChannelKind

    if kind not in {k.value for k in BOT_KINDS}:
        raise fail(f"--kind 的值“{kind}”无效：应为 wecom、dingtalk、feishu 或 webhook")
    with transaction(factory()) as session:
        agency_id = agency_or_fail(session, agency, government)
        try:
            bot = add_bot(session, agency_id=agency_id, kind=ChannelKind(kind), name=name or agency,
                          token=token, secret=secret, key=current_settings().channel_key,
                          now=parse_now(now))
        except BotError as exc:
            raise fail(str(exc)) from exc
        bot_id, label = bot.id, bot.kind.label
    console.print(f"已为{agency}添加{label}（编号 {bot_id}）；可用 tracker bot test {bot_id} 发送测试消息。")


@bot_app.command("list")
def bot_list() -> None:
    """Bots by agency (tokens and secrets are never shown)."""
    from tracker.directory.bots import list_bots

    with factory()() as session:
        rows = list_bots(session)
        table = Table("编号", "单位", "类型", "名称", "签名", "状态")
        for bot, agency in rows:
            table.add_row(str(bot.id), agency, bot.kind.label, bot.name,
                          "已设置" if bot.secret_encrypted else "无", "启用" if bot.active else "已移除")
    console.print(table if rows else "尚未添加群机器人。")


@bot_app.command("remove")
def bot_remove(bot_id: int) -> None:
    """Stop posting to a bot at once; its waiting messages are dropped."""
    from tracker.db import transaction
    from tracker.directory.bots import remove_bot
    from tracker.errors import DomainError

    with transaction(factory()) as session:
        try:
            dropped = remove_bot(session, bot_id)
        except DomainError as exc:
            raise fail(str(exc)) from exc
    console.print(f"已移除群机器人 {bot_id}；撤销待发消息 {dropped} 条。")


@bot_app.command("test")
def bot_test(bot_id: int, now: Annotated[str | None, typer.Option()] = None) -> None:
    """Send a test message to a bot now (outside production: to the outbox folder)."""
    from flows.runtime import channels_for, redirect_notice
    from notifications.channels import DeliveryError, Digest
    from tracker.directory.bots import BotError, address_of, load_endpoint
    from tracker.errors import DomainError

    settings = current_settings()
    at = parse_now(now)
    with factory()() as session:
        try:
            bot = load_endpoint(session, bot_id, settings.channel_key)
        except (BotError, DomainError) as exc:
            raise fail(str(exc)) from exc
    if not bot.active:
        raise fail(f"群机器人 {bot_id} 已移除")
    digest = Digest(digest_id=f"test-{bot_id}-{int(at.timestamp())}", address=address_of(bot_id),
                    recipient_name=bot.name, date=at,
                    subject="【测试】规划纲要督查督办系统群机器人测试消息",
                    body=f"这是一条测试消息：{bot.agency}的通知将发送至本群。\n发送时间："
                         f"{at.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y年%m月%d日 %H:%M}\n")
    if settings.env != "production":
        console.print(redirect_notice(settings), soft_wrap=True, highlight=False)
    try:
        channels_for(settings, announce=False)[bot.kind].send(digest)
    except DeliveryError as exc:
        raise fail(f"测试消息未送达：{exc}", code=1) from exc
    console.print(f"测试消息已发送至{bot.kind.label}“{bot.name}”。" if settings.env == "production"
                  else f"测试消息已写入文件（未发送至{bot.kind.label}“{bot.name}”）。")
