"""Write the Word templates of the official documents (GB/T 9704-2012) with python-docx.

`python -m tracker.documents.make_templates` writes `templates/circular.docx` (通报) and
`templates/supervision_notice.docx` (督办通知单) beside this module; both are checked in.
They carry docxtpl (Jinja2) tags whose names are the fields of `render.template_context`
(see docs/documents.md). An office makes its own letterhead by editing a copy in Word/WPS.

The measurable rules of GB/T 9704-2012 followed here (section numbers of the standard):
- 5.2.1/5.2.2 A4; 天头 37 mm, 订口 28 mm, 版心 156 × 225 mm (right 26 mm, bottom 35 mm);
- 5.2.3 正文 3号仿宋, 22 lines of 28 characters a page: fixed line pitch 28.95 pt and
  character spacing −0.25 pt (16 pt + −0.25 pt = 15.75 pt; 28 of them fit 156 mm);
- 7.2.4 发文机关标志 centred, red, 小标宋, top edge 35 mm below the top of the 版心;
- 7.2.5 发文字号 two lines below it, centred; 7.2.7 a red rule 4 mm below it, 版心 wide;
- 7.3.1 标题 2号小标宋, centred, two lines below the rule; 7.3.2 主送机关 one line below the
  title, flush left, 3号仿宋; 7.3.3 正文 indented two characters, headings "一、" 黑体,
  "（一）" 楷体; 7.3.4 附件说明 one line below the body, indented two characters;
- 7.3.5 署名 centred over the 成文日期, 成文日期 右空四字;
- 7.3.5/8.4 附件 on a new page: "附件" 3号黑体 top left, its title centred;
- 7.4 版记: 抄送 and 印发 lines in 4号仿宋, 左右各空一字, rules 版心 wide, the first and last
  0.35 mm, the one between 0.25 mm; 7.5 page numbers "— 1 —" in 4号宋体 7 mm below the
  版心, odd pages 右空一字, even pages 左空一字.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor, Twips
from docx.table import Table
from docx.text.paragraph import Paragraph

from tracker.documents.render import ANNEX_CAPTION  # the annex table is found by it

TEMPLATE_DIR = Path(__file__).with_name("templates")
KINDS = ("circular", "supervision_notice")

# fonts by the names the standard uses (Windows/WPS names); fonts.conf maps them on Linux
XBS = "方正小标宋简体"
FS = "仿宋_GB2312"
HT = "黑体"
KT = "楷体_GB2312"
ST = "宋体"
RED = RGBColor(0xFF, 0x00, 0x00)

# sizes (pt): 小初 36, 二号 22, 三号 16, 四号 14, 小四 12
MARK_PT, TITLE_PT, BODY_PT, SMALL_PT, TABLE_PT = 36, 22, 16, 14, 12
LINE = Twips(579)  # 28.95 pt: 22 lines in the 225 mm 版心
TEXT_WIDTH = Mm(156)
CHAR_SPACING = -5  # twentieths of a point: 16 pt − 0.25 pt = 15.75 pt, 28 a line
DATE_RIGHT = Pt(4 * BODY_PT)  # 成文日期 右空四字
# the 署名 is centred over the 成文日期: a centre tab at the middle of a date such as
# "2017年4月25日" set 右空四字 (3 CJK characters, 7 half-width digits and the quarter-em
# spaces where they meet: 48 + 56 + 5 × 4 ≈ 124 pt at 16 pt)
SIGNATURE_CENTRE = Pt(442.2 - 4 * BODY_PT - 62)

# 版记 rules (w:sz is in eighths of a point): 0.35 mm ≈ 1 pt, 0.25 mm ≈ 0.75 pt
THICK, THIN = 8, 6

# alternative names written into the font table, for Word/WPS without the named font
ALT_NAMES = {XBS: "宋体", FS: "仿宋", KT: "楷体", HT: "SimHei", ST: "SimSun"}

TITLES = {"circular": "通报", "supervision_notice": "督办通知单"}


PPR_ORDER = ("pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl",
             "numPr", "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens",
             "kinsoku", "wordWrap", "overflowPunct", "topLinePunct", "autoSpaceDE",
             "autoSpaceDN", "bidi", "adjustRightInd", "snapToGrid", "spacing", "ind",
             "contextualSpacing", "mirrorIndents", "suppressOverlap", "jc", "textDirection",
             "textAlignment", "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr",
             "sectPr", "pPrChange")
RPR_ORDER = ("rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike",
             "dstrike", "outline", "shadow", "emboss", "imprint", "noProof", "snapToGrid",
             "vanish", "webHidden", "color", "spacing", "w", "kern", "position", "sz", "szCs",
             "highlight", "u", "effect", "bdr", "shd", "fitText", "vertAlign", "rtl", "cs", "em",
             "lang", "eastAsianLayout", "specVanish", "oMath")


def _insert(parent: Any, el: Any, order: tuple[str, ...]) -> Any:
    """Insert `el` into `parent` where the schema's sequence `order` puts it (Word refuses
    a file whose property elements are out of order); replaces one of the same name."""
    name = el.tag.rsplit("}", 1)[1]
    old = parent.find(qn(f"w:{name}"))
    if old is not None:
        parent.replace(old, el)
        return el
    later = order[order.index(name) + 1:]
    for child in parent:
        if child.tag.rsplit("}", 1)[-1] in later:
            child.addprevious(el)
            return el
    parent.append(el)
    return el


def _fonts(run: Any, name: str, size: float, *, color: RGBColor | None = None,
           bold: bool = False, spacing: int | None = None) -> None:
    """Set `run`'s font for every script (ascii, hAnsi, eastAsia, cs), size in pt."""
    run.font.name = name
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    if spacing is not None:
        el = OxmlElement("w:spacing")
        el.set(qn("w:val"), str(spacing))
        _insert(rpr, el, RPR_ORDER)


