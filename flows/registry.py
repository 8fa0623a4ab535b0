"""The one registry of periodic jobs: name -> (flow, cron in Asia/Shanghai)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flows.tracker_flows import (
    annual_checkpoint_flow,
    dispatch_flow,
    outbox_archive_flow,
    overdue_sweep_flow,
    progress_request_flow,
)


@dataclass(frozen=True)
class Job:
    name: str
    flow: Callable[..., Any]
    cron: str  # minute hour day month day_of_week, Asia/Shanghai
    description: str


JOBS: dict[str, Job] = {
    j.name: j
    for j in (
        Job("progress_requests", progress_request_flow, "0 8 * * *", "每日08:00 发出到期的进展调度"),
        Job("overdue_sweep", overdue_sweep_flow, "30 8 * * *",
            "每日08:30 临期提醒、逾期催办督办、常务会议提醒"),
        Job("dispatch", dispatch_flow, "*/5 * * * *", "每5分钟 投递待发通知"),
        Job("annual_checkpoint", annual_checkpoint_flow, "0 9 * * *", "每日09:00 到期时生成年度记分卡"),
        Job("outbox_archive", outbox_archive_flow, "40 2 * * *",
            "每日02:40 归档超过保留期的已发送通知，保留投递凭据"),
    )
}
