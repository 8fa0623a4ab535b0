"""Confirmation pages of the office's outward and destructive actions (issue 10, item 3):
立即催办 / 立即督办 / 立即通报, 免报, 办结销号 and 审核签发 act only on a second POST with
`confirm=1`. The first step (a GET, or a POST without `confirm`, which the action's route
sends here) shows what will happen and exactly what will be sent to whom: each notice's
recipient (name and address: office staff may see them), channel, kind in Chinese and
subject line, rendered by `tracker.desk.confirm.preview` from the action itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from notifications.render import NoticeConfig
from tracker.desk.confirm import Preview, preview
from tracker.desk.item_history import request_history
from tracker.enums import Level, level_label
from tracker.errors import NotFound
from tracker.escalation.circulars import circular_by_id, circular_view, sign_off
from tracker.escalation.office_actions import escalate_now, waive
from tracker.requests.close_out import close_out
from tracker.web.deps import (
    Context,
    Id,
    Now,
    OfficeViewer,
    PreviewSession,
    WebContext,
    staff_actor_name,
)
from tracker.web.pages import templates

router = APIRouter()
Text = Annotated[str, Query(max_length=2000)]


def _page(request: Request, viewer: Any, *, title: str, facts: list[tuple[str, str]],
          result: Preview, action: str, button: str, cancel: str, nobody: str,
          hidden: list[tuple[str, str]] | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "desk/confirm.html", {
        "desk": viewer, "title": title, "facts": facts, "preview": result, "action": action,
        "button": button, "cancel": cancel, "nobody": nobody, "hidden": hidden or []})


def _config(context: WebContext) -> NoticeConfig:
    return NoticeConfig.from_settings(context.settings)


def _item_facts(session: Any, request_id: int) -> tuple[Any, list[tuple[str, str]]]:
    h = request_history(session, request_id)
    if h is None:
        raise NotFound(f"没有编号为 {request_id} 的事项")
    subject = (f"{h.measure.code} {h.measure.title}" if h.measure
               else f"{h.indicator.code} {h.indicator.name}" if h.indicator else "")
    return h, [("事项", f"{h.period} · {subject}"), ("责任单位", h.agency),
               ("截止日期", h.request.due_on.isoformat()),
               ("当前督办级别", level_label(h.request.level))]


@router.get("/desk/requests/{request_id}/escalate", response_class=HTMLResponse)
def confirm_escalate(request: Request, request_id: Id, viewer: OfficeViewer,
                     session: PreviewSession, context: Context, now: Now) -> HTMLResponse:
    """立即催办 / 督办 / 通报: the next rung, and its notices."""
    h, facts = _item_facts(session, request_id)
    level = Level(min(h.request.level + 1, Level.CIRCULAR))
    policy = context.policy_in(session)
    actor = staff_actor_name(viewer.signed_in)
    result = preview(session, lambda s: escalate_now(s, request_id, actor=actor, now=now,
                                                     policy=policy),
                     now=now, policy=policy, config=_config(context))
    effect = {Level.REMINDER: "向该单位联络员发出催办通知。",
              Level.SUPERVISION_NOTICE: "向该单位分管领导发出督办通知，并抄送督查室。",
              Level.CIRCULAR: "将该事项列入当日通报稿（审核签发后才通知被通报单位），并告知督查室。"}
    if result.error is None:
        facts.append(("将执行", f"立即{level.label}：{effect[level]}"))
    title = f"确认立即{level.label}" if result.error is None else "无法升级督办"
    session.commit()
    return _page(request, viewer, title=title, facts=facts, result=result,
                 action=f"/desk/requests/{request_id}/escalate", button=f"确认{level.label}",
                 cancel=f"/desk/requests/{request_id}", hidden=[("level", str(level.value))],
                 nobody="该单位没有可通知的联系人：确认后仅记录升级，不发送通知。")


@router.get("/desk/requests/{request_id}/waive", response_class=HTMLResponse)
def confirm_waive(request: Request, request_id: Id, viewer: OfficeViewer, session: PreviewSession,
                  context: Context, now: Now, reason: Text = "") -> HTMLResponse:
    """免报 with the reason typed on the item page."""
    _h, facts = _item_facts(session, request_id)
    policy = context.policy_in(session)
    actor = staff_actor_name(viewer.signed_in)
    result = preview(session, lambda s: waive(s, request_id, reason=reason, actor=actor, now=now,
                                              policy=policy),
                     now=now, policy=policy, config=_config(context))
    facts += [("免报理由", reason.strip() or "（未填写）"),
              ("将执行", "该事项不再需要报送，督办停止；待审批的延期申请一并了结。")]
    session.commit()
    return _page(request, viewer, title="确认免报", facts=facts, result=result,
                 action=f"/desk/requests/{request_id}/waive", button="确认免报",
                 cancel=f"/desk/requests/{request_id}", hidden=[("reason", reason)],
                 nobody="该单位没有可通知的联系人：确认后仅记录免报，不发送通知。")


@router.get("/desk/measures/{measure_id}/close-out", response_class=HTMLResponse)
def confirm_close_out(request: Request, measure_id: Id, viewer: OfficeViewer,
                      session: PreviewSession, context: Context, now: Now,
                      request_id: Annotated[int, Query(ge=1, le=2**31 - 1)]) -> HTMLResponse:
    """办结销号 of a measure, from its lead's item page."""
    _h, facts = _item_facts(session, request_id)
    policy = context.policy_in(session)
    actor = staff_actor_name(viewer.signed_in)
    result = preview(session, lambda s: close_out(s, measure_id, signed_by=actor, now=now),
                     now=now, policy=policy, config=_config(context))
    facts.append(("将执行", "签批办结销号：该任务此后不再发出进展调度，所有责任单位均不再报送。"))
    session.commit()
    return _page(request, viewer, title="确认办结销号", facts=facts, result=result,
                 action=f"/desk/measures/{measure_id}/close-out", button="确认办结销号",
                 cancel=f"/desk/requests/{request_id}", hidden=[("request_id", str(request_id))],
                 nobody="办结销号不向任何单位发送通知。")


@router.get("/desk/circulars/{circular_id}/sign", response_class=HTMLResponse)
def confirm_sign(request: Request, circular_id: Id, viewer: OfficeViewer, session: PreviewSession,
                 context: Context, now: Now) -> HTMLResponse:
    """审核签发 of a draft circular: every agency named in it is told."""
    circular, plan_title = circular_by_id(session, circular_id)
    policy = context.policy_in(session)
    name = viewer.signed_in.user.display_name
    view = circular_view(session, circular_id, policy=policy, now=now)
    facts = [("通报", circular.title), ("规划", f"《{plan_title}》"),
             ("文号", f"{view.number}（签发时编定）"),
             ("所列事项", f"{view.counts.items} 项，涉及 {view.counts.agencies} 个单位"
                          "（已报送、已免报或不列入的事项不计）"),
             ("将执行", f"以“{name}”名义签发，并通知被通报单位的联络员和分管领导（附通报 Word 文件）。")]
    result = preview(session, lambda s: sign_off(s, circular_id, signed_by=name, now=now,
                                                 policy=policy,
                                                 templates_dir=context.settings.templates_dir),
                     now=now, policy=policy, config=_config(context))
    session.commit()
    return _page(request, viewer, title="确认审核签发", facts=facts, result=result,
                 action=f"/desk/circulars/{circular_id}/sign", button="确认签发",
                 cancel=f"/desk/circulars/{circular_id}", hidden=[("digest", view.digest)],
                 nobody="被通报单位没有可通知的联系人：确认后仅记录签发，不发送通知。")
