"""SQLAlchemy models, one module per concept; import from here."""

from tracker.models.audit import AuditEvent
from tracker.models.base import Base
from tracker.models.calendar import CalendarDay, CalendarYear
from tracker.models.chat import ChatEndpoint
from tracker.models.documents import DocumentNumber, SupervisionNotice
from tracker.models.outbox import (
    DeliveryAttempt,
    DeliveryReceipt,
    DeliveryReceiptItem,
    OutboxClaim,
    OutboxLease,
    OutboxMessage,
)
from tracker.models.plan import (
    Agency,
    AgencyAlias,
    Assignment,
    Contact,
    ContactAddress,
    DirectoryReview,
    Indicator,
    Measure,
    Plan,
)
from tracker.models.scheduler import JobFire, SchedulerLease, scheduler_job
from tracker.models.staff import (
    Circular,
    CircularItem,
    FormToken,
    Note,
    SignInAddress,
    StaffSession,
    StaffUser,
)
from tracker.models.tracking import (
    BoardTally,
    Escalation,
    Evidence,
    ExecutiveMeeting,
    ExtensionRequest,
    IndicatorValue,
    MeetingCompliance,
    ProgressReport,
    ProgressRequest,
    ReportDraft,
    ReportingPeriod,
    ScorecardRun,
)

__all__ = [
    "Agency", "AgencyAlias", "Assignment", "DirectoryReview", "ChatEndpoint", "Contact", "ContactAddress",
    "AuditEvent", "Base", "CalendarDay", "CalendarYear", "DeliveryAttempt", "DeliveryReceipt",
    "DeliveryReceiptItem", "JobFire",
    "SchedulerLease", "scheduler_job",
    "BoardTally", "Escalation", "Evidence",
    "ExecutiveMeeting", "ExtensionRequest", "ReportDraft", "Indicator", "IndicatorValue",
    "Measure",
    "MeetingCompliance", "OutboxClaim", "OutboxLease", "OutboxMessage", "Plan", "ProgressReport",
    "ProgressRequest",
    "ReportingPeriod", "ScorecardRun", "Circular", "CircularItem", "FormToken", "Note", "SignInAddress",
    "StaffSession", "StaffUser", "DocumentNumber", "SupervisionNotice",
]
