"""Word's automatic numbering written out as Word shows it (issue 13, attacker finding F8):
a 序号 column numbered by Word in a 任务分工表, and a text plan whose 一、/（一） levels are a
Word list. The documents are built here with their own numbering definitions."""

from __future__ import annotations

import io

import docx
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from tests.catalog.test_table_import import _plan, _refusals
from tracker.catalog.sources import SourceError, docx_paragraphs
from tracker.catalog.table import import_table
from tracker.catalog.word_numbering import Unrendered, chinese_counting, numbering_labels

W = nsdecls("w")


def _define(document, levels: list[tuple[str, str]], *, start: int = 1, suffix: str = "nothing",
            abstract: int = 90, num: int = 90, overrides: dict[int, int] | None = None,
            reuse: bool = False) -> str:
    """Add a numbering instance `num` of abstract definition `abstract` whose levels are
    (numFmt, lvlText) pairs; `overrides` are startOverride values by level. With `reuse`
    the abstract definition is taken as already there. Returns the numId."""
    numbering = document.part.part_related_by(RT.NUMBERING).element
    if not reuse:
        lvls = "".join(
            f'<w:lvl w:ilvl="{i}"><w:start w:val="{start}"/><w:numFmt w:val="{fmt}"/>'
            f'<w:suff w:val="{suffix}"/><w:lvlText w:val="{text}"/></w:lvl>'
            for i, (fmt, text) in enumerate(levels))
        element = parse_xml(f'<w:abstractNum {W} w:abstractNumId="{abstract}">{lvls}</w:abstractNum>')
        first_num = numbering.find(qn("w:num"))
        if first_num is not None:
            first_num.addprevious(element)
        else:
            numbering.append(element)
    over = "".join(f'<w:lvlOverride w:ilvl="{k}"><w:startOverride w:val="{v}"/></w:lvlOverride>'
                   for k, v in (overrides or {}).items())
    numbering.append(parse_xml(f'<w:num {W} w:numId="{num}"><w:abstractNumId w:val="{abstract}"/>'
                               f'{over}</w:num>'))
    return str(num)


def _number(paragraph, num_id: str, level: int = 0) -> None:
    p_pr = paragraph._p.get_or_add_pPr()
    p_pr.append(parse_xml(f'<w:numPr {W}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/>'
                          "</w:numPr>"))