def _para(doc: Any, text: str = "", *, font: str = FS, size: float = BODY_PT,
          align: WD_ALIGN_PARAGRAPH | None = None, before: Any = 0, after: Any = 0,
          line: Any = LINE, color: RGBColor | None = None, spacing: int | None = None,
          first_line: Any = None, left: Any = None, right: Any = None,
          container: Any = None) -> Paragraph:
    """A paragraph with one run of `text` (tags included) formatted as the arguments say;
    lengths are python-docx lengths, `line` an exact line height."""
    p: Paragraph = (container or doc).add_paragraph()
    fmt = p.paragraph_format
    if align is not None:
        p.alignment = align
    fmt.space_before, fmt.space_after = before, after
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = line
    fmt.widow_control = False
    if first_line is not None:
        fmt.first_line_indent = first_line
    if left is not None:
        fmt.left_indent = left
    if right is not None:
        fmt.right_indent = right
    _no_grid(p)
    if text:
        _fonts(p.add_run(text), font, size, color=color, spacing=spacing)
    else:  # the paragraph mark's own size decides an empty line's height
        _mark_font(p, font, size)
    return p


def _no_grid(p: Paragraph) -> None:
    ppr = p._p.get_or_add_pPr()
    el = OxmlElement("w:snapToGrid")
    el.set(qn("w:val"), "0")
    _insert(ppr, el, PPR_ORDER)


def _mark_font(p: Paragraph, font: str, size: float) -> None:
    ppr = p._p.get_or_add_pPr()
    rpr = OxmlElement("w:rPr")
    fonts = OxmlElement("w:rFonts")
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), font)
    rpr.append(fonts)
    for tag in ("w:sz", "w:szCs"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), str(int(size * 2)))
        rpr.append(el)
    _insert(ppr, rpr, PPR_ORDER)


def _tag(doc: Any, tag: str, container: Any = None) -> None:
    """A paragraph holding only a docxtpl paragraph tag ({%p ... %}); docxtpl removes it."""
    _para(doc, tag, container=container, line=Pt(BODY_PT))


