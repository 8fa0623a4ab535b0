"""`tracker doctor`: what is in effect and what is wrong, one finding per line (issue 9).

A finding is (level, topic, message): level "info" (what is in effect), "ok", "warn"
(works, but not as an office would want it) or "error" (something will not work: the
command exits 1). Each check runs on its own: one that raises becomes an "error" finding
naming its topic, and the others still run.

The wings that own a rule own its check: a module may expose
`doctor_checks(settings, now) -> list[tuple[level, message]]`, listed in `PROVIDERS`
with its topic; this module only collects them.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from tracker.settings import Settings

Level = Literal["info", "ok", "warn", "error"]
log = logging.getLogger(__name__)

# (topic, "module:function") of the checks the other wings own; imported lazily so a
# missing optional part (e.g. Prefect deployments not in use) does not stop the report.
PROVIDERS: tuple[tuple[str, str], ...] = (
    ("日历", "tracker.dates.stored:doctor_checks"),
    ("调度", "flows.leader:doctor_checks"),
    ("Prefect", "flows.local_api:doctor_checks"),
    ("Prefect", "flows.deploy:doctor_checks"),
)


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str
    message: str


def smtp_warnings(settings: Settings) -> list[str]:
    """What looks wrong in a production mail setup (issue 8: doctor warns): a port that
    does not match the TLS setting, a login without a password, notices only written to
    files, the example sender, and links that point at this machine only."""
    out = []
    port, security = settings.smtp_port, settings.smtp_security
    if port == 465 and security != "ssl":
        out.append("端口 465 一般为 SSL 加密连接，请设置 TRACKER_SMTP_SECURITY=ssl")
    if security == "ssl" and port in (25, 587):
        out.append(f"端口 {port} 一般不使用 SSL 直连，请改用 TRACKER_SMTP_SECURITY=starttls 或端口 465")
    if settings.smtp_user and settings.smtp_password is None:
        out.append("已设置 TRACKER_SMTP_USER，但未设置 TRACKER_SMTP_PASSWORD")
    if settings.channel.value == "file":
        out.append("TRACKER_CHANNEL=file：联系人的通知只写入文件，不发送邮件")
    if settings.smtp_from == Settings.model_fields["smtp_from"].default:
        out.append("TRACKER_SMTP_FROM 仍是示例地址，请设置本单位的发件邮箱")
    host = settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if host in ("127.0.0.1", "localhost", "::1", "[::1]"):
        out.append(f"TRACKER_BASE_URL 为 {settings.base_url}：通知中的填报链接只能在本机打开，"
                   "请设置为联络员可访问的网址")
    return out


def database_findings(settings: Settings, engine: Engine) -> list[Finding]:
    """Reachable, migrated to the newest revision, and what it holds. Never migrates."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from tracker.db import alembic_config

    topic = "数据库"
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # noqa: BLE001  (any driver error is "unreachable")
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
        return [Finding("error", topic, f"无法连接 {shown}：{reason}")]
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    head = scripts.get_current_head()
    out = [Finding("info", topic, f"数据库：{shown}")]
    if current is not None and current not in {r.revision for r in scripts.walk_revisions()}:
        from tracker.db import schema_too_new

        out.append(Finding("error", topic, schema_too_new(engine)))
        return out
    if current is None:
        out.append(Finding("warn", topic, "数据库为空，尚未建表：首次运行任一 tracker 命令"
                                          "（如 tracker catalog load）时自动建立"))
        return out
    if current != head:
        out.append(Finding("error", topic, f"数据库结构版本 {current}，程序要求 {head}：请运行 "
                                           "tracker db upgrade（升级前先 tracker backup）"))
        return out
    out.append(Finding("ok", topic, f"已连接，结构为最新版本（{head}）"))
    from tracker.models import Plan, ProgressRequest

    with engine.connect() as conn:
        plans = conn.execute(select(func.count()).select_from(Plan)).scalar_one()
        requests = conn.execute(select(func.count()).select_from(ProgressRequest)).scalar_one()
    if plans == 0:
        out.append(Finding("warn", topic, "尚未载入规划：请运行 tracker catalog load"))
        return out
    out.append(Finding("info", topic, f"数据库：已载入规划 {plans} 个，已发出进展调度 {requests} 项"))
    out += contact_findings(engine)
    return out


