"""The agency sheet's layout, shared by the writer and the reader."""

from __future__ import annotations

from tracker.enums import ProgressStatus

SHEET = "进展填报"
META_SHEET = "说明"
# (header, key, editable)
COLUMNS: list[tuple[str, str, bool]] = [
    ("请求编号", "request_id", False),
    ("报送期", "period", False),
    ("编号", "code", False),
    ("任务或指标", "subject", False),
    ("责任角色", "role", False),
    ("截止日期", "due_on", False),
    ("状态", "status", True),
    ("完成进度(%)", "percent", True),
    ("工作进展", "narrative", True),
    ("需协调解决的问题", "problems", True),
    ("下步计划", "next_steps", True),
    ("指标数值", "value", True),
]
HEADERS = [c[0] for c in COLUMNS]
COLUMN_OF = {key: i for i, (_, key, _) in enumerate(COLUMNS)}
STATUS_BY_LABEL = {status.label: status for status in ProgressStatus}
STATUS_LABELS = [s.label for s in ProgressStatus]


def column_letter(index: int) -> str:
    return chr(ord("A") + index)
