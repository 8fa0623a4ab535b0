"""A sample `OfficialDocument` for the layout tests: 60 items over 8 agencies, codes such
as 2.10.1 sorted naturally within each agency, as the circular and the 督办通知单 carry them."""

from __future__ import annotations

import datetime as dt

from tracker.documents.content import AnnexGroup, DocumentKind, OfficialDocument

AGENCIES = ["市民政局", "市教委", "市人力社保局", "市卫生健康委", "市住房城乡建设委",
            "市交通运输委", "市残联", "和平区人民政府"]
COUNTS = [11, 9, 8, 8, 7, 7, 6, 4]  # 60 items
COLUMNS = ["编号", "任务", "类别", "截止日期", "状态"]
TASKS = ["加快推进残疾人社会保障体系和服务体系建设，完善困难残疾人生活补贴制度",
         "落实重度残疾人护理补贴",
         "推进无障碍环境建设，城市道路、公共交通和公共建筑无障碍改造",
         "实施残疾人职业技能提升计划"]


def groups() -> list[AnnexGroup]:
    """The annex rows: one per item, codes unique over the whole annex, in natural order."""
    result = []
    for a, (agency, count) in enumerate(zip(AGENCIES, COUNTS, strict=True)):
        rows = []
        for i in range(count):
            code = f"2.{a + 3}.{i + 1}"  # 2.3.1 … 2.10.4: two-digit parts sort naturally
            rows.append([code, TASKS[(a + i) % len(TASKS)], "牵头" if i % 3 else "配合",
                         "2017年4月10日", "逾期未报"])
        result.append(AnnexGroup(agency, rows))
    return result


def sample(kind: DocumentKind = "circular", **changes: object) -> OfficialDocument:
    """The sample document of `kind`; `changes` replace fields."""
    is_circular = kind == "circular"
    fields: dict[str, object] = dict(
        kind=kind,
        issuer_mark="天津市人民政府督查室",
        number="津政督〔2017〕3号" if is_circular else "津政督办〔2017〕12号",
        title=("关于2017年第一季度残疾人事业发展规划纲要重点任务逾期未报情况的通报"
               if is_circular else "关于督促报送残疾人事业发展规划重点任务进展情况的通知"),
        addressees=["各区人民政府", "市有关部门"],
        body=[
            "按照《天津市加快推进残疾人小康进程规划纲要》任务分工，市政府督查室对2017年第一季度"
            "各责任单位报送任务进展情况进行了调度。现将有关情况通报如下。",
            "一、总体情况。截至2017年4月20日，共有8个单位的60项任务逾期未报进展情况，"
            "经催办、督办后仍未报送。",
            "（一）市级部门。市民政局、市教委等7个部门共56项任务逾期未报。",
            "二、工作要求。各单位要高度重视，于2017年4月28日前补报进展情况及佐证材料。"
            "逾期未报的，将在年度绩效考核中予以扣分。",
        ],
        signature="天津市人民政府督查室",
        date=dt.date(2017, 4, 25),
        printer="天津市人民政府督查室",
        printed_on=dt.date(2017, 4, 25),
        cc=["市委督查室", "市绩效办"],
        annex_title="逾期未报任务清单",
        annex_columns=COLUMNS,
        annex_groups=groups(),
    )
    fields.update(changes)
    return OfficialDocument(**fields)  # type: ignore[arg-type]
