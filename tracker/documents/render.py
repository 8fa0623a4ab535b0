"""An `OfficialDocument` laid out as a Word file from a template (issue 12, items 1 and 2).

`render_docx` fills a docxtpl template (a .docx with Jinja2 tags; ours are written by
`make_templates` after GB/T 9704-2012) with `template_context(doc)`. The office may put its
own letterhead at `<override_dir>/<kind>.docx` (Settings.templates_dir / "documents"); it is
used instead of ours when present. Tags run in Jinja's sandbox with autoescaping (a title
with "<" or "&" stays text) and strict undefined names (a misspelt tag is an error naming
it, never a silent blank). Every failure of a template is a `TemplateFailed` naming the file.

`docx_to_pdf` converts a rendered file with LibreOffice headless, as the upload converter
does (its own profile in a temporary folder, its own process group killed on timeout, one
conversion at a time, lower CPU priority), with FONTCONFIG_FILE pointing at `fonts.conf`:
the standard's fonts (仿宋_GB2312, 方正小标宋简体, 黑体, 楷体_GB2312, 宋体) fall back to installed
faces of the same kind (Noto Serif/Sans CJK SC on Debian) when they are not installed.
"""

from __future__ import annotations

import io
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from tracker.dates.chinese import cn_date
from tracker.documents.content import AnnexGroup, OfficialDocument
from tracker.errors import DomainError
from tracker.exchange.convert import Converter

TEMPLATE_DIR = Path(__file__).with_name("templates")
FONTS_CONF = Path(__file__).with_name("fonts.conf")
ANNEX_CAPTION = "附件表"  # the annex table's caption (tblCaption), set by make_templates
_HEADING1 = re.compile(r"^[一二三四五六七八九十]+、")
_HEADING2 = re.compile(r"^（[一二三四五六七八九十]+）")
_LATIN_RUN = re.compile(r"[!-~]+")
_SHORT = 16  # half-characters (8 CJK characters, a date): a column this narrow never wraps
_HEADING_MAX = 40  # a heading sentence longer than this is body text after its ordinal


class TemplateFailed(DomainError):
    """A document template could not be used; the message names the file and the reason."""

    status = 500
    code = "template-failed"


class ConversionFailed(DomainError):
    """LibreOffice could not turn a document into PDF."""

    status = 503
    code = "render-failed"


@dataclass(frozen=True)
class BodyBlock:
    """One 正文 paragraph as the template sees it: `heading1` (a "一、" heading sentence,
    黑体), `heading2` (a "（一）" heading sentence, 楷体) and `text` (the rest, 仿宋)."""

    heading1: str
    heading2: str
    text: str


def body_block(paragraph: str) -> BodyBlock:
    """Split a 正文 paragraph into its heading and the rest (GB/T 9704-2012 7.3.3: the
    first level "一、" in 黑体, the second "（一）" in 楷体). The heading is the paragraph up
    to its first "。" when that comes within 40 characters (the whole paragraph when it
    has none), else only the ordinal."""
    for level, pattern in ((1, _HEADING1), (2, _HEADING2)):
        found = pattern.match(paragraph)
        if found is None:
            continue
        stop = paragraph.find("。")
        if stop == -1 and len(paragraph) <= _HEADING_MAX:
            head = paragraph
        elif 0 <= stop < _HEADING_MAX:
            head = paragraph[: stop + 1]
        else:
            head = found.group(0)
        rest = paragraph[len(head):]
        return BodyBlock(head, "", rest) if level == 1 else BodyBlock("", head, rest)
    return BodyBlock("", "", paragraph)


def template_context(doc: OfficialDocument) -> dict[str, Any]:
    """The names a template's tags see: every field of `doc` as it is (dates as
    `datetime.date`), and the derived texts the layout needs:

    - `date_text` / `printed_on_text`: 2017年4月25日 (no leading zeros);
    - `addressee_line`: "A、B、C：" ("" when there are no addressees);
    - `cc_line`: "A，B。" ("" when `cc` is empty);
    - `body_blocks`: `BodyBlock`s of `body`, in order;
    - `item_count`: the annex's items; each group has `agency`, `rows`, `count`.
    """
    return {
        "kind": doc.kind,
        "issuer_mark": doc.issuer_mark,
        "number": doc.number,
        "title": doc.title,
        "addressees": list(doc.addressees),
        "addressee_line": "、".join(doc.addressees) + "：" if doc.addressees else "",
        "body": list(doc.body),
        "body_blocks": [body_block(p) for p in doc.body],
        "signature": doc.signature,
        "date": doc.date,
        "date_text": cn_date(doc.date),
        "printer": doc.printer,
        "printed_on": doc.printed_on,
        "printed_on_text": cn_date(doc.printed_on),
        "cc": list(doc.cc),
        "cc_line": "，".join(doc.cc) + "。" if doc.cc else "",
        "annex_title": doc.annex_title,
        "annex_columns": list(doc.annex_columns),
        "annex_groups": [AnnexGroup(g.agency, [[str(c) for c in row] for row in g.rows])
                         for g in doc.annex_groups],
        "item_count": doc.item_count,
        "draft": doc.draft,
    }


