"""`tracker publish YEAR`: the public report (向社会公开) as a static site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tracker.cli.common import app, console, current_settings, factory, fail, plan_or_fail


@app.command("publish")
def publish_command(
    year: int,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="the plan's id (needed when several plans are loaded)")] = None,
    out: Annotated[str | None, typer.Option(
        "--out", help="the site's folder (default: $TRACKER_HOME/public/YEAR-PLAN); "
                      "replaced when publishing again")] = None,
) -> None:
    """Write the YEAR public report (向社会公开): a static site from the year's issued
    scorecard, with its tables as Excel and CSV. Refused (nothing written) until the
    year's scorecard is issued (tracker scorecard YEAR)."""
    from tracker.annual.publish import default_out, publish
    from tracker.errors import DomainError
    from tracker.ops.files import os_reason

    settings = current_settings()
    with factory()() as session:
        found = plan_or_fail(session, plan)
        if out is not None and not str(out).strip():  # --out "" is not "here"
            raise fail("--out 不能为空：请给出网站的目录", code=2)
        target = Path(out) if out is not None else default_out(settings.home, found, year)
        try:
            result = publish(session, found, year, target)
        except DomainError as exc:
            raise fail(str(exc), code=1) from None
        except OSError as exc:
            raise fail(f"无法写入目录 {target}：{os_reason(exc)}", code=1) from None
    console.print(f"已生成《{found.title}》{year}年度公开网站：{result.out}",
                  soft_wrap=True, highlight=False)
    console.print(f"  首页：{result.out / 'index.html'}", soft_wrap=True, highlight=False)
    console.print(f"  文件 {len(result.files)} 个（网页、样式表及 data/ 下的 Excel、CSV 表格）",
                  highlight=False)
