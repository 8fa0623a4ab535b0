"""The circular and the 督办通知单 against GB/T 9704-2012's measurable rules (issue 12).

First the rendered .docx read back with python-docx (page, margins, fonts, sizes and colours
per element, 文号 and 成文日期 patterns, odd/even page numbers, 版记, the annex's totals, the
office's own template); then the PDF LibreOffice makes of it (page size and count, the
page numbers' places, 22 lines of 28 characters, the annex's codes and total). Each kind is
converted once for the module (`pdfs`).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from tests.documents.sample import AGENCIES, COUNTS, groups, sample
from tracker.documents import make_templates
from tracker.documents.render import (
    TEMPLATE_DIR,
    TemplateFailed,
    body_block,
    docx_to_pdf,
    render_docx,
    template_context,
)

KINDS = ["circular", "supervision_notice"]
NUMBER = re.compile(r"〔\d{4}〕[1-9]\d*号$")
DATE = re.compile(r"^\d{4}年[1-9]\d?月[1-9]\d?日$")
# measured: page 1 the head and the body's start, page 2 the rest with 署名 and 成文日期,
# pages 3–6 the annex (60 items, 8 agency rows, 8 小计, 合计), page 7 the 版记 (one line
# below the table's end, which leaves no room on page 6)
PAGES = 7
MM = 72 / 25.4  # PDF points per millimetre


def docx_of(data: bytes) -> Any:
    return Document(io.BytesIO(data))


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def rendered(kind: str) -> bytes:
    return render_docx(sample(kind))


@pytest.fixture(scope="module")
def document(rendered: bytes) -> Any:
    return docx_of(rendered)


def paragraph(document: Any, text: str) -> Any:
    """The one body paragraph whose text is `text`."""
    found = [p for p in document.paragraphs if p.text == text]
    assert len(found) == 1, (text, [p.text for p in document.paragraphs])
    return found[0]


def fonts(run: Any) -> set[str | None]:
    """The run's font names for East Asian and Latin text (both must be set)."""
    rfonts = run._element.rPr.find(qn("w:rFonts"))
    return {rfonts.get(qn(a)) for a in ("w:eastAsia", "w:ascii", "w:hAnsi")}


def text_runs(p: Any) -> list[Any]:
    return [r for r in p.runs if r.text.strip()]


def assert_font(p: Any, name: str, size: float) -> None:
    runs = text_runs(p)
    assert runs, p.text
    for run in runs:
        assert fonts(run) == {name}, (p.text, fonts(run))
        assert run.font.size == Pt(size), (p.text, run.font.size)


def border(p: Any, side: str) -> Any:
    pbdr = p._p.pPr.find(qn("w:pBdr"))
    return None if pbdr is None else pbdr.find(qn(f"w:{side}"))


def near(actual: int | None, expected: int, tolerance: int = Mm(0.5)) -> bool:
    return actual is not None and abs(actual - expected) <= tolerance


# ---- the .docx ------------------------------------------------------------------------

def test_a4_and_the_four_margins(document: Any) -> None:
    section = document.sections[0]
    assert near(section.page_width, Mm(210)) and near(section.page_height, Mm(297))
    assert near(section.top_margin, Mm(37))  # 天头
    assert near(section.left_margin, Mm(28))  # 订口
    assert near(section.right_margin, Mm(26))
    assert near(section.bottom_margin, Mm(35))
    text_width = section.page_width - section.left_margin - section.right_margin
    text_height = section.page_height - section.top_margin - section.bottom_margin
    assert near(text_width, Mm(156)) and near(text_height, Mm(225))  # 版心


def test_issuer_mark_is_red_xiaobiaosong_centred_and_fits(document: Any) -> None:
    p = paragraph(document, "天津市人民政府督查室")
    assert p.alignment == WD_ALIGN_PARAGRAPH.CENTER
    (run,) = text_runs(p)
    assert fonts(run) == {"方正小标宋简体"}
    assert str(run.font.color.rgb) == "FF0000"
    assert run.font.size is not None and run.font.size >= Pt(26)
    assert len(p.text) * run.font.size <= Mm(156)  # one line within the 版心
    assert near(p.paragraph_format.space_before, Mm(35))  # 35 mm below the 版心's top