def _bytes(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------- a 序号 column numbered by Word


def _numbered_table(fmt: str = "decimal", text: str = "%1") -> bytes:
    """序号 | 重点任务 | 牵头单位: the 序号 cells hold no text, Word numbers them; the part
    headings are a Word list too (一、 二、), the tasks' numbering running on across parts."""
    document = docx.Document()
    parts = _define(document, [("chineseCounting", "%1、")], abstract=91, num=91)
    codes = _define(document, [(fmt, text)], abstract=92, num=92)
    table = document.add_table(rows=6, cols=3)
    for col, head in enumerate(["序号", "重点任务", "牵头单位"]):
        table.cell(0, col).text = head
    rows = [("part", "完善服务体系"), ("task", "建设服务平台。", "市政务服务办"),
            ("task", "优化办事流程。", "市大数据局"), ("part", "加强保障"),
            ("task", "落实经费。", "市财政局")]
    for r, row in enumerate(rows, start=1):
        if row[0] == "part":
            cell = table.cell(r, 0).merge(table.cell(r, 2))
            cell.text = row[1]
            _number(cell.paragraphs[0], parts)
        else:
            _number(table.cell(r, 0).paragraphs[0], codes)
            table.cell(r, 1).text, table.cell(r, 2).text = row[1], row[2]
    return _bytes(document)


def test_a_code_column_numbered_by_word_reads_as_word_shows_it():
    c = import_table(_numbered_table(), "方案.docx", _plan()).catalog
    assert [(m.code, m.section, m.title, m.lead) for m in c.measures] == [
        ("1", "完善服务体系", "建设服务平台", "市政务服务办"),
        ("2", "完善服务体系", "优化办事流程", "市大数据局"),
        ("3", "加强保障", "落实经费", "市财政局")]


@pytest.mark.parametrize(("fmt", "text", "codes"), [
    ("decimal", "%1.", ["1", "2", "3"]),
    ("chineseCounting", "（%1）", ["（一）", "（二）", "（三）"]),
    ("upperLetter", "%1.", ["A", "B", "C"]),
    ("decimalFullWidth", "%1", ["1", "2", "3"]),
])
def test_word_number_formats_in_the_code_column(fmt, text, codes):
    c = import_table(_numbered_table(fmt, text), "方案.docx", _plan()).catalog
    assert [m.code for m in c.measures] == codes


def test_a_numbering_format_not_written_is_refused_on_its_rows():
    assert _refusals(_numbered_table("ordinalText", "%1"), "方案.docx") == [
        f"第1个表格第{r}行 第1列（序号）：为 Word 自动编号，系统无法确定其显示的编号"
        "（编号格式“英文序数词”）；"
        "请在 Word/WPS 中将自动编号改为手工输入的文字后再导入" for r in (3, 4, 6)]


# --------------------------------------------------------------- the rules of counting


def test_levels_restart_overrides_and_lists_continue_as_in_word():
    document = docx.Document()
    outline = _define(document, [("chineseCounting", "%1、"), ("chineseCounting", "（%2）"),
                                 ("decimal", "%3."), ("decimal", "%3.%4")],
                      abstract=93, num=93, suffix="tab")
    again = _define(document, [], abstract=93, num=94, reuse=True)  # same list, continues
    fresh = _define(document, [], abstract=93, num=95, reuse=True, overrides={0: 1})
    plain = document.add_paragraph("正文，不编号")
    shape = [(outline, 0, "总体要求"), (outline, 1, "指导思想"), (outline, 1, "基本原则"),
             (outline, 2, "坚持统筹"), (outline, 2, "坚持创新"), (outline, 0, "主要任务"),
             (outline, 1, "完善制度"), (outline, 2, "建立机制"), (outline, 3, "细则"),
             (again, 0, "保障措施"), (fresh, 0, "另一文件"), (fresh, 1, "其一")]
    paragraphs = []
    for num, level, text in shape:
        paragraph = document.add_paragraph(text)
        _number(paragraph, num, level)
        paragraphs.append(paragraph)
    labels = numbering_labels(document)
    assert plain._p not in labels
    assert [labels[p._p] for p in paragraphs] == [
        "一、 ", "（一） ", "（二） ", "1. ", "2. ", "二、 ", "（一） ", "1. ", "1.1 ", "三、 ",
        "一、 ", "（一） "]


def test_a_style_numbered_list_and_a_missing_definition():
    document = docx.Document()
    first = document.add_paragraph("甲", style="List Number")
    second = document.add_paragraph("乙", style="List Number")
    lost = document.add_paragraph("丙")
    _number(lost, "777")
    labels = numbering_labels(document)
    assert [labels[first._p], labels[second._p]] == ["1. ", "2. "]
    assert labels[lost._p] == Unrendered("编号定义（numId 777）在文档中缺失")


@pytest.mark.parametrize(("n", "text"), [(1, "一"), (10, "十"), (11, "十一"), (20, "二十"),
                                         (21, "二十一"), (100, "一百"), (105, "一百零五"),
                                         (110, "一百一十"), (1001, "一千零一")])
def test_chinese_counting(n, text):
    assert chinese_counting(n) == text


# --------------------------------------------------------------- a text plan's levels as a list


def test_a_text_plan_whose_levels_are_a_word_list_keeps_its_numbers():
    document = docx.Document()
    levels = _define(document, [("chineseCounting", "%1、"), ("chineseCounting", "（%2）")],
                     abstract=96, num=96)
    document.add_paragraph("某市关于加快养老服务发展的实施意见")
    for level, text in [(0, "总体要求"), (0, "主要任务"),
                        (1, "完善养老服务体系。加快建设。（市民政局负责）"),
                        (1, "加强人才队伍建设。（市人力资源社会保障局负责）")]:
        _number(document.add_paragraph(text), levels, level)
    assert docx_paragraphs(_bytes(document), "意见.docx") == [
        "某市关于加快养老服务发展的实施意见", "一、总体要求", "二、主要任务",
        "（一）完善养老服务体系。加快建设。（市民政局负责）",
        "（二）加强人才队伍建设。（市人力资源社会保障局负责）"]


def test_a_text_plan_numbered_in_a_format_not_written_is_refused_naming_the_paragraph():
    document = docx.Document()
    levels = _define(document, [("ordinal", "%1")], abstract=97, num=97)
    document.add_paragraph("标题")
    _number(document.add_paragraph("任务"), levels)
    with pytest.raises(SourceError) as caught:
        docx_paragraphs(_bytes(document), "意见.docx")
    assert str(caught.value) == ("意见.docx：第2段为 Word 自动编号，系统无法确定其显示的编号"
                                 "（编号格式“序数（1st）”）；"
                                 "请在 Word/WPS 中将自动编号改为手工输入的文字后再导入")