def _border(p: Paragraph, side: str, size: int, color: str = "000000", space: int = 0) -> None:
    """A `side` ("top"/"bottom") paragraph border, `size` in eighths of a point, `space` in pt."""
    ppr = p._p.get_or_add_pPr()
    pbdr = ppr.find(qn("w:pBdr"))
    if pbdr is None:
        pbdr = _insert(ppr, OxmlElement("w:pBdr"), PPR_ORDER)
    el = OxmlElement(f"w:{side}")
    el.set(qn("w:val"), "single")
    el.set(qn("w:sz"), str(size))
    el.set(qn("w:space"), str(space))
    el.set(qn("w:color"), color)
    if side == "top" and pbdr.find(qn("w:bottom")) is not None:
        pbdr.find(qn("w:bottom")).addprevious(el)
    else:
        pbdr.append(el)


def _page_number(footer: Any, odd: bool) -> None:
    """"— N —" in 4号宋体: odd pages right-aligned 右空一字, even pages left-aligned 左空一字."""
    p = footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = 0
    if odd:
        fmt.right_indent = Pt(SMALL_PT)
    else:
        fmt.left_indent = Pt(SMALL_PT)
    _fonts(p.add_run("— "), ST, SMALL_PT)
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"),
                       ("end", None)):
        run = p.add_run()
        _fonts(run, ST, SMALL_PT)
        if kind is not None:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._element.append(fld)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._element.append(instr)
        else:
            run.text = text
    _fonts(p.add_run(" —"), ST, SMALL_PT)


def _draft_mark(header: Any) -> None:
    """"稿" top right in 3号黑体 on every page of a draft (the header; empty otherwise)."""
    p = header.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _fonts(p.add_run("{% if draft %}（稿）{% endif %}"), HT, BODY_PT)


def _section(doc: Any) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.left_margin = Mm(37), Mm(28)
    section.right_margin, section.bottom_margin = Mm(26), Mm(35)
    section.header_distance = Mm(20)
    # the page number's 一字线 7 mm below the 版心: its 4号 line (≈ 6 mm) ends ≈ 22 mm up
    section.footer_distance = Mm(22)
    section.gutter = 0
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer, odd=True)
    _page_number(section.even_page_footer, odd=False)
    _draft_mark(section.header)
    _draft_mark(section.even_page_header)
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.attrib.pop(qn("w:type"), None)  # no snapping: every paragraph sets its own line
    grid.set(qn("w:linePitch"), "579")


def _styles(doc: Any) -> None:
    """Normal: 3号仿宋, Chinese as the East Asian language (LibreOffice picks CJK fonts by it)."""
    normal = doc.styles["Normal"]
    normal.font.name = FS
    normal.font.size = Pt(BODY_PT)
    rpr = normal.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FS)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    normal.paragraph_format.space_after = 0
    normal.paragraph_format.space_before = 0


def _font_table(doc: Any) -> None:
    """Declare the standard's fonts in word/fontTable.xml with an alternative name and the
    GB2312 charset, so Word/WPS without them substitute a Chinese face of the same kind."""
    from lxml import etree

    part = next(p for p in doc.part.package.iter_parts()
                if str(p.partname) == "/word/fontTable.xml")
    root = etree.fromstring(part.blob)
    for name, alt in ALT_NAMES.items():
        font = etree.SubElement(root, qn("w:font"))
        font.set(qn("w:name"), name)
        etree.SubElement(font, qn("w:altName")).set(qn("w:val"), alt)
        etree.SubElement(font, qn("w:charset")).set(qn("w:val"), "86")
        family = "swiss" if name == HT else "roman"
        etree.SubElement(font, qn("w:family")).set(qn("w:val"), family)
        etree.SubElement(font, qn("w:pitch")).set(qn("w:val"), "variable")
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _head(doc: Any) -> None:
    """版头: 发文机关标志, 发文字号 and the red rule; 标题; 主送机关."""
    _para(doc, "{{ issuer_mark }}", font=XBS, size=MARK_PT, align=WD_ALIGN_PARAGRAPH.CENTER,
          before=Mm(35), line=Pt(MARK_PT * 1.25), color=RED)
    number = _para(doc, "{{ number }}", align=WD_ALIGN_PARAGRAPH.CENTER, before=LINE * 2)
    _border(number, "bottom", 12, color="FF0000", space=11)  # 1.5 pt red, 4 mm below
    _para(doc, "{{ title }}", font=XBS, size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER,
          before=LINE * 2, line=Pt(35))
    _para(doc, "{{ addressee_line }}", before=LINE, spacing=CHAR_SPACING)