def test_number_under_the_mark_with_the_red_rule(kind: str, document: Any) -> None:
    number = "津政督〔2017〕3号" if kind == "circular" else "津政督办〔2017〕12号"
    p = paragraph(document, number)
    assert NUMBER.search(p.text)
    assert p.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert_font(p, "仿宋_GB2312", 16)
    rule = border(p, "bottom")
    assert rule is not None and rule.get(qn("w:color")) == "FF0000"
    assert rule.get(qn("w:val")) == "single" and int(rule.get(qn("w:space"))) == 11  # 4 mm
    fmt = p.paragraph_format  # no indent: the rule is as wide as the 版心
    assert not fmt.left_indent and not fmt.right_indent
    body = document.element.body
    mark = paragraph(document, "天津市人民政府督查室")._p
    assert body.index(p._p) == body.index(mark) + 1


def test_title_is_2hao_xiaobiaosong_centred(kind: str, document: Any) -> None:
    p = paragraph(document, sample(kind).title)
    assert p.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert_font(p, "方正小标宋简体", 22)


def test_addressees_flush_left_ending_in_a_full_width_colon(document: Any) -> None:
    p = paragraph(document, "各区人民政府、市有关部门：")
    assert p.alignment in (None, WD_ALIGN_PARAGRAPH.LEFT)
    assert not p.paragraph_format.first_line_indent and not p.paragraph_format.left_indent
    assert_font(p, "仿宋_GB2312", 16)


def test_body_is_3hao_fangsong_indented_two_characters_at_a_fixed_pitch(
        kind: str, document: Any) -> None:
    body = sample(kind).body
    for text in body:
        p = paragraph(document, text)
        fmt = p.paragraph_format
        assert fmt.first_line_indent == Pt(32)  # two characters of 16 pt
        assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert fmt.line_spacing == Pt(28.95)  # 22 lines in 225 mm
        for run in text_runs(p):
            assert run.font.size == Pt(16)
            spacing = run._element.rPr.find(qn("w:spacing"))
            assert spacing is not None and spacing.get(qn("w:val")) == "-5"  # 28 a line
    plain = paragraph(document, body[0])
    assert_font(plain, "仿宋_GB2312", 16)
    heading = paragraph(document, body[1])  # "一、总体情况。截至…": the heading in 黑体
    runs = text_runs(heading)
    assert [r.text for r in runs] == ["一、总体情况。", body[1][len("一、总体情况。"):]]
    assert fonts(runs[0]) == {"黑体"} and fonts(runs[1]) == {"仿宋_GB2312"}
    second = text_runs(paragraph(document, body[2]))
    assert second[0].text == "（一）市级部门。" and fonts(second[0]) == {"楷体_GB2312"}


def test_signature_centred_over_the_date_set_four_characters_from_the_right(
        document: Any) -> None:
    date = paragraph(document, "2017年4月25日")
    assert DATE.match(date.text)
    assert date.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert date.paragraph_format.right_indent == Pt(64)  # 右空四字 of 16 pt
    assert_font(date, "仿宋_GB2312", 16)
    signature = paragraph(document, "\t天津市人民政府督查室")
    (stop,) = signature.paragraph_format.tab_stops
    assert stop.alignment == WD_TAB_ALIGNMENT.CENTER
    # 2017年4月25日: 7 half-width digits, 3 characters, ¼ em where they meet (5 times)
    date_width = Pt(7 * 8 + 3 * 16 + 5 * 4)
    centre = Mm(156) - Pt(64) - date_width / 2
    assert abs(stop.position - centre) <= Pt(8)  # centred over the date, within ½ character
    body = document.element.body
    assert body.index(date._p) == body.index(signature._p) + 1


def test_dates_are_written_out_without_leading_zeros() -> None:
    context = template_context(sample("circular", date=__import__("datetime").date(2017, 4, 5)))
    assert context["date_text"] == "2017年4月5日"
    assert DATE.match(context["date_text"])
    assert context["printed_on_text"] == "2017年4月25日"


