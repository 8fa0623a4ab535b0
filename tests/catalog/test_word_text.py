"""A Word paragraph read as Word shows it with tracked changes accepted (issue 13, attacker
files 13 and 14): insertions kept, deletions left out, smart tags, content controls, fields
and hyperlinks read, hidden text and field codes left out; in a text plan (.docx) and in a
Word table. The documents are built here with the markup Word writes."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml

from tests.catalog.test_table_import import _plan
from tracker.catalog.sources import SourceError, docx_paragraphs, read_source
from tracker.catalog.table import TableImportError, import_table
from tracker.exchange.convert import Converter

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _el(xml: str):  # type: ignore[no-untyped-def]
    """An element from `xml`, the w: namespace declared on its first tag."""
    return parse_xml(re.sub(r"^<([\w:]+)", lambda m: f"<{m[1]} {W}", xml))


def _save(document) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_text_plan_paragraphs_as_word_shows_them_with_changes_accepted():
    document = docx.Document()
    p = document.add_paragraph("（一）建设创新平台。")
    p._p.append(_el('<w:ins w:id="1" w:author="a" w:date="2020-01-01T00:00:00Z"><w:r>'
                    "<w:t>（牵头单位：市科技局；配合单位：市发展改革委）</w:t></w:r></w:ins>"))
    p = document.add_paragraph("（二）培育企业。（牵头单位：")
    p._p.append(_el('<w:del w:id="2" w:author="a" w:date="2020-01-01T00:00:00Z"><w:r>'
                    "<w:delText>市经信局</w:delText></w:r></w:del>"))
    p._p.append(_el('<w:moveFrom w:id="3" w:author="a" w:date="2020-01-01T00:00:00Z"><w:r>'
                    "<w:t>市工信局</w:t></w:r></w:moveFrom>"))
    p._p.append(_el('<w:ins w:id="4" w:author="a" w:date="2020-01-01T00:00:00Z"><w:r>'
                    "<w:t>市科技局</w:t></w:r>"
                    '<w:del w:id="5" w:author="a" w:date="2020-01-01T00:00:00Z"><w:r>'
                    "<w:delText>、市商务局</w:delText></w:r></w:del></w:ins>"))
    p.add_run("；配合单位：")
    p._p.append(_el('<w:smartTag w:uri="x" w:element="place"><w:r><w:t>市税务局</w:t></w:r>'
                    "</w:smartTag>"))
    p._p.append(_el('<w:sdt><w:sdtPr><w:alias w:val="单位"/></w:sdtPr><w:sdtContent><w:r>'
                    "<w:t>、市财政局</w:t></w:r></w:sdtContent></w:sdt>"))
    p._p.append(_el('<w:fldSimple w:instr=" DOCPROPERTY 单位 "><w:r><w:t>、市统计局</w:t></w:r>'
                    "</w:fldSimple>"))
    p._p.append(_el('<w:hyperlink w:anchor="x"><w:r><w:t>、市委人才办</w:t></w:r></w:hyperlink>'))
    p._p.append(_el('<w:r><w:rPr><w:vanish/></w:rPr><w:t>（隐藏的批注）</w:t></w:r>'))
    p._p.append(_el('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'))
    p._p.append(_el('<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'))
    p._p.append(_el('<w:r><w:fldChar w:fldCharType="separate"/></w:r>'))
    p._p.append(_el("<w:r><w:t>）</w:t></w:r>"))
    p._p.append(_el('<w:r><w:fldChar w:fldCharType="end"/></w:r>'))
    p = document.add_paragraph("（三）加强基础研究。")
    p.add_run().add_break()
    p.add_run("（牵头单位：市科技局）")
    # a paragraph wrapped whole in a content control (Document.paragraphs skips it)
    document.element.body.insert(len(document.element.body) - 1, _el(
        "<w:sdt><w:sdtContent><w:p><w:r><w:t>（四）引进人才。（牵头单位：市委人才办）</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>"))
    assert docx_paragraphs(_save(document)) == [
        "（一）建设创新平台。（牵头单位：市科技局；配合单位：市发展改革委）",
        "（二）培育企业。（牵头单位：市科技局；配合单位：市税务局、市财政局、市统计局、市委人才办）",
        "（三）加强基础研究。\n（牵头单位：市科技局）",
        "（四）引进人才。（牵头单位：市委人才办）",
    ]


def test_a_word_table_read_with_changes_accepted_and_deleted_rows_left_out():
    document = docx.Document()
    document.add_paragraph("任务分工表")
    table = document.add_table(rows=4, cols=4)
    for r, row in enumerate([["序号", "重点任务", "牵头单位", "配合单位"],
                             ["1", "推进智慧交通建设", "市交通运输局", "市公安局"],
                             ["2", "推进智慧医疗建设", "", "市医保局"],
                             ["3", "已删除的任务", "市民政局", ""]]):
        for c, text in enumerate(row):
            if text:
                table.cell(r, c).text = text
    table.cell(2, 2).paragraphs[0]._p.append(_el(
        '<w:ins w:id="1" w:author="a" w:date="2020-01-01T00:00:00Z"><w:r><w:t>市卫生健康委</w:t>'
        "</w:r></w:ins>"))
    table.cell(1, 3).paragraphs[0]._p.append(_el(
        '<w:del w:id="2" w:author="a" w:date="2020-01-01T00:00:00Z"><w:r>'
        "<w:delText>、市交警支队</w:delText></w:r></w:del>"))
    table.rows[3]._tr.get_or_add_trPr().append(_el(
        '<w:del w:id="3" w:author="a" w:date="2020-01-01T00:00:00Z"/>'))
    c = import_table(_save(document), "t.docx", _plan()).catalog
    assert [(m.code, m.title, m.lead, m.co) for m in c.measures] == [
        ("1", "推进智慧交通建设", "市交通运输局", ["市公安局"]),
        ("2", "推进智慧医疗建设", "市卫生健康委", ["市医保局"])]


# --------------------------------------------------------------- Word 97-2003 through LibreOffice


@pytest.fixture(scope="module")
def legacy_doc(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A Word 97-2003 document (.doc), saved by LibreOffice from a .docx built here: a
    numbered measure in the text and a 任务分工表 below it."""
    folder = tmp_path_factory.mktemp("doc")
    document = docx.Document()
    document.add_paragraph("某市人民政府关于加快建设创新型城市的实施意见")
    document.add_paragraph("一、建设创新平台。新建市级重点实验室10家。（牵头单位：市科技局；配合单位：市财政局）")
    table = document.add_table(rows=2, cols=4)
    for r, row in enumerate([["序号", "重点任务", "牵头单位", "配合单位"],
                             ["1", "推进智慧交通建设", "市交通运输局", "市公安局"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.add_paragraph("某市人民政府")  # as documents end: LibreOffice drops a last table
    source = folder / "plan.docx"
    source.write_bytes(_save(document))
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation={(folder / 'p').as_uri()}",
                    "--convert-to", "doc", "--outdir", str(folder), str(source)],
                   check=True, capture_output=True, timeout=180)
    return folder / "plan.doc"


def test_a_legacy_word_table_and_text_are_read_through_libreoffice(legacy_doc):
    data = legacy_doc.read_bytes()
    assert data.startswith(b"\xd0\xcf\x11\xe0")  # the Word 97-2003 format indeed
    with pytest.raises(TableImportError) as refused:
        import_table(data, "分工表.doc", _plan())  # LibreOffice turned off
    assert [str(p) for p in refused.value.problems] == [
        "这是旧版 Word（.doc）或 WPS 文字（.wps）格式的文件，本系统无法直接读取；"
        "请在 Word/WPS 中另存为 .docx（Word 文档）后再导入"]
    converter = Converter.find("soffice", 120)
    c = import_table(data, "分工表.doc", _plan(), converter).catalog
    assert [(m.code, m.title, m.lead, m.co) for m in c.measures] == [
        ("1", "推进智慧交通建设", "市交通运输局", ["市公安局"])]
    # the same document as a text plan, and under a WPS name
    wps = legacy_doc.with_suffix(".wps")
    wps.write_bytes(data)
    for path in (legacy_doc, wps):
        source = read_source(path, converter)
        assert (source.unit, source.paragraphs) == ("段", [
            "某市人民政府关于加快建设创新型城市的实施意见",
            "一、建设创新平台。新建市级重点实验室10家。（牵头单位：市科技局；配合单位：市财政局）",
            "某市人民政府"])
    with pytest.raises(SourceError) as caught:
        read_source(legacy_doc)
    assert str(caught.value) == (
        "plan.doc：这是旧版 Word（.doc）或 WPS 文字（.wps）格式的文件，本系统无法直接读取；"
        "请在 Word/WPS 中另存为 .docx（Word 文档）后再导入")