def _body(doc: Any) -> None:
    """正文 paragraphs (a heading's ordinal part in 黑体/楷体), 附件说明, 署名 and 成文日期."""
    _tag(doc, "{%p for block in body_blocks %}")
    p = _para(doc, first_line=Pt(2 * BODY_PT), align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _fonts(p.add_run("{{ block.heading1 }}"), HT, BODY_PT, spacing=CHAR_SPACING)
    _fonts(p.add_run("{{ block.heading2 }}"), KT, BODY_PT, spacing=CHAR_SPACING)
    _fonts(p.add_run("{{ block.text }}"), FS, BODY_PT, spacing=CHAR_SPACING)
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p if annex_groups %}")
    _para(doc, "附件：{{ annex_title }}", before=LINE, first_line=Pt(2 * BODY_PT),
          spacing=CHAR_SPACING)
    _tag(doc, "{%p endif %}")
    sig = _para(doc, "\t{{ signature }}", before=LINE * 2)
    sig.paragraph_format.tab_stops.add_tab_stop(SIGNATURE_CENTRE, WD_TAB_ALIGNMENT.CENTER)
    sig.paragraph_format.keep_with_next = True
    _para(doc, "{{ date_text }}", align=WD_ALIGN_PARAGRAPH.RIGHT, right=DATE_RIGHT)


def _cell(cell: Any, text: str, *, font: str = FS, align: WD_ALIGN_PARAGRAPH | None = None,
          bold: bool = False) -> None:
    p = cell.paragraphs[0]
    p.paragraph_format.space_before = p.paragraph_format.space_after = Pt(2)
    p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    p.paragraph_format.line_spacing = Pt(TABLE_PT * 1.4)
    p.paragraph_format.widow_control = False
    if align is not None:
        p.alignment = align
    _no_grid(p)
    _fonts(p.add_run(text), font, TABLE_PT, bold=bold)


def _row_props(row: Any, *, header: bool = False) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:cantSplit")
    trpr.append(el)
    if header:
        trpr.append(OxmlElement("w:tblHeader"))


def _annex(doc: Any) -> None:
    """附件 on a new page: "附件", its title, the table grouped by agency with 小计 and 合计."""
    _tag(doc, "{%p if annex_groups %}")
    p = _para(doc, "附件", font=HT)
    p.paragraph_format.page_break_before = True
    _para(doc, "{{ annex_title }}", font=XBS, size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER,
          before=LINE, after=LINE, line=Pt(35))
    # docxtpl: a cell holding {%tc ...%} and a row holding {%tr ...%} are replaced by the tag,
    # so a repeated cell stands between two tag cells and the tag rows are one merged cell
    table: Table = doc.add_table(rows=9, cols=3)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tblpr = table._tbl.tblPr
    width = OxmlElement("w:tblW")
    width.set(qn("w:w"), str(TEXT_WIDTH.twips))
    width.set(qn("w:type"), "dxa")
    tblpr.replace(tblpr.find(qn("w:tblW")), width)
    caption = OxmlElement("w:tblCaption")
    caption.set(qn("w:val"), ANNEX_CAPTION)
    tblpr.append(caption)
    tag_width = Mm(20)
    for column, w in zip(table.columns, (tag_width, TEXT_WIDTH - tag_width * 2, tag_width),
                         strict=True):
        column.width = w
        for cell in column.cells:
            cell.width = w
    span = "{% colspan annex_columns|length %}"
    rows = table.rows
    centre, left, right = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.RIGHT
    for index, (first, middle, last) in ((0, ("{%tc for column in annex_columns %}",
                                              "{{ column }}", "{%tc endfor %}")),
                                         (4, ("{%tc for cell in row %}", "{{ cell }}",
                                              "{%tc endfor %}"))):
        cells = rows[index].cells
        _cell(cells[0], first)
        _cell(cells[1], middle, font=HT if index == 0 else FS,
              align=centre if index == 0 else None)
        _cell(cells[2], last)
    for index, text, font, align in ((1, "{%tr for group in annex_groups %}", FS, None),
                                     (2, span + "{{ group.agency }}", HT, left),
                                     (3, "{%tr for row in group.rows %}", FS, None),
                                     (5, "{%tr endfor %}", FS, None),
                                     (6, span + "小计：{{ group.count }}项", FS, right),
                                     (7, "{%tr endfor %}", FS, None),
                                     (8, span + "合计：{{ item_count }}项", HT, right)):
        merged = rows[index].cells[0].merge(rows[index].cells[2])
        _cell(merged, text, font=font, align=align)
        if index == 2:  # an agency's name stays on the page of its first item
            merged.paragraphs[0].paragraph_format.keep_with_next = True
    _row_props(rows[0], header=True)
    for row in rows[1:]:
        _row_props(row)
    _tag(doc, "{%p endif %}")