def test_page_numbers_in_odd_and_even_footers(document: Any) -> None:
    assert document.settings.odd_and_even_pages_header_footer is True
    section = document.sections[0]
    for footer, align, indent in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right_indent"),
                                  (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT,
                                   "left_indent")):
        (p,) = [p for p in footer.paragraphs if p.text]
        assert p.alignment == align
        assert getattr(p.paragraph_format, indent) == Pt(14)  # 空一字 of 4号
        xml = p._p
        parts = [(r.find(qn("w:fldChar")).get(qn("w:fldCharType"))
                  if r.find(qn("w:fldChar")) is not None else
                  r.find(qn("w:instrText")).text if r.find(qn("w:instrText")) is not None
                  else r.findtext(qn("w:t"))) for r in xml.iter(qn("w:r"))]
        assert parts == ["— ", "begin", " PAGE ", "separate", "1", "end", " —"]
        for run in p.runs:
            assert fonts(run) == {"宋体"} and run.font.size == Pt(14)


def test_colophon_lines_with_their_rules_at_the_end(document: Any) -> None:
    paragraphs = document.paragraphs
    cc = paragraph(document, "抄送：市委督查室，市绩效办。")
    printed = paragraph(document, "天津市人民政府督查室\t2017年4月25日印发")
    for p in (cc, printed):
        assert_font(p, "仿宋_GB2312", 14)
        assert p.paragraph_format.right_indent == Pt(14)  # 右空一字
    assert printed.paragraph_format.left_indent == Pt(14)  # 左空一字
    # 抄送's second line aligns after "抄送：", its first starts one character in
    assert cc.paragraph_format.left_indent + cc.paragraph_format.first_line_indent == Pt(14)
    i = [p._p for p in paragraphs].index(cc._p)
    rules = [paragraphs[i - 1], paragraphs[i + 1], paragraphs[i + 3]]
    assert paragraphs[i + 2]._p is printed._p
    assert paragraphs[-1]._p is rules[-1]._p  # the 版记 ends the document
    sizes = []
    for rule in rules:
        assert not rule.text and not rule.paragraph_format.left_indent  # 版心 wide
        b = border(rule, "bottom")
        assert b is not None and b.get(qn("w:val")) == "single"
        sizes.append(int(b.get(qn("w:sz"))))
    assert sizes == [8, 6, 8]  # 0.35 mm, 0.25 mm, 0.35 mm in eighths of a point


def test_without_cc_only_the_printed_line_between_thick_rules() -> None:
    document = docx_of(render_docx(sample("circular", cc=[])))
    assert not [p for p in document.paragraphs if p.text.startswith("抄送")]
    paragraphs = document.paragraphs
    assert paragraphs[-2].text == "天津市人民政府督查室\t2017年4月25日印发"
    assert [int(border(p, "bottom").get(qn("w:sz"))) for p in (paragraphs[-3], paragraphs[-1])
            ] == [8, 8]


def annex_table(document: Any) -> Any:
    (table,) = document.tables
    return table


def test_annex_on_a_new_page_grouped_with_subtotals_and_a_total(kind: str,
                                                                document: Any) -> None:
    doc = sample(kind)
    label = paragraph(document, "附件")
    assert label.paragraph_format.page_break_before is True
    assert_font(label, "黑体", 16)
    title = paragraph(document, doc.annex_title)
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert_font(title, "方正小标宋简体", 22)
    note = paragraph(document, "附件：逾期未报任务清单")  # 附件说明 under the body
    assert note.paragraph_format.first_line_indent == Pt(32)

    table = annex_table(document)
    rows = [[c.text for c in row.cells] for row in table.rows]
    header_tr = table.rows[0]._tr
    assert header_tr.trPr.find(qn("w:tblHeader")) is not None  # repeated on every page
    assert rows[0] == doc.annex_columns
    expected: list[list[str]] = [doc.annex_columns]
    for group in doc.annex_groups:
        expected.append([group.agency] * 5)  # one cell spanning the row
        expected.extend(group.rows)
        expected.append([f"小计：{group.count}项"] * 5)
    expected.append([f"合计：{doc.item_count}项"] * 5)
    assert rows == expected
    subtotals = [int(re.fullmatch(r"小计：(\d+)项", r[0]).group(1))  # type: ignore[union-attr]
                 for r in rows if r[0].startswith("小计")]
    assert subtotals == COUNTS == [g.count for g in doc.annex_groups]
    assert rows[-1][0] == "合计：60项" and doc.item_count == 60 == sum(subtotals)
    for cell in table.rows[2].cells[1:2]:  # an item's cell: 小四 仿宋, at least 10.5 pt
        assert_font(cell.paragraphs[0], "仿宋_GB2312", 12)