def template_path(kind: str, override_dir: Path | None = None) -> Path:
    """The template used for `kind`: `<override_dir>/<kind>.docx` when that file exists,
    else ours in `templates/`."""
    if override_dir is not None:
        candidate = override_dir / f"{kind}.docx"
        # a broken link or a folder of that name is the office's template gone wrong, not
        # "no template": render_docx refuses it rather than print our letterhead
        if candidate.is_file() or candidate.is_symlink() or candidate.exists():
            return candidate
    return TEMPLATE_DIR / f"{kind}.docx"


def render_docx(doc: OfficialDocument, *, override_dir: Path | None = None) -> bytes:
    """The .docx bytes of `doc` laid out by its kind's template (see `template_path`).

    The annex table's columns are sized to their text (a short column keeps its width,
    long ones share the rest of the 版心). Raises `TemplateFailed` (a DomainError; Chinese,
    naming the template file) when the template is missing or not a Word file, a tag is malformed or
    names an unknown field, or the filled document is not valid Word XML.
    """
    from docx.opc.exceptions import PackageNotFoundError
    from docxtpl import DocxTemplate
    from lxml.etree import XMLSyntaxError

    path = template_path(doc.kind, override_dir)
    where = f"公文模板“{path.name}”" + ("（本单位模板）" if path.parent != TEMPLATE_DIR else "")
    if not path.is_file():
        raise TemplateFailed(f"{where}不存在，无法生成公文")
    try:
        template = DocxTemplate(str(path))
        template.render(template_context(doc),
                        jinja_env=SandboxedEnvironment(autoescape=True, undefined=StrictUndefined))
        _size_annex(template.docx)
        out = io.BytesIO()
        template.save(out)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError) as exc:
        raise TemplateFailed(f"{where}无法使用：不是有效的 Word（.docx）文件") from exc
    except TemplateSyntaxError as exc:
        raise TemplateFailed(f"{where}无法使用：模板标签有误（{exc.message}）"
                             f"{_near(exc)}") from exc
    except UndefinedError as exc:
        raise TemplateFailed(f"{where}无法使用：模板引用了不存在的字段（{exc.message}），"
                             "可用字段见 docs/documents.md") from exc
    except TemplateError as exc:
        raise TemplateFailed(f"{where}无法使用：模板标签有误（{exc.message}）") from exc
    except (XMLSyntaxError, ValueError) as exc:
        raise TemplateFailed(f"{where}无法使用：填入内容后不是有效的 Word 文档（{exc}）") from exc
    except (ArithmeticError, TypeError, LookupError, RecursionError, MemoryError,
            AttributeError) as exc:  # a tag that fails while it runs ({{ 1 / 0 }})
        raise TemplateFailed(f"{where}无法使用：模板标签运行出错（{type(exc).__name__}）") from exc
    return out.getvalue()


def _near(exc: TemplateSyntaxError) -> str:
    """The template text around a syntax error (docxtpl keeps it as `docx_context`)."""
    lines = [line.strip() for line in getattr(exc, "docx_context", []) if line.strip()]
    return f"，出错位置附近的文字：{' '.join(lines)[:120]}" if lines else ""


def _display_width(text: str) -> float:
    """Width in half-characters: 2 for a full-width (CJK) character, 1 otherwise, and ½
    where CJK text meets Latin text or digits (the quarter-em space Word and LibreOffice
    put between them)."""
    wide = [unicodedata.east_asian_width(ch) in "WF" for ch in text]
    switches = sum(1 for a, b in pairwise(wide) if a != b)
    return sum(2 if w else 1 for w in wide) + switches / 2