def _colophon(doc: Any) -> None:
    """版记 after the last text (one line below it, kept together): rule (0.35 mm), 抄送
    line, rule (0.25 mm), 印发 line, rule (0.35 mm); without 抄送机关 only the 印发 line
    between two 0.35 mm rules. (The standard puts it at the foot of the last page. Neither
    a frame (w:framePr) nor a floating table as wide as the 版心 keeps that place when
    LibreOffice 7.4 imports the file, so the 版记 follows the text.)"""
    indent = Pt(SMALL_PT)  # 一字 of 4号

    def rule(size: int, before: Any = 0) -> None:
        # an empty 1 pt paragraph whose bottom border is the rule (版心 wide: no indent)
        p = _para(doc, line=Pt(1), size=1, before=before)
        p.paragraph_format.keep_with_next = True
        _border(p, "bottom", size)

    def printed() -> None:
        p = _para(doc, "{{ printer }}\t{{ printed_on_text }}印发", size=SMALL_PT,
                  left=indent, right=indent)
        # tab positions count from the 版心's left edge, not from the indent
        p.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH - indent, WD_TAB_ALIGNMENT.RIGHT)
        p.paragraph_format.keep_with_next = True
        rule(THICK)

    _tag(doc, "{%p if cc %}")
    rule(THICK, before=LINE)
    # 左右各空一字; a second line aligns with the first name after "抄送："
    cc = _para(doc, "抄送：{{ cc_line }}", size=SMALL_PT, left=indent * 4, right=indent,
               first_line=-indent * 3)
    cc.paragraph_format.keep_with_next = True
    rule(THIN)
    printed()
    _tag(doc, "{%p else %}")
    rule(THICK, before=LINE)
    printed()
    _tag(doc, "{%p endif %}")


def build(kind: str) -> Any:
    """The template of `kind` ("circular" or "supervision_notice") as a python-docx Document."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    doc = Document()
    _styles(doc)
    _section(doc)
    _font_table(doc)
    props = doc.core_properties
    props.title, props.author, props.comments = "{{ title }}", "{{ issuer_mark }}", ""
    props.subject = TITLES[kind]
    props.last_modified_by = ""
    # fixed stamps, so regenerating an unchanged template gives the same properties
    props.created = props.modified = dt.datetime(2026, 12, 1)
    props.revision = 1
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):  # the default empty paragraph
        body.remove(p)
    _head(doc)
    _body(doc)
    _annex(doc)
    _colophon(doc)
    return doc


def _stable(doc: Any) -> bytes:
    """The document's bytes with fixed zip timestamps, so regenerating an unchanged
    template changes no byte of the checked-in file."""
    raw = io.BytesIO()
    doc.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(2026, 12, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(item.filename))
    return out.getvalue()


def main(out_dir: Path = TEMPLATE_DIR) -> list[Path]:
    """Write both templates to `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = out_dir / f"{kind}.docx"
        path.write_bytes(_stable(build(kind)))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in main():
        print(written_path)
