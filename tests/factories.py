"""Small factories: catalogs and rows a test needs, with explicit keywords and fixed
defaults (no randomness), instead of the whole seed where the whole seed is not the point."""

from __future__ import annotations

import datetime as dt

from tracker.catalog.schema import Agency, Catalog, Deadline, Indicator, Measure, PlanInfo
from tracker.enums import AgencyKind, Cadence, IndicatorAttribute


def small_plan(*, plan_id: str = "tianjin-employment-2017-2018",
               title: str = "天津市残疾人就业促进三年行动方案",
               government: str = "天津市人民政府",
               districts: tuple[str, ...] = ("和平区人民政府", "河东区人民政府"),
               period: tuple[int, int] = (2017, 2018),
               cadence: Cadence = Cadence.QUARTER,
               deadlines: dict[str, Deadline] | None = None) -> Catalog:
    """A second plan of the same city: three measures, an indicator, two districts.
    `deadlines` gives measures (by code "1", "2", "3") their 完成时限; none by default.

    It names 市民政局 and 市财政局 as the Tianjin plan does (the same directory rows), and
    市人力资源和社会保障局 with the alias 市人力社保局 (the Tianjin plan's short name).
    """
    agencies = [
        Agency(name="市民政局", kind=AgencyKind.CITY_AGENCY),
        Agency(name="市人力资源和社会保障局", kind=AgencyKind.CITY_AGENCY, aliases=["市人力社保局"]),
        Agency(name="市财政局", kind=AgencyKind.CITY_AGENCY),
        Agency(name="市残联", kind=AgencyKind.MASS_ORGANISATION),
        Agency(name="市政府督查室", kind=AgencyKind.CITY_AGENCY),
        *[Agency(name=d, kind=AgencyKind.DISTRICT_GOVERNMENT) for d in districts],
    ]
    measures = [
        Measure(code="1", section="一、促进按比例就业", title="落实按比例安排残疾人就业制度",
                text="机关、事业单位带头安排残疾人就业。", lead="市人力资源和社会保障局",
                co=["市财政局"], districts=True),
        Measure(code="2", section="一、促进按比例就业", title="扶持残疾人自主创业",
                text="对自主创业的残疾人给予补贴。", lead="市民政局", co=["市残联"],
                districts=False),
        Measure(code="3", section="二、加强就业服务", title="开展残疾人职业技能培训",
                text="每年培训残疾人1000人次。", lead="市残联", co=[], districts=True),
    ]
    for code, deadline in (deadlines or {}).items():
        i = [m.code for m in measures].index(code)
        measures[i] = measures[i].model_copy(update={"deadline": deadline})
    indicators = [Indicator(code="I1", name="城镇残疾人新增就业人数", target=1000, comparator=">=",
                            unit="人", attribute=IndicatorAttribute.EXPECTED, measures=["1"],
                            owner="市人力资源和社会保障局")]
    return Catalog(
        plan=PlanInfo(id=plan_id, title=title, issuer="天津市人民政府办公厅",
                      doc_number="津政办发〔2017〕1号", issued=dt.date(2017, 1, 5), period=period,
                      government=government, districts=list(districts), cadence=cadence,
                      supervision_office="市政府督查室", performance_office="市绩效办",
                      meeting_contact="市残联"),
        agencies=agencies, measures=measures, indicators=indicators)