def _size_annex(document: Any) -> None:
    """Give the annex table's columns widths that follow their text: each column's
    natural width is its longest cell; columns narrower than a common cap keep it, the
    others share what is left (the table keeps its total width)."""
    from docx.oxml.ns import qn

    table = next((t for t in document.tables
                  if (cap := t._tbl.tblPr.find(qn("w:tblCaption"))) is not None
                  and cap.get(qn("w:val")) == ANNEX_CAPTION), None)
    if table is None:
        return
    tbl = table._tbl
    grid = tbl.tblGrid
    cols = grid.findall(qn("w:gridCol"))
    # the table's stated width (docxtpl's column loop rescales the grid, losing twips)
    tblw = tbl.tblPr.find(qn("w:tblW"))
    stated = int(tblw.get(qn("w:w")) or 0) if tblw is not None and \
        tblw.get(qn("w:type")) == "dxa" else 0
    total = stated or sum(int(float(c.get(qn("w:w")) or 0)) for c in cols)
    rows = [tr.findall(qn("w:tc")) for tr in tbl.findall(qn("w:tr"))]
    plain = [cells for cells in rows if len(cells) == len(cols)]
    if not cols or total <= 0 or not plain:
        return
    sz = tbl.find(".//" + qn("w:sz"))
    half_points = int(sz.get(qn("w:val"))) if sz is not None else 24
    unit = half_points * 5  # twips per half-character: (half_points / 2) pt * 20 / 2
    padding = 2 * 108 + unit  # the cell's margins and a little air
    texts = [["".join(t.text or "" for t in cell.iter(qn("w:t"))) for cell in cells]
             for cells in plain]
    natural = [max(_display_width(row[i]) for row in texts) * unit + padding
               for i in range(len(cols))]
    # what a column never goes below: a short column (≤ 8 CJK characters) all of its
    # text; another its header and its longest unbreakable run of Latin text or digits (a
    # code such as 2.10.1 never wraps), since CJK text wraps anywhere
    floor = [natural[i] if natural[i] <= _SHORT * unit + padding else
             min(natural[i], max([_display_width(texts[0][i]),
                                  *(_display_width(w) for row in texts
                                    for w in _LATIN_RUN.findall(row[i]))])
                 * unit + padding) for i in range(len(cols))]
    spare = max(total - sum(floor), 0)
    excess = [n - f for n, f in zip(natural, floor, strict=True)]
    widths = [float(f) for f in floor]
    while spare > 1 and any(e > 0 for e in excess):  # the rest, by what each still lacks
        wanting = sum(excess)
        share = [spare * e / wanting for e in excess]
        given = [min(s, e) for s, e in zip(share, excess, strict=True)]
        widths = [w + g for w, g in zip(widths, given, strict=True)]
        excess = [e - g for e, g in zip(excess, given, strict=True)]
        spare -= sum(given)
    if spare > 1:  # every column has its natural width: the rest in proportion
        widths = [w + spare * w / sum(widths) for w in widths]
    widths = [int(w * total / sum(widths)) for w in widths]
    widths[-1] += total - sum(widths)
    for col, w in zip(cols, widths, strict=True):
        col.set(qn("w:w"), str(w))
    for cells in rows:
        start = 0
        for tc in cells:
            span_el = tc.find(f"{qn('w:tcPr')}/{qn('w:gridSpan')}")
            span = int(span_el.get(qn("w:val"))) if span_el is not None else 1
            tcw = tc.find(f"{qn('w:tcPr')}/{qn('w:tcW')}")
            if tcw is not None:
                tcw.set(qn("w:w"), str(sum(widths[start:start + span])))
                tcw.set(qn("w:type"), "dxa")
                if span_el is not None:  # docxtpl's colspan puts gridSpan first; Word wants tcW
                    span_el.addprevious(tcw)
            start += span


def docx_to_pdf(data: bytes, *, soffice: str = "soffice", timeout: float = 120.0) -> bytes:
    """The PDF of the Word file `data`, made by LibreOffice headless (`soffice`: a program
    name on the PATH or a path, the setting TRACKER_SOFFICE; `timeout` in seconds bounds
    both the wait for the converter and the conversion). The standard's fonts fall back
    through `fonts.conf`. Raises ConversionFailed (Chinese) when LibreOffice is missing,
    busy beyond the timeout, fails or runs out of time."""
    converter = Converter.find(soffice, timeout)
    if converter.program is None:
        raise ConversionFailed("无法生成PDF：未安装 LibreOffice（soffice）")
    if not converter.slots.acquire(timeout=timeout):
        raise ConversionFailed("系统正忙于转换其他文件，暂未能生成PDF，请稍后重试")
    try:
        with tempfile.TemporaryDirectory(prefix="tracker-document-") as tmp:
            source = Path(tmp) / "document.docx"
            source.write_bytes(data)
            status = converter.run_soffice(source, "pdf:writer_pdf_Export",
                                           env={"FONTCONFIG_FILE": str(FONTS_CONF)})
            if status is None:
                raise ConversionFailed(f"LibreOffice 转换公文为PDF超时（超过 {timeout:g} 秒）")
            pdf = Path(tmp) / "out" / "document.pdf"
            if status != 0 or not pdf.is_file():
                raise ConversionFailed(f"LibreOffice 无法把公文转换为PDF（退出状态 {status}）")
            return pdf.read_bytes()
    finally:
        converter.slots.release()