def test_annex_columns_follow_their_text(document: Any) -> None:
    """The task column gets what the short columns leave; a code or a date never wraps."""
    table = annex_table(document)
    widths = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert sum(widths) == Mm(156).twips
    assert widths.index(max(widths)) == 1  # 任务
    assert widths[3] >= (13 + 2.5) * 120 + 216  # "2017年4月10日" at 12 pt, with its margins
    for tr in table._tbl.findall(qn("w:tr")):
        cells = tr.findall(qn("w:tc"))
        if len(cells) == len(widths):
            assert [int(tc.tcPr.tcW.get(qn("w:w"))) for tc in cells] == widths


def test_no_annex_no_annex_page() -> None:
    document = docx_of(render_docx(sample("supervision_notice", annex_groups=[])))
    assert not document.tables
    texts = [p.text for p in document.paragraphs]
    assert "附件" not in texts and not [t for t in texts if t.startswith("附件：")]


def test_a_draft_says_so_top_right_and_a_signed_one_does_not() -> None:
    draft = docx_of(render_docx(sample("circular", draft=True)))
    signed = docx_of(render_docx(sample("circular")))
    for section_doc, expected in ((draft, "（稿）"), (signed, "")):
        section = section_doc.sections[0]
        for header in (section.header, section.even_page_header):
            (p,) = header.paragraphs
            assert p.text == expected
            assert p.alignment == WD_ALIGN_PARAGRAPH.RIGHT


def test_no_number_keeps_the_line_and_the_rule() -> None:
    document = docx_of(render_docx(sample("circular", number="", draft=True)))
    paragraphs = document.paragraphs
    mark = [p.text for p in paragraphs].index("天津市人民政府督查室")
    line = paragraphs[mark + 1]
    assert line.text == ""
    assert border(line, "bottom").get(qn("w:color")) == "FF0000"
    assert paragraphs[mark + 2].text == sample("circular").title


def test_user_text_stays_text() -> None:
    title = "关于<b>“A&B”</b>{{ 7*7 }}的通报"
    document = docx_of(render_docx(sample("circular", title=title, cc=["=SUM(A1)"])))
    assert paragraph(document, title).text == title
    paragraph(document, "抄送：=SUM(A1)。")


@pytest.mark.parametrize(("text", "heading1", "heading2", "rest"), [
    ("一、总体情况", "一、总体情况", "", ""),
    ("二、工作要求。各单位要高度重视。", "二、工作要求。", "", "各单位要高度重视。"),
    ("（三）市级部门。共56项。", "", "（三）市级部门。", "共56项。"),
    ("十一、" + "长" * 45 + "。", "十一、", "", "长" * 45 + "。"),
    ("按照任务分工，一、二项已完成。", "", "", "按照任务分工，一、二项已完成。"),
])
def test_body_block_splits_a_heading(text: str, heading1: str, heading2: str,
                                     rest: str) -> None:
    block = body_block(text)
    assert (block.heading1, block.heading2, block.text) == (heading1, heading2, rest)


# ---- templates ------------------------------------------------------------------------

def test_checked_in_templates_are_what_the_script_writes(tmp_path: Path) -> None:
    written = make_templates.main(tmp_path)
    assert [p.name for p in written] == ["circular.docx", "supervision_notice.docx"]
    for path in written:  # member by member: compressed bytes may differ by zlib version
        with zipfile.ZipFile(path) as fresh, zipfile.ZipFile(TEMPLATE_DIR / path.name) as ours:
            assert fresh.namelist() == ours.namelist()
            for name in fresh.namelist():
                assert fresh.read(name) == ours.read(name), (path.name, name)


