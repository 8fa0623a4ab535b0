"""Statuses, roles, levels and kinds, stored by value (STYLE.md #3).

Each enum carries its Chinese label (`.label`), the one wording used by pages, Excel
sheets, documents and notifications alike.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class AgencyKind(StrEnum):
    CITY_AGENCY = "city_agency"  # 市级政府部门
    DISTRICT_GOVERNMENT = "district_government"  # 区人民政府
    PARTY_ORGAN = "party_organ"  # 市委宣传部、市文明办
    CENTRAL_BRANCH = "central_branch"  # 中央驻津单位: 天津保监局、人民银行天津分行、国税局
    JUDICIAL = "judicial"  # 市检察院、市高法院
    MASS_ORGANISATION = "mass_organisation"  # 残联、妇联、团市委、总工会
    ENTERPRISE = "enterprise"

    @property
    def label(self) -> str:
        return _AGENCY_KIND[self]


_AGENCY_KIND = {
    AgencyKind.CITY_AGENCY: "政府部门", AgencyKind.DISTRICT_GOVERNMENT: "区人民政府",
    AgencyKind.PARTY_ORGAN: "党委部门", AgencyKind.CENTRAL_BRANCH: "中央驻地单位",
    AgencyKind.JUDICIAL: "司法机关", AgencyKind.MASS_ORGANISATION: "人民团体",
    AgencyKind.ENTERPRISE: "企业",
}


class Role(StrEnum):
    """An agency's role in an assignment (任务分解)."""

    LEAD = "lead"  # 牵头单位
    CO = "co"  # 配合单位
    DISTRICT = "district"  # 各区县人民政府

    @property
    def label(self) -> str:
        """The short form for tables: 牵头 / 配合 / 区."""
        return {"lead": "牵头", "co": "配合", "district": "区"}[self.value]

    @property
    def long_label(self) -> str:
        """The full form for forms and notices: 牵头单位 / 配合单位 / 区人民政府."""
        return {"lead": "牵头单位", "co": "配合单位", "district": "区人民政府"}[self.value]


INDICATOR_ROLE_LABEL = "指标报送单位"  # the agency that reports a headline indicator's value


def role_label(role: Role | str | None, *, long: bool = False) -> str:
    """The label of an assignment role; a request with no role is an indicator's."""
    if role is None or role == "":
        return INDICATOR_ROLE_LABEL if long else "指标"
    r = Role(role)
    return r.long_label if long else r.label


class IndicatorAttribute(StrEnum):
    BINDING = "binding"  # 约束性
    EXPECTED = "expected"  # 预期性

    @property
    def label(self) -> str:
        return "约束性" if self is IndicatorAttribute.BINDING else "预期性"


class IndicatorKind(StrEnum):
    """How a headline indicator is reported and compared (issue 11, item 3)."""

    RATE = "rate"  # a rate in %: the owner reports numerator, denominator and the value
    GROWTH = "growth"  # an average annual growth in %: the owner reports the level (e.g. 元)

    @property
    def label(self) -> str:
        return "比率" if self is IndicatorKind.RATE else "年均增速"


class PeriodKind(StrEnum):
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"  # annual indicator values
    # a task's own 完成时限 (issue 13): one period per plan and deadline day, label 2018-06-30
    MILESTONE = "milestone"


class DeadlineKind(StrEnum):
    """What a task's 完成时限 means for tracking (catalog.schema.Deadline.kind)."""

    DATE = "date"  # one due day: 2018年6月底前
    YEARLY = "yearly"  # each year of the plan on a month and day: 每年年底前
    ONGOING = "ongoing"  # 长期坚持: no milestone, the periodic requests track it

    @property
    def label(self) -> str:
        return {"date": "限期完成", "yearly": "每年完成", "ongoing": "长期坚持"}[self.value]


class Cadence(StrEnum):
    """How often a plan's assignments are asked for progress (a plan setting)."""

    QUARTER = "quarter"  # 按季度
    HALF_YEAR = "half_year"  # 按半年

    @property
    def label(self) -> str:
        return "按季度调度" if self is Cadence.QUARTER else "按半年调度"


class RequestState(StrEnum):
    OPEN = "open"  # waiting for a report
    ANSWERED = "answered"
    WAIVED = "waived"

    @property
    def label(self) -> str:
        return {"open": "待报送", "answered": "已报送", "waived": "已免报"}[self.value]


class Light(StrEnum):
    """The board's traffic light (rule: tracker.requests.rules.light)."""

    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"
    GREY = "grey"

    @property
    def label(self) -> str:
        return {"red": "逾期", "yellow": "临近截止或逾期报送", "green": "正常",
                "grey": "已免报"}[self.value]


class ProgressStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DELAYED = "delayed"
    BLOCKED = "blocked"

    @property
    def label(self) -> str:
        return _PROGRESS_STATUS[self]


