"""The 任务分工表's columns: the template's headers and the synonyms offices write.

Shared by the template writer (`table_template`) and the reader (`table`). A header is
compared after `normal_header`: spaces, line breaks, asterisks, a final colon and a final
bracketed note (完成时限（年月）, 牵头单位（列第一位）) are dropped.
"""

from __future__ import annotations

import re

# (field, the template's header, what the column holds: 填表说明)
COLUMNS: list[tuple[str, str, str]] = [
    ("code", "编号", "文件自身的任务编号，如 1、2.3、（一）、一-1；全表不得重复（必填）"),
    ("part", "部分", "任务所属部分或板块，如“加强基本公共服务”；同一部分的各行可合并单元格"),
    ("title", "任务名称", "任务的简称或标题；不填时取任务内容的第一句"),
    ("text", "任务内容", "任务的具体内容（任务名称与任务内容至少填一项）"),
    ("lead", "牵头单位", "一个具体单位（必填）；写多个单位时，第一个为牵头单位，其余列为配合单位"),
    ("co", "配合单位", "多个单位用顿号“、”分隔；可写“各区人民政府”等，"
                      "“等有关部门”“有关单位”等泛指表述会提示督查室确定具体单位"),
    ("districts", "区县", "承担任务的区县：全部 / 具体区县（用顿号分隔，如 甲区、乙区）/ "
                        "有关（由督查室选定）/ 无"),
    ("deadline", "完成时限", "如 2018年6月30日、2018年6月底前、2018年底前、2018年第三季度、"
                            "每年年底前、长期坚持；不填则只按报送周期调度"),
    ("leader", "分管领导", "如 分管副市长 或 姓名"),
    ("indicators", "关联指标", "本任务关联的主要指标编号，如 I1、I3（选填）"),
]
FIELDS = [f for f, _, _ in COLUMNS]
HEADER = {f: h for f, h, _ in COLUMNS}
SHEET = "任务分工表"
GUIDE_SHEET = "填表说明"

# the synonyms offices write (after normal_header); 重点任务 and 责任单位 are resolved by
# the other columns present (see `table.resolve_columns`)
SYNONYMS: dict[str, set[str]] = {
    "code": {"编号", "序号", "任务编号", "任务序号", "序列号", "代码", "任务代码", "条目编号"},
    "part": {"部分", "板块", "类别", "任务类别", "领域", "重点领域", "分类", "方面", "章节",
             "所属部分", "工作板块", "专项", "任务分类", "篇章"},
    "title": {"任务名称", "任务标题", "事项", "工作事项", "事项名称", "任务简称", "标题", "名称"},
    "text": {"任务内容", "具体内容", "工作内容", "主要内容", "具体任务", "工作措施", "具体措施",
             "政策措施", "重点工作", "任务措施", "目标任务", "具体工作", "内容", "任务要求",
             "工作要求", "主要措施", "工作任务内容", "任务描述", "具体工作措施", "主要举措",
             "工作举措", "具体举措", "政策举措", "工作措施及要求"},
    "lead": {"牵头单位", "牵头部门", "牵头责任单位", "主责单位", "主办单位", "牵头", "牵头处室",
             "主责部门", "牵头单位（部门）"},
    "co": {"配合单位", "配合部门", "协办单位", "参与单位", "协同单位", "参加单位", "会同单位",
           "协助单位", "配合", "协办部门"},
    "districts": {"区县", "责任区县", "涉及区县", "承担区县", "区县政府", "区（县）", "区(县)",
                  "各区", "区", "县（市、区）", "县(市、区)", "涉及区", "区县人民政府"},
    "deadline": {"完成时限", "完成时间", "时间节点", "时限", "时限要求", "完成期限", "进度安排",
                 "时间安排", "完成时间节点", "办结时限", "截止时间"},
    "leader": {"分管领导", "责任领导", "牵头领导", "市领导", "分管市领导", "联系领导",
               "牵头市领导", "区领导", "分管区领导", "包联领导"},
    "indicators": {"关联指标", "相关指标", "指标", "对应指标", "指标编号", "关联指标编号"},
}
# a task column that is the title when a text column exists, else the text
TASK_WORDS = {"重点任务", "任务", "主要任务", "工作任务", "重点工作任务", "改革任务"}
# a responsibility column that is the lead (first named leads) unless a lead column exists
RESPONSIBLE_WORDS = {"责任单位", "责任部门", "负责单位", "承办单位", "责任主体", "责任处室",
                     "责任单位（部门）"}
# a header not in the lists that still names the task text: 具体工作措施, 主要举措, 工作内容及要求,
# 具体任务和目标 (offices compose these freely); never one naming agencies, dates or people
_TEXT_LIKE = re.compile(r"(?:措施|举措)$|工作内容|具体任务|主要内容|任务内容")
_NOT_TEXT = re.compile(r"单位|部门|处室|时限|时间|期限|领导|责任人|联系|指标|编号|序号|备注|进展|完成情况")


def role_of(label: str) -> str | None:
    """The field a normalised header names: a field of `SYNONYMS`, "task" (重点任务: title
    or text, by the other columns) or "responsible" (责任单位: lead or co); None if none.
    A header outside the lists ending in 措施/举措 or holding 工作内容/具体任务/主要内容
    (具体工作措施, 主要举措, 工作内容及要求) is the task text, unless it names agencies,
    dates or people (具体任务牵头单位)."""
    if label in TASK_WORDS:
        return "task"
    if label in RESPONSIBLE_WORDS:
        return "responsible"
    known = next((f for f, words in SYNONYMS.items() if label in words), None)
    if known is None and _TEXT_LIKE.search(label) and not _NOT_TEXT.search(label):
        return "text"
    return known


def may_be_text(label: str) -> bool:
    """Whether a column not read may hold the task text (具体做法, 实施路径), so an import
    whose tasks have no text names it prominently; not a remark, contact, progress,
    agency, date or person column (备注, 联系人, 完成情况)."""
    return not _NOT_TEXT.search(label) and "说明" not in label and "情况" not in label


_NOTE = re.compile(r"[（(][^（()）]*[)）]$")


def normal_header(text: object) -> str:
    """A header cell as compared with the synonyms: "完成时限\\n（年月）" -> "完成时限"."""
    t = re.sub(r"[\s\u3000*＊]+", "", str(text or ""))
    t = t.rstrip(":：")
    if t in RESPONSIBLE_WORDS or t in SYNONYMS["lead"] or any(t in s for s in SYNONYMS.values()):
        return t
    return _NOTE.sub("", t).rstrip(":：")
