"""Statuses, roles, levels and kinds, stored by value (STYLE.md #3)."""

from enum import IntEnum, StrEnum


class AgencyKind(StrEnum):
    CITY_AGENCY = "city_agency"  # 市级政府部门
    DISTRICT_GOVERNMENT = "district_government"  # 区人民政府
    PARTY_ORGAN = "party_organ"  # 市委宣传部、市文明办
    CENTRAL_BRANCH = "central_branch"  # 中央驻津单位: 天津保监局、人民银行天津分行、国税局
    JUDICIAL = "judicial"  # 市检察院、市高法院
    MASS_ORGANISATION = "mass_organisation"  # 残联、妇联、团市委、总工会
    ENTERPRISE = "enterprise"


class Role(StrEnum):
    """An agency's role in an assignment (任务分解)."""

    LEAD = "lead"  # 牵头单位
    CO = "co"  # 配合单位
    DISTRICT = "district"  # 各区县人民政府


class IndicatorAttribute(StrEnum):
    BINDING = "binding"  # 约束性
    EXPECTED = "expected"  # 预期性


class PeriodKind(StrEnum):
    QUARTER = "quarter"
    YEAR = "year"  # annual indicator values


class RequestState(StrEnum):
    OPEN = "open"  # waiting for a report
    ANSWERED = "answered"
    WAIVED = "waived"


class ProgressStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DELAYED = "delayed"
    BLOCKED = "blocked"


PROGRESS_STATUS_LABELS = {
    ProgressStatus.NOT_STARTED: "未开始",
    ProgressStatus.IN_PROGRESS: "推进中",
    ProgressStatus.COMPLETED: "已完成",
    ProgressStatus.DELAYED: "滞后",
    ProgressStatus.BLOCKED: "受阻",
}


class Level(IntEnum):
    """Rungs of the escalation ladder after the due date (DESIGN.md default rules)."""

    REMINDER = 1  # 催办: to the liaison
    SUPERVISION_NOTICE = 2  # 督办: to the deputy head in charge, copy to 督查室
    CIRCULAR = 3  # 通报: to the supervision office


LEVEL_LABELS = {
    Level.REMINDER: "催办",
    Level.SUPERVISION_NOTICE: "督办",
    Level.CIRCULAR: "通报",
}


class ContactRole(StrEnum):
    LIAISON = "liaison"  # 联络员
    DEPUTY_HEAD = "deputy_head"  # 分管领导


class MessageKind(StrEnum):
    PROGRESS_REQUEST = "progress_request"
    ESCALATION = "escalation"
    REPORT_RETURNED = "report_returned"
    EXTENSION_DECIDED = "extension_decided"
    CIRCULAR_ISSUED = "circular_issued"
    WAIVED = "waived"
    MEETING_REMINDER = "meeting_reminder"
    MEETING_WARNING = "meeting_warning"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one dispatcher run
    SENT = "sent"
    FAILED = "failed"  # permanently, or retries exhausted


class ChannelKind(StrEnum):
    EMAIL = "email"
    FILE = "file"


class ReviewState(StrEnum):
    """The supervision office's review (审核) of a submitted report."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class ExtensionState(StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"


class StaffRole(StrEnum):
    OFFICE = "office"  # 督查室
    PERFORMANCE = "performance"  # 绩效办
    ADMIN = "admin"  # 系统管理员


STAFF_ROLE_LABELS = {
    StaffRole.OFFICE: "督查室",
    StaffRole.PERFORMANCE: "绩效办",
    StaffRole.ADMIN: "系统管理员",
}


class CircularState(StrEnum):
    DRAFT = "draft"  # drafted by the product, waiting for the office's sign-off
    SIGNED = "signed"  # signed off: sent to the agencies named in it