_PROGRESS_STATUS = {
    ProgressStatus.NOT_STARTED: "未开始",
    ProgressStatus.IN_PROGRESS: "推进中",
    ProgressStatus.COMPLETED: "已完成",
    ProgressStatus.DELAYED: "滞后",
    ProgressStatus.BLOCKED: "受阻",
}
PROGRESS_STATUS_LABELS = {s: s.label for s in ProgressStatus}  # in list order, for drop-downs


class Level(IntEnum):
    """Rungs of the escalation ladder after the due date (DESIGN.md default rules)."""

    REMINDER = 1  # 催办: to the liaison
    SUPERVISION_NOTICE = 2  # 督办: to the deputy head in charge, copy to 督查室
    CIRCULAR = 3  # 通报: to the supervision office

    @property
    def label(self) -> str:
        return {1: "催办", 2: "督办", 3: "通报"}[self.value]

    @classmethod
    def from_text(cls, text: str) -> Level:
        """A rung as people type it: its label (催办, 督办, 通报) or its number (1, 2, 3).
        Raises ValueError for anything else."""
        text = text.strip()
        for level in cls:
            if text in (level.label, str(level.value)):
                return level
        raise ValueError(text)


def level_label(level: int | None) -> str:
    """The label of the highest rung reached; 无 for none."""
    return Level(level).label if level else "无"


class ContactRole(StrEnum):
    LIAISON = "liaison"  # 联络员
    DEPUTY_HEAD = "deputy_head"  # 分管领导

    @property
    def label(self) -> str:
        return "联络员" if self is ContactRole.LIAISON else "分管领导"


class MessageKind(StrEnum):
    PROGRESS_REQUEST = "progress_request"
    ESCALATION = "escalation"
    REPORT_RETURNED = "report_returned"
    EXTENSION_DECIDED = "extension_decided"
    CIRCULAR_ISSUED = "circular_issued"
    WAIVED = "waived"
    MEETING_REMINDER = "meeting_reminder"
    MEETING_WARNING = "meeting_warning"
    PRE_DUE_REMINDER = "pre_due_reminder"  # 临期提醒: a few working days before the due day
    DUE_CHANGED = "due_changed"  # 截止时间调整: a calendar change moved the due day
    NEW_LINK = "new_link"  # 新填报链接: asked for from an expired link's page
    MEETING_RETURNED = "meeting_returned"  # 会议已退回: the office returned a recorded meeting
    # a binding indicator off its trajectory, reported to the supervision office (issue 11)
    INDICATOR_ESCALATED = "indicator_escalated"
    # an expected indicator off its trajectory: its owner is asked for a written explanation
    INDICATOR_EXPLANATION = "indicator_explanation"

    @property
    def label(self) -> str:
        return _MESSAGE_KIND[self]

    @property
    def is_meeting(self) -> bool:
        return self in (MessageKind.MEETING_REMINDER, MessageKind.MEETING_WARNING,
                        MessageKind.MEETING_RETURNED)


_MESSAGE_KIND = {
    MessageKind.PROGRESS_REQUEST: "进展调度",
    MessageKind.ESCALATION: "逾期督办",
    MessageKind.REPORT_RETURNED: "退回修改",
    MessageKind.EXTENSION_DECIDED: "延期审批结果",
    MessageKind.CIRCULAR_ISSUED: "通报",
    MessageKind.WAIVED: "免报",
    MessageKind.MEETING_REMINDER: "常务会议提醒",
    MessageKind.MEETING_WARNING: "常务会议预警",
    MessageKind.PRE_DUE_REMINDER: "临期提醒",
    MessageKind.DUE_CHANGED: "截止时间调整",
    MessageKind.NEW_LINK: "新填报链接",
    MessageKind.MEETING_RETURNED: "会议已退回",
}


class NoticeKind(StrEnum):
    """What a notice is, as its reader sees it (issue 8): one digest per recipient and kind
    per run, each kind with its own template and subject (notifications/templates)."""

    REQUEST = "request"  # 报送通知: a progress request opened
    PRE_DUE = "pre_due"  # 临期提醒: due in a few working days, not answered yet
    REMINDER = "reminder"  # 催办: ladder rung 1, to the liaison
    SUPERVISION = "supervision"  # 督办: rung 2, to the deputy head, copy to 督查室
    CIRCULAR = "circular"  # 通报: rung 3 (督查室's copy) and the signed circular issued
    EXTENSION = "extension"  # 延期审批结果
    RETURNED = "returned"  # 退回修改
    WAIVED = "waived"  # 免报
    MEETING = "meeting"  # 会议提醒 (and its warning)
    DUE_CHANGED = "due_changed"  # 截止时间调整: the holiday schedule moved a due day
    NEW_LINK = "new_link"  # 新填报链接: a liaison asked for one from an expired link
    INDICATOR_ESCALATED = "indicator_escalated"  # 指标偏离进度: binding, to 督查室
    INDICATOR_EXPLANATION = "indicator_explanation"  # 指标偏离说明: expected, to its owner

    @property
    def label(self) -> str:
        return _NOTICE_KIND[self]

    @classmethod
    def of(cls, kind: MessageKind | str, level: int = 0) -> NoticeKind:
        """The notice kind of an outbox message (its kind, and its level for a ladder rung)."""
        kind = MessageKind(kind)
        if kind == MessageKind.ESCALATION:
            return {1: cls.REMINDER, 2: cls.SUPERVISION}.get(level, cls.CIRCULAR)
        return _NOTICE_OF_MESSAGE[kind]


