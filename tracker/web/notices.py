"""The one-line notices the desk's pages show after an action (`?m=KEY`).

An action that queues a message says it was sent to whom; under `tracker serve --as-of`
(`WebContext.browsing`) no job runs, so the same action says the notice was made but will
not be sent (issue 10, office item 3).
"""

from __future__ import annotations

import re

from tracker.web.deps import WebContext

NOTICES = {"escalated-1": "已催办，已通知联络员。", "escalated-2": "已督办，已通知分管领导并抄送督查室。",
           "escalated-3": "已列入通报稿，待签发后通知相关单位。",
           "escalated-nobody": "已升级，但该单位没有可通知的联系人，请先添加联络员。",
           "waived": "已免报。", "noted": "备注已添加。", "baseline": "基期值已记录。",
           "accepted": "已审核通过。",
           "returned": "已退回，已通知联络员。",
           "decided": "延期申请已处理，已通知联络员。", "signed": "通报已签发，已通知相关单位。",
           "meeting": "常务会议已记录。",
           "meeting-dup": "该政府当天的常务会议已记录过，未重复记录。",
           "closed": "已办结销号，该任务不再调度。",
           "meeting-confirmed": "会议记录已确认，计入当年落实情况。",
           "meeting-returned": "会议记录已退回，已通知联络员。",
           "meeting-corrected": "会议记录已更正。",
           "doc_saved": "修改已保存；下载的 Word 文件与本页内容一致。",
           "notice_issued": "督办通知单已印发，文号已编定，Word 文件已存档。"}
QUEUED = "已生成通知（浏览模式不发送）。"
# the same actions in browsing mode: the message is in the outbox, and stays there
BROWSING = {"escalated-1": "已催办；" + QUEUED, "escalated-2": "已督办；" + QUEUED,
            "returned": "已退回；" + QUEUED, "decided": "延期申请已处理；" + QUEUED,
            "signed": "通报已签发；" + QUEUED, "meeting-returned": "会议记录已退回；" + QUEUED}


def notice(context: WebContext, key: str | None) -> str | None:
    """The notice for `?m=key` (None for no or an unknown key), in browsing mode saying
    that a queued notice is not sent."""
    if not key:
        return None
    if (m := re.fullmatch(r"accepted-(\d{1,3})", key)) is not None:  # the checked rows
        return f"已审核通过勾选的 {int(m.group(1))} 项报送。"
    if context.browsing and key in BROWSING:
        return BROWSING[key]
    return NOTICES.get(key)