def office_template(path: Path, *texts: str) -> None:
    """A minimal office letterhead: one paragraph per text (tags included)."""
    doc = Document()
    for text in texts:
        doc.add_paragraph(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))


def test_the_offices_template_is_used_when_present(tmp_path: Path) -> None:
    documents = tmp_path / "documents"
    office_template(documents / "circular.docx", "本室信笺 {{ issuer_mark }}",
                    "{{ number }}｜{{ date_text }}｜{{ item_count }}项")
    circular = docx_of(render_docx(sample("circular"), override_dir=documents))
    assert [p.text for p in circular.paragraphs] == [
        "本室信笺 天津市人民政府督查室", "津政督〔2017〕3号｜2017年4月25日｜60项"]
    # no office template for the other kind: ours
    notice = docx_of(render_docx(sample("supervision_notice"), override_dir=documents))
    assert "天津市人民政府督查室" in [p.text for p in notice.paragraphs]
    assert notice.tables


@pytest.mark.parametrize(("content", "reason"), [
    (None, "模板标签有误"),
    (b"PK\x03\x04 not really a zip", "不是有效的 Word（.docx）文件"),
    (b"hello", "不是有效的 Word（.docx）文件"),
    ("unknown", "模板引用了不存在的字段"),
])
def test_a_broken_office_template_is_refused_in_chinese(tmp_path: Path, content: Any,
                                                        reason: str) -> None:
    path = tmp_path / "circular.docx"
    if content is None:
        office_template(path, "{{ title ", "正文")
    elif content == "unknown":
        office_template(path, "{{ titel }}")
    else:
        path.write_bytes(content)
    with pytest.raises(TemplateFailed) as caught:
        render_docx(sample("circular"), override_dir=tmp_path)
    message = caught.value.message
    assert message.startswith("公文模板“circular.docx”（本单位模板）无法使用：")
    assert reason in message
    assert "Traceback" not in message and caught.value.status == 500
    if content == "unknown":
        assert "titel" in message


# ---- the PDF LibreOffice makes --------------------------------------------------------

def run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


class _Words(HTMLParser):
    """Pages and words of `pdftotext -bbox`: (page, xMin, yMin, xMax, word)."""

    def __init__(self) -> None:
        super().__init__()
        self.page = 0
        self.words: list[tuple[int, float, float, float, str]] = []
        self._box: tuple[float, float, float] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "page":
            self.page += 1
        elif tag == "word":
            self._box = (float(a["xmin"] or 0), float(a["ymin"] or 0), float(a["xmax"] or 0))

    def handle_data(self, data: str) -> None:
        if self._box is not None and data.strip():
            self.words.append((self.page, *self._box, data.strip()))
            self._box = None


def words(pdf: Path) -> list[tuple[int, float, float, float, str]]:
    parser = _Words()
    parser.feed(run("pdftotext", "-bbox", str(pdf), "-"))
    return parser.words


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each kind's sample converted once, and a document whose body fills pages."""
    for tool in ("soffice", "pdfinfo", "pdftotext", "pdffonts"):
        assert shutil.which(tool), f"{tool} is needed (.ci/run installs it)"
    folder = tmp_path_factory.mktemp("official-pdf")
    made = {}
    long_body = ["残疾人事业发展" * 160]  # 1120 CJK characters in one paragraph, no punctuation
    for name, doc in (*((k, sample(k)) for k in KINDS),
                      ("long", sample("circular", body=long_body, annex_groups=[]))):
        path = folder / f"{name}.pdf"
        path.write_bytes(docx_to_pdf(render_docx(doc), timeout=180))
        made[name] = path
    yield made


def test_pdf_is_a4_with_the_measured_page_count(kind: str, pdfs: dict[str, Path]) -> None:
    info = run("pdfinfo", str(pdfs[kind]))
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts",
                                         info).groups())  # type: ignore[union-attr]
    assert abs(width - 595) <= 1 and abs(height - 842) <= 1
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) == PAGES  # type: ignore[union-attr]


