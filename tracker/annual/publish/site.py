"""`tracker publish YEAR`: the public report (向社会公开) as a self-contained static site.

The site is plain HTML pages with one CSS file and inline SVG charts (no script, no
external resource; it opens from file:// or any static web server), plus the same tables
for download (`downloads`): index.html (概览), progress.html (任务进展), indicators.html
(主要指标), meetings.html (政府常务会议), reporting.html (按时报送), about.html (说明与下载),
site.css, data/*.csv and data/public-<year>-<plan>.xlsx.

It is written into a temporary folder beside the target and moved into place, so nothing
half-written stays; publishing again replaces the site. A target folder that holds other
files (not a site this command wrote, marked by `MARKER`) is refused rather than replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from tracker.annual.publish import charts
from tracker.annual.publish.downloads import csv_bytes, notes, workbook_name, write_workbook
from tracker.annual.publish.tables import (
    STATUSES,
    TABLE_TITLES,
    TOTAL,
    PublicReport,
    public_report,
)
from tracker.dates.chinese import cn_date
from tracker.errors import DomainError
from tracker.models import Plan
from tracker.numbers import number_text, percent_text, round_half_up

HERE = Path(__file__).parent
FINDING = {"是": "已履职", "否": "未履职", "未认定": "尚未认定"}
MARKER = ".tracker-publish"
PAGES = [("index.html", "概览"), ("progress.html", "任务进展"), ("indicators.html", "主要指标"),
         ("meetings.html", "政府常务会议"), ("reporting.html", "按时报送"),
         ("about.html", "说明与下载")]


@dataclass
class PublishResult:
    """What `publish` wrote: the site's folder and its files (relative paths, sorted)."""

    out: Path
    files: list[str] = field(default_factory=list)
    report: PublicReport | None = None


def default_out(home: Path, plan: Plan, year: int) -> Path:
    """Where the site goes without --out: $TRACKER_HOME/public/<year>-<plan key>."""
    return home / "public" / f"{year}-{plan.key}"


def publish(session: Session, plan: Plan, year: int, out: Path) -> PublishResult:
    """Write the public report of `plan`'s `year` to the folder `out` (created, or
    replaced when it holds a site this command wrote before).

    Raises NotIssued (nothing written) when the year's scorecard has not been issued,
    DomainError for a year outside the plan, and DomainError (code "out-not-ours") when
    `out` exists with other files in it. Reads only (`tables.public_report`)."""
    out = Path(out).absolute()
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / MARKER).exists())):
        raise DomainError(f"目录 {out} 已存在且不是本系统生成的公开网站；为免覆盖其中的文件，"
                          "请另选 --out 目录或先将其清空", code="out-not-ours")
    report = public_report(session, plan, year)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        files = write_site(report, tmp)
        (tmp / MARKER).write_text(f"{plan.key} {year}\n", encoding="utf-8")
        tmp.chmod(0o755)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.{os.getpid()}.old")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PublishResult(out, files, report)


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def write_site(report: PublicReport, folder: Path) -> list[str]:
    """Render every page, the stylesheet and the downloads of `report` into `folder`;
    returns the files written (relative, sorted)."""
    env = _env()
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    downloads = []
    for stem, df in report.tables().items():
        (data / f"{stem}.csv").write_bytes(csv_bytes(df))
        downloads.append((f"data/{stem}.csv", f"{TABLE_TITLES[stem]}（CSV）", stem))
    xlsx = workbook_name(report)
    write_workbook(report, data / xlsx)
    shutil.copyfile(HERE / "site.css", folder / "site.css")
    base = {"r": report, "pages": PAGES, "downloads": downloads, "xlsx": f"data/{xlsx}",
            "cn_date": cn_date, "pct": _pct(report.percent_digits), "num": number_text,
            "notes": notes(report), "statuses": STATUSES, "total": TOTAL}
    for name, _label in PAGES:
        context = {**base, "page": name, **_page_context(name, report)}
        html = env.get_template(name.replace(".html", ".html.j2")).render(**context)
        (folder / name).write_text(html, encoding="utf-8")
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _pct(digits: int) -> Any:
    def pct(value: Any) -> str:
        """A percentage as printed: half up to the card's digits, "87.5%"; "—" if missing."""
        if value is None or (isinstance(value, float) and value != value):
            return "—"
        return f"{round_half_up(float(value), digits):.{digits}f}%"
    return pct


