"""A realistic scorecard `Figures` for the workbook tests, built from the catalog's names.

The tables have exactly the columns of `tracker.annual.scorecard.figures` (its *_COLUMNS);
the workbook's own tests use it for a plan-sized card with edge cases (a "=1+1" title,
不适用 parts, ties). Everything is deterministic (no random numbers): values come from
simple arithmetic over the row index.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from tracker import settings as _settings
from tracker.annual.scorecard import figures as _figures

CATALOG = Path(__file__).resolve().parents[2] / "tasks_catalog.json"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NAN = float("nan")

ScoringRules = _settings.ScoringRules
Figures = _figures.Figures


SUMMARY_COLUMNS = _figures.SUMMARY_COLUMNS
MEASURE_COLUMNS = _figures.MEASURE_COLUMNS
INDICATOR_COLUMNS = _figures.INDICATOR_COLUMNS
DETAIL_COLUMNS = _figures.DETAIL_COLUMNS

# the quarter's due day (5th working day after quarter end, roughly) of each quarter
DUE = {1: (4, 10), 2: (7, 7), 3: (10, 13), 4: (1, 8)}
EVIL_TITLE = "=1+1"


def r(value: float, digits: int) -> float:
    """ROUND_HALF_UP to `digits` places, as the spec states."""
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


def catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
    return data


def sample_figures(year: int = 2017, *, issued: bool = True, rules: Any = None,
                   shift: int = 0) -> Any:
    """A Figures of `year` for the Tianjin plan: 36 departments, 16 district governments,
    38 measures (one titled "=1+1"), 9 indicators, a few hundred escalations. `shift`
    varies the numbers deterministically (for the five-year trend)."""
    rules = rules or ScoringRules()
    cat = catalog()
    plan = cat["plan"]
    departments = [a["name"] for a in cat["agencies"] if a["kind"] != "district_government"]
    departments = [n for n in departments if n not in plan["districts"]][:36]
    governments = list(plan["districts"])
    leads: dict[str, list[str]] = {}
    for m in cat["measures"]:
        leads.setdefault(m["lead"], []).append(m["code"])
    span = plan["period"][1] - plan["period"][0] + 1
    expected_pct = r(min(max((year - plan["period"][0] + 1) / span, 0), 1) * 100, 1)

    rows = []
    for i, (name, group) in enumerate([(n, "市级部门") for n in departments]
                                      + [(n, "区人民政府") for n in governments]):
        asked = 4 * (len(leads.get(name, [])) + 2) if group == "市级部门" else 4 * 38
        k = (i * 7 + shift * 3) % 23
        on_time = max(asked - k * asked // 40, 0)
        late = (asked - on_time) * 2 // 3
        missing = asked - on_time - late
        complete = max(on_time + late - (i * 5 + shift) % 9, 0)
        on_time_rate = r(on_time / asked * 100, rules.percent_digits)
        complete_rate = r(complete / asked * 100, rules.percent_digits)
        led = len(leads.get(name, []))
        attain = r(min(100.0, 55 + (i * 13 + shift * 5) % 50), rules.percent_digits) if led else NAN
        pts_on = r(on_time / asked * rules.on_time, rules.score_digits)
        pts_co = r(complete / asked * rules.completeness, rules.score_digits)
        pts_pr = r(attain / 100 * rules.progress, rules.score_digits) if led else NAN
        if group == "区人民政府":
            pts_me = rules.meetings if (i + shift) % 5 else 0.0
        else:
            pts_me = NAN
        parts = [(pts_on, rules.on_time), (pts_co, rules.completeness),
                 (pts_pr, rules.progress), (pts_me, rules.meetings)]
        full = sum(w for p, w in parts if not math.isnan(p))
        hundred = r(sum(p for p, _ in parts if not math.isnan(p)) / full * 100, rules.score_digits)
        notices = (i + shift) % 4 if k > 10 else 0
        circulars = 1 if k > 18 else 0
        deduct = notices * rules.per_supervision_notice + circulars * rules.per_circular
        rows.append({
            "agency_id": 100 + i, "单位": name, "组别": group, "应报": asked, "按时": on_time,
            "逾期报送": late, "未报": missing, "完整": complete, "按时报送率(%)": on_time_rate,
            "完整率(%)": complete_rate, "牵头任务数": led, "牵头任务达成率(%)": attain,
            "按时报送得分": pts_on, "完整性得分": pts_co, "牵头任务进展得分": pts_pr,
            "常务会议得分": pts_me, "适用满分": full, "百分制得分": hundred,
            "督办通知(份)": notices, "通报(份)": circulars, "扣分": deduct,
            "总分": r(max(hundred - deduct, 0), rules.score_digits), "排名": 0,
            "获批延期": i % 3 == 0 and 1 or 0})
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    summary = summary.sort_values(["组别", "总分", "按时报送得分", "单位"],
                                  ascending=[False, False, False, True], kind="stable")
    summary["排名"] = summary.groupby("组别")["总分"].rank(method="min", ascending=False).astype(int)
    summary = summary.sort_values(["组别", "排名", "单位"], ascending=[False, True, True],
                                  kind="stable").reset_index(drop=True)

    measures = []
    for j, m in enumerate(cat["measures"]):
        done = r(min(100.0, 20 + (j * 11 + shift * 7) % 80), rules.percent_digits)
        asked = 4 * (1 + len(m["co"]) + 16)
        late = (j * 3) % 7
        missing = (j * 2) % 3
        measures.append({
            "编号": m["code"], "任务": EVIL_TITLE if j == 5 else m["title"],
            "领域": m["section"], "牵头单位": m["lead"],
            "牵头单位最新状态": ["推进中", "已完成", "未启动", "推进中"][j % 4],
            "完成进度(%)": done, "本年应达进度(%)": expected_pct,
            "达成率(%)": r(min(done / expected_pct * 100, 100), rules.percent_digits),
            "应报": asked, "按时": asked - late - missing, "逾期报送": late, "未报": missing,
            "最高督办级别": ["", "催办", "督办", "通报"][j % 4],
            "最新进展": f"已完成第{j % 4 + 1}季度工作，{m['title']}相关工作按计划推进。"})
    measures_df = pd.DataFrame(measures, columns=MEASURE_COLUMNS)

    indicators = []
    for n, ind in enumerate(cat["indicators"]):
        base = 80.0 if ind["code"] != "I1" else 0.0
        target = ind["target"]
        steps = year - 2015
        expected = r(base + (target - base) * steps / 5, 2) if ind["code"] != "I1" else 9.0
        actual = r(expected + ((n * 3 + shift) % 7 - 3) * 0.8, 2)
        fits = "符合" if actual >= expected else "偏离"
        if n == 8:
            fits, actual = "未报送", NAN
        handled = ""
        if fits == "偏离":
            handled = "已报督查室" if ind["attribute"] == "binding" else "受经济下行影响，将加大工作力度"
        indicators.append({
            "编号": ind["code"], "指标": ind["name"],
            "属性": "约束性" if ind["attribute"] == "binding" else "预期性",
            "报送单位": ind["owner"], "单位": ind["unit"], "基期值": NAN if n == 0 else base,
            "目标值": f"{'>' if ind['comparator'] == '>' else '≥'}{target:g}%",
            "目标值数值": target, "本年应达值": expected, "本年实际值": actual,
            "分子": NAN if n in (0, 8) else actual * 100, "分母": NAN if n in (0, 8) else 10000.0,
            "数据来源": "" if n == 8 else "市统计局年度统计公报", "是否符合进度": fits,
            "处理情况": handled})
    indicators_df = pd.DataFrame(indicators, columns=INDICATOR_COLUMNS)

    detail = []
    for q in range(1, 5):
        month, day = DUE[q]
        due = dt.date(year + (1 if q == 4 else 0), month, day)
        for j, m in enumerate(cat["measures"]):
            for g, gov in enumerate(governments):
                if (j + g + q + shift) % 9:
                    continue
                for rung, after in (("催办", 1), ("督办", 7), ("通报", 14)):
                    if rung == "督办" and (j + g) % 2:
                        break
                    if rung == "通报" and (j + g) % 3:
                        break
                    reported = due + dt.timedelta(days=20) if (j + g) % 4 else None
                    detail.append({"报送期": f"{year}年第{q}季度", "编号": m["code"],
                                   "任务": EVIL_TITLE if j == 5 else m["title"],
                                   "责任单位": gov, "级别": rung, "截止日期": due,
                                   "发出日期": due + dt.timedelta(days=after),
                                   "报送日期": reported})
    detail_df = pd.DataFrame(detail, columns=DETAIL_COLUMNS)

    by_agency = (detail_df.pivot_table(index="责任单位", columns="级别", values="编号",
                                       aggfunc="count", fill_value=0)
                 .reindex(columns=["催办", "督办", "通报"], fill_value=0).reset_index())
    by_agency = by_agency.rename(columns={"责任单位": "单位", "催办": "催办(项)",
                                          "督办": "督办(项)", "通报": "通报(项)"})
    by_agency.columns.name = None
    groups = dict(zip(summary["单位"], summary["组别"], strict=True))
    docs = dict(zip(summary["单位"], zip(summary["督办通知(份)"], summary["通报(份)"],
                                       strict=True), strict=True))
    by_agency.insert(1, "组别", by_agency["单位"].map(groups))
    by_agency["督办通知(份)"] = by_agency["单位"].map(lambda a: docs[a][0])
    by_agency["通报(份)"] = by_agency["单位"].map(lambda a: docs[a][1])
    by_measure = (detail_df.pivot_table(index=["编号", "任务"], columns="级别", values="责任单位",
                                        aggfunc="count", fill_value=0)
                  .reindex(columns=["催办", "督办", "通报"], fill_value=0).reset_index())
    by_measure.columns.name = None
    leads_by_code = {m["code"]: m["lead"] for m in cat["measures"]}
    by_measure.insert(2, "牵头单位", by_measure["编号"].map(leads_by_code))
    by_measure = by_measure.rename(columns={"催办": "催办(项)", "督办": "督办(项)",
                                            "通报": "通报(项)"})
    by_rung = (detail_df.groupby("级别", sort=False)
               .agg(事项数=("编号", "count"), 涉及单位数=("责任单位", "nunique"),
                    最早发出日期=("发出日期", "min"), 最晚发出日期=("发出日期", "max"))
               .reindex(["催办", "督办", "通报"]).reset_index())

    deductions = []
    for _, row in summary.iterrows():
        for n in range(int(row["督办通知(份)"])):
            deductions.append({"单位": row["单位"], "组别": row["组别"], "文书": "督办通知",
                               "标题": f"关于{row['单位']}{year}年第{n + 1}季度逾期事项的督办通知",
                               "日期": dt.date(year, 4 + 3 * n, 20),
                               "扣分": rules.per_supervision_notice})
        if row["通报(份)"]:
            deductions.append({"单位": row["单位"], "组别": row["组别"], "文书": "通报",
                               "标题": f"关于{year}年第三季度逾期未报送情况的通报",
                               "日期": dt.date(year, 11, 8), "扣分": rules.per_circular})
    deductions_df = pd.DataFrame(deductions, columns=["单位", "组别", "文书", "标题", "日期", "扣分"])

    meetings = []
    for g, gov in enumerate(governments):
        held = (g + shift) % 5 != 0
        meetings.append({"政府": gov, "会议次数": 1 + g % 2 if held else 0,
                         "会议日期": dt.date(year, 3 + g % 9, 10 + g) if held else None,
                         "会议名称及届次": f"{gov}第{g + 20}次常务会议" if held else "",
                         "状态": "已确认" if held else "未召开",
                         "是否履职": "是" if held else "否"})
    meetings_df = pd.DataFrame(meetings, columns=["政府", "会议次数", "会议日期", "会议名称及届次",
                                                  "状态", "是否履职"])

    districts = {}
    quarters = [f"{year}年第{n}季度" for n in ("一", "二", "三", "四")]
    for g, gov in enumerate(governments):
        items = []
        for j, m in enumerate(cat["measures"]):
            row: dict[str, Any] = {"编号": m["code"], "任务": EVIL_TITLE if j == 5 else m["title"]}
            worst = ""
            for q, column in enumerate(quarters, start=1):
                late = (j + g + q + shift) % 9 == 0
                row[column] = ("逾期报送" if (j + g) % 4 else "逾期未报") if late else "按时报送"
                if late:
                    worst = "督办" if not (j + g) % 2 else (worst or "催办")
            items.append({**row, "最高督办级别": worst or "无"})
        districts[gov] = pd.DataFrame(items, columns=["编号", "任务", *quarters, "最高督办级别"])

    return Figures(
        plan_key=plan["id"], plan_title=plan["title"], year=year,
        generated=dt.datetime(year + 1, 2, 13, 1, 0, tzinfo=dt.UTC),
        data_as_of=dt.date(year + 1, 2, 13), scoring=rules, summary=summary,
        measures=measures_df, indicators=indicators_df, escalations_by_agency=by_agency,
        escalations_by_measure=by_measure, escalations_by_rung=by_rung,
        escalation_detail=detail_df, deductions=deductions_df, meetings=meetings_df,
        districts=districts, issued=issued, issuer=plan["supervision_office"])
