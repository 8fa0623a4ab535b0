"""The 任务分工表 template (`tracker catalog template`).

Excel: a 填表说明 sheet (what each column holds, the forms 区县 and 完成时限 take, the
synonyms read, merged cells, several sheets) and the 任务分工表 sheet: the header row,
column widths, an example row, input prompts and drop-downs (区县 offers 全部 / 有关 / 无
but accepts named districts); the example row's 编号 reads 示例, so the importer skips it
with a note. The examples name no real place: agencies of the plan's
level (`--government`) and the plan's own districts (`--districts`) when given, else
甲区、乙区. CSV: the header row only, UTF-8 with BOM so that Excel opens it as
Chinese. Every text is written as a string: nothing becomes a formula.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

import xlsxwriter

from tracker.catalog.table_layout import COLUMNS, GUIDE_SHEET, HEADER, SHEET, SYNONYMS

WIDTHS = {"code": 8, "part": 16, "title": 22, "text": 44, "lead": 16, "co": 26,
          "districts": 14, "deadline": 14, "leader": 12, "indicators": 10}
NEUTRAL_DISTRICTS = ("甲区", "乙区")  # the guide's example names when no list is given
EXAMPLE_CODE = "示例"  # the example row's 编号: the importer skips the row it marks


def example_row(government: str | None = None, districts: Sequence[str] = ()) -> dict[str, str]:
    """The template's example task, by field (its 编号 is EXAMPLE_CODE, which marks the row
    for the importer to skip): agencies and leader of the level of
    `government` (a city's by default; a province's 省…厅 and 副省长, an autonomous
    region's, a district's or a county's own), never any real place's names. `districts`
    does not change the row (its 区县 cell reads 全部, whatever the list)."""
    prefix, office, deputy = _level(government)
    return {
        "code": EXAMPLE_CODE,
        "part": "加强基本公共服务",
        "title": "健全社会救助制度",
        "text": "完善最低生活保障制度，将符合条件的困难群众按规定纳入保障范围。",
        "lead": f"{prefix}民政{office}",
        "co": f"{prefix}财政{office}、{prefix}人力资源社会保障{office}等有关部门",
        "districts": "全部",
        "deadline": "2020年底前",
        "leader": f"分管{deputy}",
        "indicators": "",
    }


_LEVELS = (("国务院", ("", "部", "国务院领导")), ("自治区", ("自治区", "厅", "副主席")),
           ("省", ("省", "厅", "副省长")), ("市", ("市", "局", "副市长")), ("区", ("区", "局", "副区长")),
           ("县", ("县", "局", "副县长")), ("旗", ("旗", "局", "副旗长")))


def _level(government: str | None) -> tuple[str, str, str]:
    """(prefix, department word, deputy head) of the level `government` names by its
    last level word (…省人民政府 → 省, 厅, 副省长); a city's when none is given."""
    name = re.sub(r"(?:人民)?政府$", "", (government or "").strip())
    return next((parts for word, parts in _LEVELS if name.endswith(word)), _LEVELS[3][1])


EXAMPLE = example_row()


def guide_lines(government: str | None = None, districts: Sequence[str] = ()) -> list[str]:
    """The 注意事项 lines of the 填表说明 sheet; district names quoted as examples are
    the first two of `districts` when given, else 甲区、乙区."""
    shown = "、".join(re.sub(r"(?:人民)?政府$", "", d) or d for d in districts[:2]) \
        or "、".join(NEUTRAL_DISTRICTS)
    plan_districts = "（本规划的全部区县，导入时用 --districts 给出名单）" if not districts else \
        f"（本规划的全部 {len(districts)} 个区县）"
    return [
        "1. 每行填写一项任务；第一行为表头，请勿删改表头文字（可调整列宽，可删除不用的选填列）。",
        f"2. 第2行为示例（编号为“{EXAMPLE_CODE}”），导入时跳过，不作为任务；"
        "可删除，或保留并在其下方逐行填写实际任务。",
        "3. 编号按文件自身的编号填写（如 1、2.3、（一）），全表不得重复；"
        "各部分分别编号时请写成 1.1、2.1 等。",
        "4. 牵头单位只写一个具体单位；配合单位用顿号“、”分隔。单元格内换行分隔的单位也视为多个单位。",
        "5. “等有关部门”“有关单位”“各有关部门和单位”等泛指表述不会作为单位登记，"
        "导入后提示督查室确定具体单位。",
        f"6. 区县列：全部{plan_districts}、具体区县（用顿号分隔，如 {shown}）、"
        "有关（由督查室选定）或 无；配合单位中写“各区人民政府”等同于“全部”。",
        "7. 完成时限可写：2018年6月30日、2018年6月底前、2018年底前、2018年第三季度、2018年上半年、"
        "每年年底前、每年6月底前、长期坚持、持续推进；分阶段的时限会提示督查室确定。",
        "8. 同一部分或同一牵头单位的连续各行可以合并单元格；编号不可合并。"
        "也可在任务行之间插入只有一段文字的行（如“一、加快推进农业机械化”）作为部分标题。",
        "9. 请勿使用公式；单元格中的文字一律按文字导入。",
        "10. 任务可分列在多个工作表中（如每个部分一个工作表），各表使用相同的表头，"
        "编号在全部工作表中不得重复；隐藏的行、列也会导入，并在导入报告中列出。",
        "11. 导入：tracker catalog import 本文件 --plan-id … --title … --issuer … --issued … "
        f"--period … --government {government or '…'} [--districts …]；有问题时会逐一列出所在行、列和原因。",
    ]


GUIDE = guide_lines()


def template_xlsx(government: str | None = None, districts: Sequence[str] = ()) -> bytes:
    """The Excel template as bytes (sheets 填表说明 and 任务分工表); its example row and
    guide follow `government` and `districts` when given (`example_row`, `guide`)."""
    example_values = example_row(government, districts)
    lines = guide_lines(government, districts)
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    title = book.add_format({"bold": True, "font_size": 14, "font_name": "宋体"})
    bold = book.add_format({"bold": True, "border": 1, "bg_color": "#DDEBF7", "text_wrap": True,
                            "valign": "top", "font_name": "宋体"})
    wrap = book.add_format({"text_wrap": True, "valign": "top", "border": 1, "font_name": "宋体"})
    plain = book.add_format({"text_wrap": True, "valign": "top", "font_name": "宋体"})
    header = book.add_format({"bold": True, "bg_color": "#1F4E79", "font_color": "#FFFFFF",
                              "border": 1, "text_wrap": True, "align": "center",
                              "valign": "vcenter", "font_name": "宋体"})
    example = book.add_format({"text_wrap": True, "valign": "top", "border": 1,
                               "font_color": "#7F7F7F", "font_name": "宋体"})
    text = book.add_format({"text_wrap": True, "valign": "top", "num_format": "@",
                            "font_name": "宋体"})

    guide = book.add_worksheet(GUIDE_SHEET)
    guide.set_column(0, 0, 12)
    guide.set_column(1, 1, 60)
    guide.set_column(2, 2, 40)
    guide.write_string(0, 0, "任务分工表填表说明", title)
    guide.write_string(2, 0, "列名", bold)
    guide.write_string(2, 1, "填写内容", bold)
    guide.write_string(2, 2, "也可使用的列名", bold)
    for row, (field, head, what) in enumerate(COLUMNS, start=3):
        guide.write_string(row, 0, head, wrap)
        guide.write_string(row, 1, what, wrap)
        others = "、".join(sorted(SYNONYMS[field] - {head})[:8])
        guide.write_string(row, 2, others, wrap)
        guide.set_row(row, _height(max(_lines(what, 60), _lines(others, 40))))
    start = 3 + len(COLUMNS) + 1
    guide.write_string(start, 0, "注意事项", title)
    for i, line in enumerate(lines, start=start + 1):
        guide.merge_range(i, 0, i, 2, "", plain)
        guide.write_string(i, 0, line, plain)
        guide.set_row(i, _height(_lines(line, 112)))
    guide.set_landscape()
    guide.set_paper(9)
    guide.fit_to_pages(1, 1)

    sheet = book.add_worksheet(SHEET)
    fields = [f for f, _, _ in COLUMNS]
    for col, field in enumerate(fields):
        sheet.write_string(0, col, HEADER[field], header)
        sheet.set_column(col, col, WIDTHS[field], text)
        sheet.write_string(1, col, example_values[field], example)
    sheet.set_row(0, 24)
    sheet.set_row(1, _height(max(_lines(example_values[f], WIDTHS[f]) for f in fields)))
    sheet.freeze_panes(1, 0)
    last = 2000
    prompts = {f: what for f, _, what in COLUMNS}
    for col, field in enumerate(fields):
        rule: dict[str, object] = {"validate": "any", "input_title": HEADER[field],
                                   "input_message": prompts[field][:255]}
        if field == "districts":
            rule = {"validate": "list", "source": ["全部", "有关", "无"],
                    "error_type": "information", "ignore_blank": True,
                    "input_title": "区县", "input_message": "全部 / 有关 / 无，或写具体区县（顿号分隔）",
                    "error_title": "区县", "error_message": "将按具体区县读取，请确认名称与 --districts 一致"}
        elif field in ("code", "lead"):
            rule.update({"validate": "length", "criteria": "between", "minimum": 1,
                         "maximum": 20 if field == "code" else 40, "error_type": "warning",
                         "error_title": HEADER[field],
                         "error_message": "编号不超过20个字" if field == "code"
                         else "牵头单位只写一个具体单位"})
        if len(str(rule.get("input_message", ""))) > 255:
            rule["input_message"] = str(rule["input_message"])[:255]
        sheet.data_validation(1, col, last, col, rule)
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.repeat_rows(0)
    sheet.fit_to_pages(1, 0)
    sheet.activate()
    book.close()
    return buf.getvalue()


def _lines(text: str, width: int) -> int:
    """Lines `text` takes in a wrapped cell `width` characters wide (a Chinese character
    is two wide), so the row is tall enough in Excel, WPS and LibreOffice alike."""
    wide = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return max(1, math.ceil(wide / max(width - 1, 1)))


def _height(lines: int) -> float:
    return 15.0 * lines + 3


def template_csv() -> bytes:
    """The CSV template: the header row, UTF-8 with BOM, CRLF (as Excel writes CSV)."""
    return ("\ufeff" + ",".join(HEADER[f] for f, _, _ in COLUMNS) + "\r\n").encode("utf-8")
