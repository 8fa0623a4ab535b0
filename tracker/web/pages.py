"""What every page shares: the Jinja2 environment, its filters, and the error page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tracker import enums
from tracker.dates.chinese import cn_date, cn_period
from tracker.desk.actors import staff_label
from tracker.errors import DomainError
from tracker.numbers import number_text, percent_text
from tracker.requests.answer_form import PEERS_PER_PAGE
from tracker.requests.rules import light_label

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# The enums carry their labels; templates use them as `ProgressStatus(v).label` and so on.
templates.env.globals.update(
    ProgressStatus=enums.ProgressStatus, Level=enums.Level, Role=enums.Role, Light=enums.Light,
    RequestState=enums.RequestState, ReviewState=enums.ReviewState, MessageKind=enums.MessageKind,
    ExtensionState=enums.ExtensionState, OutboxStatus=enums.OutboxStatus,
    StaffRole=enums.StaffRole, CircularState=enums.CircularState, role_label=enums.role_label,
    level_label=enums.level_label, light_label=light_label)


def _filesize(size: int) -> str:
    return f"{size} 字节" if size < 1024 else (
        f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB")


templates.env.filters["filesize"] = _filesize
# a period's code (2017Q1, 2017) as people read it (2017年第一季度, 2017年度)
templates.env.filters["cn_period"] = cn_period
# the one rounding rule for percentages people read (tracker.numbers: half up, 1 decimal)
templates.env.filters["pct"] = percent_text
templates.env.filters["num"] = number_text
templates.env.globals["cn_date"] = cn_date  # 2017年9月20日
templates.env.globals["MeetingState"] = enums.MeetingState
templates.env.globals["PEERS_PER_PAGE"] = PEERS_PER_PAGE  # a lead's item page: peers per page
templates.env.globals["staff_label"] = staff_label  # a person once: 督查室张科长, not …（督查室）

ACTION_LABELS = {
    "report.submit.web": "网页报送", "report.submit.excel": "Excel 报送", "report.submit.cli": "命令行报送",
    "report.submit.demo": "演示报送", "report.draft": "保存草稿", "report.accept": "审核通过",
    "report.return": "退回修改", "evidence.upload": "上传佐证材料", "extension.ask": "申请延期",
    "extension.decide": "审批延期", "request.waive": "免报", "note.add": "添加备注",
    "ladder.escalate_now": "手动督办", "excel.upload": "上传 Excel", "meeting.record": "记录常务会议",
    "meeting.submit": "报送常务会议", "meeting.correct": "修改常务会议记录",
    "meeting.confirm": "确认常务会议", "meeting.return": "退回常务会议",
    "meeting.office_correct": "督查室更正常务会议记录",
    "measure.close_out": "办结销号", "circular.sign_off": "签发通报", "outbox_requeue": "重新发送通知",
    "ladder.fire": "逾期督办",
}


def _actor_label(actor: str) -> str:
    """An actor by kind when its name is not at hand (pages that can name people use
    `tracker.desk.actors.actor_names`): never an internal id or a link's signature."""
    kind, _, rest = actor.partition(":")
    if kind == "liaison":
        return "联络员"
    if kind == "user":
        return "工作人员"
    if kind == "system":
        return f"系统（{rest}）"
    return {"cli": "命令行", "t": "测试"}.get(actor, actor)


def _delivery_error(error: str | None) -> str:
    """A delivery attempt's error as stored: channels write it in Chinese at the source
    (notifications.channels), so the page shows it as it is, never guessing from its words."""
    return (error or "投递失败")[:300]


templates.env.filters["action_label"] = lambda a: ACTION_LABELS.get(a, a)
templates.env.filters["actor_label"] = _actor_label
templates.env.filters["delivery_error"] = _delivery_error

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Links carry the liaison's token: never leak it to another site.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
}


MAX_BODY = 25 * 1024 * 1024  # the largest upload (20 MB evidence) plus the form around it
ERROR_TEXT = {
    "too-large": ("文件过大", "上传的内容超过 25 MB 上限，未被接收。"),
    "throttled": ("尝试过于频繁", "从您的网络登录失败次数过多，请 15 分钟后再试。"),
    "waived": ("已免报", "该事项已由督查室同意免报，无需报送。"),
    "server": ("出错了", "服务器处理时出现错误，您的提交未被保存。请稍后重试；如仍有问题请联系督查室。"),
    "bad-request": ("提交有误", "提交的内容过大或格式有误，请检查后重试。"),
    "method": ("不支持的操作", "请通过页面上的按钮和链接操作。"),
    "forged": ("链接无效", "此链接无效或已被篡改。请使用督查室通知邮件中的链接。"),
    "expired": ("链接已过期", "此链接已超过有效期。系统会在下一次调度通知中发送新的链接，"
                            "如需立即填报请联系督查室。"),
    "revoked": ("链接已停用", "此链接已被停用（联络员变更或链接被收回）。请联系督查室获取新链接。"),
    "other-agency": ("无权访问", "该事项不属于此链接对应的单位。"),
    "role": ("无权操作", "您的账户角色不能执行此操作。"),
    "csrf": ("表单已失效", "该表单已提交过或已过期，请返回页面刷新后重试。"),
    "stale": ("请重新登录", "登录已超时，请重新登录。"),
    "not-found": ("未找到", "没有找到您要访问的页面。"),
}


def error_page(request: Request, status: int, reason: str, message: str | None = None
               ) -> HTMLResponse:
    """A clear page in Chinese: `reason` is one of ERROR_TEXT's keys (a framework reason
    such as "Method Not Allowed" is replaced by ours); `message`, if given, is a service's
    own Chinese refusal (tracker.errors.DomainError) and is shown instead of the text."""
    if message is not None:
        title = ERROR_TEXT.get(reason, ("无法办理", ""))[0]
        return _render_error(request, status, title, message, reason)
    if reason not in ERROR_TEXT:
        # framework reasons are English ("Method Not Allowed"): show ours instead
        reason = {400: "bad-request", 404: "not-found", 405: "method", 413: "bad-request",
                  422: "bad-request"}.get(status, "server")
    title, text = ERROR_TEXT[reason]
    return _render_error(request, status, title, text, reason)


def refusal_page(request: Request, exc: DomainError) -> HTMLResponse:
    """A service's refusal as a page with its status. A `code` that names one of the pages
    above (a forged, expired or revoked link, another agency's item, a waived request, not
    found) shows that page's words, written for someone who came by a link or a bookmark;
    any other refusal shows the service's own message."""
    if exc.code in ERROR_TEXT:
        return error_page(request, exc.status, exc.code)
    return error_page(request, exc.status, exc.code, message=exc.message)


LINK_REFUSALS = ("forged", "expired", "revoked")  # the link itself does not open


def _back_link(request: Request, reason: str) -> tuple[str, str]:
    """Where the error page leads: within a liaison's link whose list opens, back to that
    list (the liaison has no other way back to it); else the site's home."""
    parts = request.url.path.split("/")
    if len(parts) > 3 and parts[1] == "l" and parts[2] and reason not in LINK_REFUSALS:
        return f"/l/{quote(parts[2])}", "返回事项列表"
    return "/", "返回首页"


def _render_error(request: Request, status: int, title: str, text: str,
                  reason: str = "") -> HTMLResponse:
    back, back_text = _back_link(request, reason)
    response = templates.TemplateResponse(request, "error.html", {
        "title": title, "text": text, "back": back, "back_text": back_text},
        status_code=status)
    response.headers.update(SECURITY_HEADERS)  # error responses may bypass the middleware
    response.headers["Cache-Control"] = "no-store"
    return response
