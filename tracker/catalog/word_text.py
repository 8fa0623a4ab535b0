"""A Word paragraph's text as Word shows it with every tracked change accepted (issue 13).

python-docx's `Paragraph.text` reads only the paragraph's own runs and hyperlinks
(python-docx 1.2: `w:r | w:hyperlink`), so a clause typed while 修订 was on (`w:ins`), an
agency name inside a smart tag (`w:smartTag`), a content control (`w:sdt`), a simple field
(`w:fldSimple`) or custom XML is lost, and a paragraph that reads "牵头单位：" in the file
reads "牵头单位：市科技局" in Word. `paragraph_text` walks the paragraph's XML instead:

- the text of every `w:t` in document order, tabs as "\\t" and line breaks as "\\n"
  (as python-docx writes them), a non-breaking hyphen as "-";
- inserted (`w:ins`) and moved-here (`w:moveTo`) text kept, deleted (`w:del`, whose text is
  `w:delText`) and moved-away (`w:moveFrom`) text left out: the document as it reads once
  every change is accepted (Word's 最终状态 / "No Markup" view);
- text Word hides (`w:vanish` set on the run) left out, field codes (`w:instrText`) left out
  while the field's shown result is kept;
- a text box's own paragraphs (`w:txbxContent`) and the fallback copy of alternate content
  (`mc:Fallback`) left out: they are not this paragraph's text.

`blocks` lists a body's or a table cell's paragraphs (or tables) in order, through content
controls and custom XML that wrap them whole (`Document.paragraphs` and `.tables` skip
those). A table row deleted as a tracked change (`deleted_row`) is not in the document once
the changes are accepted.
Used by `sources` (a text plan in .docx) and `table_grids` (a Word table's cells), which
take a Word 97-2003 (.doc) or WPS 文字 (.wps) document converted to .docx by LibreOffice
(`as_docx`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from docx.oxml.ns import qn

from tracker.exchange.convert import ConversionRefused, Converter
from tracker.exchange.package import OLE_MAGIC

_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_T, _TAB, _BR, _CR, _HYPHEN = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr"), qn("w:noBreakHyphen")
_PTAB = qn("w:ptab")
# never the paragraph's shown text: deleted or moved away, properties, a text box's own
# paragraphs, the fallback copy of alternate content
_LEFT_OUT = {qn("w:del"), qn("w:moveFrom"), qn("w:pPr"), qn("w:rPr"), qn("w:txbxContent"),
             qn("w:instrText"), qn("w:delText"), qn("w:delInstrText"), qn("w:rt"),
             _MC + "Fallback"}
_RUN = qn("w:r")
_VANISH = qn("w:vanish")
_OFF = {"0", "false", "off"}
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")  # a password-protected Office file
# containers of whole paragraphs or tables at block level (a content control, custom XML)
_BLOCK_SDT, _SDT_CONTENT, _CUSTOM_XML = qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")
PARAGRAPH, TABLE = qn("w:p"), qn("w:tbl")


def _hidden(run: Any) -> bool:
    """Whether a run carries Word's hidden-text formatting (w:vanish not turned off)."""
    props = run.find(qn("w:rPr"))
    vanish = props.find(_VANISH) if props is not None else None
    return vanish is not None and vanish.get(qn("w:val"), "true").lower() not in _OFF


def paragraph_text(p: Any) -> str:
    """The text of the paragraph element `p` (a `w:p`, python-docx's `paragraph._p`) as
    Word shows it with every tracked change accepted (module docstring). Never raises for
    well-formed XML; an element of an unknown kind is read through to its text."""
    out: list[str] = []

    def walk(element: Any) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _LEFT_OUT:
                continue  # comments, processing instructions, left-out parts
            if tag == _T:
                out.append(child.text or "")
            elif tag in (_TAB, _PTAB):
                out.append("\t")
            elif tag == _BR:
                # a page or column break shows no character; a line break is a new line
                if child.get(qn("w:type"), "textWrapping") == "textWrapping":
                    out.append("\n")
            elif tag == _CR:
                out.append("\n")
            elif tag == _HYPHEN:
                out.append("-")
            elif tag == _RUN and _hidden(child):
                continue
            else:
                walk(child)

    walk(p)
    return "".join(out)


def blocks(container: Any, tag: str) -> Iterator[Any]:
    """The `tag` elements (PARAGRAPH or TABLE) of a body or table cell element
    (`document.element.body`, `cell._tc`) in order, including those wrapped whole in a
    content control (`w:sdt`) or custom XML; nothing inside a table of `container`."""
    for child in container:
        if child.tag == tag:
            yield child
        elif child.tag == _BLOCK_SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                yield from blocks(content, tag)
        elif child.tag == _CUSTOM_XML:
            yield from blocks(child, tag)


def deleted_row(tr: Any) -> bool:
    """Whether the table row element `tr` (`row._tr`) is deleted as a tracked change."""
    props = tr.find(qn("w:trPr"))
    return props is not None and props.find(qn("w:del")) is not None


def as_docx(data: bytes, suffix: str, converter: Converter,
                error: Callable[[str], Exception]) -> bytes:
    """`data` as a .docx: a Word 97-2003 (.doc) or WPS 文字 (.wps) document, whatever its
    name ends in, converted by LibreOffice (`Converter.to_docx`); anything else as it is.
    Raises `error(reason)` (Chinese) when the conversion is refused (no LibreOffice,
    busy, failed, too large)."""
    if not data.startswith(OLE_MAGIC):
        return data
    if _ENCRYPTED in data:
        raise error("文件设有打开密码，系统无法读取；请在 Word/WPS 中取消密码后另存，再导入")
    try:
        return converter.to_docx(data, suffix if suffix in (".doc", ".wps") else ".doc",
                                 "旧版 Word（.doc）或 WPS 文字（.wps）")
    except ConversionRefused as exc:
        raise error(str(exc)) from None