def _page_context(name: str, r: PublicReport) -> dict[str, Any]:
    if name == "index.html":
        return _overview(r)
    if name == "progress.html":
        parts = r.parts[r.parts["部分"] != TOTAL]
        chart = charts.bar_chart(
            "各部分达到本年应达进度的任务比例",
            f"{len(parts)}个部分，各部分牵头单位报送的完成进度达到本年应达进度"
            f"（{r.expected_share:.{r.percent_digits}f}%）的任务所占比例；数据见下表。",
            [charts.Bar(p["部分"], p["达到本年应达进度比例(%)"]) for _, p in parts.iterrows()],
            digits=r.percent_digits, prefix="parts")
        return {"chart": chart}
    if name == "indicators.html":
        figures = []
        for _, ind in r.indicators.iterrows():
            series = r.series[r.series["编号"] == ind["编号"]]
            points = [charts.Point(int(s["年度"]), s["实际值"], s["应达值"])
                      for _, s in series.iterrows()]
            unit = ind["单位"] if ind["单位"] == "%" else ""
            target = _target_number(ind["目标值"])
            desc = "；".join(
                f"{p.year}年实际值{number_text(p.actual)}、应达值{number_text(p.expected)}" for p in points
            ) or "暂无数据"
            figures.append({
                "ind": ind, "rows": series,
                "chart": charts.trajectory_chart(
                    f"{ind['编号']} {ind['指标']}：进度轨迹",
                    f"目标值{ind['目标值']}。{desc}。数据见旁表。", points, unit=unit,
                    target=target, target_label=f"目标值{ind['目标值']}", prefix="ind"),
            })
        base_rows = [{**row, "基期值": (number_text(row["基期值"]) + row["基期值单位"])
                      if row["基期值"] is not None else None}
                     for row in r.indicators.to_dict("records")]
        return {"figures": figures, "base_rows": base_rows}
    if name == "meetings.html":
        m = r.meetings
        chart = charts.bar_chart(
            "各级政府常务会议研究本规划的次数",
            f"{len(m)}个政府{r.year}年常务会议研究本规划的次数（已确认）；数据见下表。",
            [charts.Bar(f"{g['政府']}（{FINDING.get(g['是否履职'], g['是否履职'])}）",
                        float(g["会议次数"])) for _, g in m.iterrows()],
            maximum=max([float(v) for v in m["会议次数"]] + [1.0]) * 1.25, unit="次", digits=0,
            prefix="meet")
        return {"chart": chart,
                "compliant": int((m["是否履职"] == "是").sum()),
                "not_compliant": int((m["是否履职"] == "否").sum()),
                "undecided": int((m["是否履职"] == "未认定").sum())}
    if name == "reporting.html":
        groups = []
        for group in ("市级部门", "区人民政府"):
            df = r.reporting[r.reporting["组别"] == group]
            if df.empty:
                continue
            groups.append({"name": group, "rows": df, "chart": charts.bar_chart(
                f"{group}按时报送率",
                f"{len(df)}个{group}的按时报送率，从高到低排列；数据见下表。",
                [charts.Bar(a["单位"], a["按时报送率(%)"]) for _, a in df.iterrows()],
                digits=r.percent_digits, prefix="rep")})
        return {"groups": groups}
    return {}


def _target_number(text: str) -> float | None:
    digits = "".join(ch for ch in str(text) if ch.isdigit() or ch == ".")
    try:
        return float(digits) if digits else None
    except ValueError:
        return None


def _overview(r: PublicReport) -> dict[str, Any]:
    total = r.parts[r.parts["部分"] == TOTAL].iloc[0]
    rep = r.reporting
    asked, on_time = int(rep["应报"].sum()), int(rep["按时"].sum())
    ind = r.indicators
    m = r.meetings
    return {"facts": [
        ("规划任务", f"{int(total['任务数'])}项"),
        ("已完成（牵头单位报送）", f"{int(total['已完成'])}项"),
        ("达到本年应达进度", f"{int(total['达到本年应达进度'])}项"
                           f"（{_pct(r.percent_digits)(total['达到本年应达进度比例(%)'])}）"),
        ("主要指标符合进度", f"{int((ind['是否符合进度'] == '符合').sum())}项（共{len(ind)}项）"),
        *([("常务会议研究本规划的政府", f"{int((m['是否履职'] == '是').sum())}个（共{len(m)}个）")]
          if len(m) else []),
        ("各单位按时报送率", percent_text(on_time, asked, r.percent_digits)
         + f"（应报{asked}项，按时{on_time}项）"),
    ]}