def contact_findings(engine: Engine) -> list[Finding]:
    """Agencies with active assignments but no active liaison: their progress requests are
    opened and never told to anyone (one query)."""
    from sqlalchemy import exists

    from tracker.enums import ContactRole
    from tracker.models import Agency, Assignment, Contact

    has_work = exists().where(Assignment.agency_id == Agency.id, Assignment.active.is_(True))
    has_liaison = exists().where(Contact.agency_id == Agency.id, Contact.active.is_(True),
                                 Contact.role == ContactRole.LIAISON)
    with engine.connect() as conn:
        names = conn.execute(select(Agency.name).where(has_work, ~has_liaison)
                             .order_by(Agency.name)).scalars().all()
    if not names:
        return [Finding("ok", "联系人", "承担任务的单位均有在用的联络员")]
    shown = "、".join(names[:5]) + (f" 等 {len(names)} 个单位" if len(names) > 5 else "")
    return [Finding("warn", "联系人", f"{shown}没有在用的联络员：其进展调度和催办无人接收；"
                                     "请用 tracker liaison add 添加")]


def environment_findings(settings: Settings) -> list[Finding]:
    """The environment and the notice channels in effect, with the mail setup's warnings."""
    topic = "通知渠道"
    out = [Finding("info", "运行环境", f"运行环境（TRACKER_ENV）：{settings.env}")]
    if settings.env != "production":
        out.append(Finding("info", topic, f"通知渠道：全部写入文件 {settings.outbox_dir}（不实际发送）"))
        out.append(Finding("warn", topic, "TRACKER_ENV 不是 production：邮件和群机器人消息只写入文件，"
                                          "不会发给任何人；正式使用请设置 TRACKER_ENV=production"))
        return out
    security = {"none": "不加密", "starttls": "STARTTLS", "ssl": "SSL"}[settings.smtp_security]
    login = f"，登录用户 {settings.smtp_user}" if settings.smtp_user else "，不登录"
    channel = "邮件" if settings.channel.value == "email" else f"文件（{settings.outbox_dir}）"
    out.append(Finding("info", topic, f"联系人通知渠道：{channel}"))
    out.append(Finding("info", topic, f"邮件服务器：{settings.smtp_host}:{settings.smtp_port}"
                                      f"（{security}{login}）"))
    out.append(Finding("info", topic, f"发件地址：{settings.smtp_from}　链接地址：{settings.base_url}"))
    out += [Finding("warn", topic, w) for w in smtp_warnings(settings)]
    return out


def smtp_reachable(settings: Settings) -> list[Finding]:
    """Connect to the mail server as the dispatcher would (the email channel's own TLS and
    login: `EmailChannel.check`), send nothing. Only in production with the email channel:
    elsewhere nothing is mailed."""
    if settings.env != "production" or settings.channel.value != "email":
        return []
    from flows.runtime import channels_for
    from notifications.channels import DeliveryError
    from tracker.enums import ChannelKind

    topic, where = "通知渠道", f"{settings.smtp_host}:{settings.smtp_port}"
    channel = channels_for(settings, announce=False)[ChannelKind.EMAIL]
    try:
        channel.check()  # type: ignore[attr-defined]
    except DeliveryError as exc:
        return [Finding("error", topic, f"邮件服务器 {where}：{exc}")]
    return [Finding("ok", topic, f"邮件服务器 {where} 可连接" + ("并已登录" if settings.smtp_user else ""))]