_NOTICE_KIND = {
    NoticeKind.REQUEST: "报送通知", NoticeKind.PRE_DUE: "临期提醒", NoticeKind.REMINDER: "催办",
    NoticeKind.SUPERVISION: "督办", NoticeKind.CIRCULAR: "通报",
    NoticeKind.EXTENSION: "延期审批结果", NoticeKind.RETURNED: "退回修改",
    NoticeKind.WAIVED: "免报", NoticeKind.MEETING: "会议提醒",
    NoticeKind.DUE_CHANGED: "截止时间调整", NoticeKind.NEW_LINK: "新填报链接",
    NoticeKind.INDICATOR_ESCALATED: "指标偏离进度", NoticeKind.INDICATOR_EXPLANATION: "指标偏离说明",
}
_NOTICE_OF_MESSAGE = {
    MessageKind.PROGRESS_REQUEST: NoticeKind.REQUEST,
    MessageKind.PRE_DUE_REMINDER: NoticeKind.PRE_DUE,
    MessageKind.REPORT_RETURNED: NoticeKind.RETURNED,
    MessageKind.EXTENSION_DECIDED: NoticeKind.EXTENSION,
    MessageKind.CIRCULAR_ISSUED: NoticeKind.CIRCULAR,
    MessageKind.WAIVED: NoticeKind.WAIVED,
    MessageKind.MEETING_REMINDER: NoticeKind.MEETING,
    MessageKind.MEETING_WARNING: NoticeKind.MEETING,
    MessageKind.DUE_CHANGED: NoticeKind.DUE_CHANGED,
    MessageKind.NEW_LINK: NoticeKind.NEW_LINK,
    MessageKind.MEETING_RETURNED: NoticeKind.MEETING,
    MessageKind.INDICATOR_ESCALATED: NoticeKind.INDICATOR_ESCALATED,
    MessageKind.INDICATOR_EXPLANATION: NoticeKind.INDICATOR_EXPLANATION,
}


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one dispatcher run
    SENT = "sent"
    FAILED = "failed"  # permanently, or retries exhausted
    DROPPED = "dropped"  # no longer applied when its turn came (answered, waived, inactive)

    @property
    def label(self) -> str:
        return {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败",
                "dropped": "已撤销"}[self.value]


class ChannelKind(StrEnum):
    EMAIL = "email"
    FILE = "file"
    # an agency's group bots (issue 8): the outbox row's address is "bot:{ChatEndpoint.id}"
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"
    WEBHOOK = "webhook"

    @property
    def label(self) -> str:
        return _CHANNEL_KIND[self]

    @property
    def is_bot(self) -> bool:
        return self in BOT_KINDS


_CHANNEL_KIND = {
    ChannelKind.EMAIL: "邮件", ChannelKind.FILE: "文件", ChannelKind.WECOM: "企业微信群机器人",
    ChannelKind.DINGTALK: "钉钉群机器人", ChannelKind.FEISHU: "飞书群机器人",
    ChannelKind.WEBHOOK: "通用 Webhook",
}
BOT_KINDS = frozenset({ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.FEISHU,
                       ChannelKind.WEBHOOK})


class ReviewState(StrEnum):
    """The supervision office's review (审核) of a submitted report."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return {"pending": "待审核", "accepted": "已通过", "returned": "已退回"}[self.value]


class ExtensionState(StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return {"pending": "待审批", "granted": "已批准", "refused": "不予批准"}[self.value]


class StaffRole(StrEnum):
    OFFICE = "office"  # 督查室
    PERFORMANCE = "performance"  # 绩效办
    ADMIN = "admin"  # 系统管理员

    @property
    def label(self) -> str:
        return {"office": "督查室", "performance": "绩效办", "admin": "系统管理员"}[self.value]


class CircularState(StrEnum):
    DRAFT = "draft"  # drafted by the product, waiting for the office's sign-off
    SIGNED = "signed"  # signed off: sent to the agencies named in it

    @property
    def label(self) -> str:
        return "待签发" if self is CircularState.DRAFT else "已签发"


class MeetingState(StrEnum):
    """An executive meeting's record: recorded by the government's liaison and waiting for
    the office (pending), confirmed by the office (counts for the year's duty), or returned
    to the liaison with a reason (to be corrected)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return {"pending": "待确认", "confirmed": "已确认", "returned": "已退回"}[self.value]