def test_pdf_states_the_total_and_every_code_in_order(kind: str, pdfs: dict[str, Path]) -> None:
    text = run("pdftotext", "-layout", str(pdfs[kind]), "-")
    flat = re.sub(r"\s+", "", text)
    assert "合计：60项" in flat and flat.count("合计：") == 1
    for agency, count in zip(AGENCIES, COUNTS, strict=True):
        assert f"{agency}" in flat
        assert f"小计：{count}项" in flat
    codes = re.findall(r"(?m)^\s*(\d+\.\d+\.\d+)\s", text)
    assert codes == [row[0] for g in groups() for row in g.rows]
    assert "2017年4月25日" in flat and "津政督" in flat
    assert "□" not in text and "\ufffd" not in text


def test_pdf_page_numbers_odd_right_even_left(kind: str, pdfs: dict[str, Path]) -> None:
    foot = 842 - 35 * MM  # the 版心's bottom edge
    numbers: dict[int, list[tuple[float, float, str]]] = {}
    for page, x0, y0, x1, word in words(pdfs[kind]):
        if y0 > foot:
            numbers.setdefault(page, []).append((x0, x1, word))
    assert sorted(numbers) == list(range(1, PAGES + 1))
    right_edge = 595.3 - 26 * MM - 14  # 右空一字 of 4号
    left_edge = 28 * MM + 14  # 左空一字
    for page, found in numbers.items():
        assert "".join(w for _, _, w in found) == f"—{page}—"
        start, end = min(x for x, _, _ in found), max(x for _, x, _ in found)
        if page % 2:
            assert abs(end - right_edge) <= 3, (page, end)
        else:
            assert abs(start - left_edge) <= 3, (page, start)
        top = min(y for p, _, y, _, _ in words(pdfs[kind]) if p == page and y > foot)
        assert 3 * MM <= top - foot <= 9 * MM  # about 7 mm below the 版心


def test_pdf_body_holds_22_lines_of_28_characters(pdfs: dict[str, Path]) -> None:
    found = [w for w in words(pdfs["long"]) if w[0] == 2 and w[2] < 842 - 35 * MM]
    lines: dict[float, str] = {}
    for _, _, y0, _, word in found:
        lines[round(y0)] = lines.get(round(y0), "") + word
    body = [text for _, text in sorted(lines.items()) if set(text) <= set("残疾人事业发展")]
    assert len(body) == 22  # page 2 is all body text: a full page
    assert {len(text) for text in body[1:-1]} == {28}


def test_a_missing_template_is_refused_in_chinese(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    import tracker.documents.render as render

    monkeypatch.setattr(render, "TEMPLATE_DIR", tmp_path)  # an installation without ours
    with pytest.raises(TemplateFailed) as caught:
        render_docx(sample("circular"))
    assert caught.value.message == "公文模板“circular.docx”不存在，无法生成公文"


def test_pdf_uses_cjk_faces_of_the_intended_kinds(kind: str, pdfs: dict[str, Path]) -> None:
    """fonts.conf at work: every embedded face is a Chinese one (no tofu, no Latin-only
    fallback for the digits); with Noto CJK (Debian's fonts-noto-cjk) 小标宋 is the bold
    serif, 仿宋/宋体 the regular serif and 黑体 the sans. Without fonts.conf LibreOffice sets
    everything in Noto Sans CJK and the digits in DejaVu Sans."""
    listing = run("pdffonts", str(pdfs[kind])).splitlines()[2:]
    names = {line.split()[0].split("+", 1)[-1] for line in listing}
    assert names
    assert all(re.search(r"CJK|FangSong|SimSun|SimHei|KaiTi|FZ|GB2312", n) for n in names), names
    if all("Noto" in n for n in names):
        faces = {re.sub(r"CJK\w\w-", "CJK-", n.removesuffix("-VKana")) for n in names}
        assert faces == {"NotoSerifCJK-Bold", "NotoSerifCJK-Regular", "NotoSansCJK-Regular"}