def bot_findings(settings: Settings, engine: Engine) -> list[Finding]:
    """Group bots by kind, and whether TRACKER_CHANNEL_KEY opens their credentials."""
    from sqlalchemy.orm import Session

    from tracker.directory.bots import BotError, load_endpoints
    from tracker.models import ChatEndpoint

    topic = "通知渠道"
    with Session(engine) as session:
        bots = dict(session.execute(select(ChatEndpoint.kind, func.count())
                                    .where(ChatEndpoint.active.is_(True))
                                    .group_by(ChatEndpoint.kind)).all())
        problem = None
        if bots:
            try:
                load_endpoints(session, settings.channel_key)
            except BotError as exc:
                problem = str(exc)
    out = [Finding("info", topic, f"群机器人：{kind.label} {n} 个") for kind, n in sorted(bots.items())]
    if not bots:
        out.append(Finding("info", topic, "群机器人：未添加"))
    if problem:
        out.append(Finding("warn", topic, problem))
    if settings.env == "production":
        out += _vendor_reachable(settings, set(bots))
    return out


def _vendor_reachable(settings: Settings, kinds: set) -> list[Finding]:  # type: ignore[type-arg]
    """Whether each vendor's bot API host answers HTTP at all (any status counts: the host
    is reachable from here), for the kinds that have active bots. Webhooks have one
    address each and are checked by `tracker bot test`."""
    import httpx

    from tracker.enums import ChannelKind

    bases = {ChannelKind.WECOM: settings.wecom_base_url, ChannelKind.DINGTALK: settings.dingtalk_base_url,
             ChannelKind.FEISHU: settings.feishu_base_url}
    out = []
    for kind in sorted(k for k in kinds if k in bases):
        url = bases[kind]
        try:
            httpx.get(url, timeout=settings.chat_timeout)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            out.append(Finding("error", "通知渠道", f"无法连接{kind.label}接口 {url}：{reason}"
                                                  "（请检查本机能否访问外网或代理设置）"))
        else:
            out.append(Finding("ok", "通知渠道", f"{kind.label}接口 {url} 可连接"))
    return out


def provider_findings(settings: Settings, now: dt.datetime,
                      providers: Iterable[tuple[str, str]] = PROVIDERS) -> list[Finding]:
    """The checks of the other wings (calendar, scheduler, Prefect), each isolated."""
    out: list[Finding] = []
    for topic, target in providers:
        module, _, name = target.partition(":")
        try:
            check: Callable[[Settings, dt.datetime], list[tuple[str, str]]] = getattr(
                importlib.import_module(module), name)
            out += [Finding(level, topic, message) for level, message in check(settings, now)]  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001  (one broken check must not hide the others)
            log.debug("doctor check %s failed", target, exc_info=True)
            out.append(Finding("error", topic, f"检查未能完成：{exc or type(exc).__name__}"))
    return out


def run_checks(settings: Settings, now: dt.datetime, engine: Engine | None = None) -> list[Finding]:
    """Every finding, in report order: environment, database, channels, the wings' checks.

    `now` is aware (Asia/Shanghai wall time matters for the calendar's 1 November rule).
    `engine` defaults to one on settings.database_url, disposed at the end.
    """
    from tracker.db import make_engine

    own = engine is None
    engine = engine or make_engine(settings.database_url)
    try:
        out = environment_findings(settings)
        db = database_findings(settings, engine)
        out += db
        if not any(f.level == "error" for f in db) and _has_tables(engine):
            out += bot_findings(settings, engine)
        out += smtp_reachable(settings)
        out += provider_findings(settings, now)
        return out
    finally:
        if own:
            engine.dispose()


def _has_tables(engine: Engine) -> bool:
    with engine.connect() as conn:
        try:
            conn.execute(text("SELECT 1 FROM chat_endpoint WHERE 1 = 0"))
        except Exception:  # noqa: BLE001
            return False
    return True
