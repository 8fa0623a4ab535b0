"""A published document read into its paragraphs, whatever file it came in (issue 13).

Plain text in UTF-8 (with or without a byte-order mark), UTF-16 with its mark, or GB18030
(which includes GBK and GB2312), and Word .docx files (each paragraph's text, in order, via
python-docx; .doc and WPS .wps converted to .docx by LibreOffice when it is installed).
One line of text, or one Word paragraph, is one paragraph; each keeps its number so a
refusal can name it (第 N 行 / 第 N 段). Anything else is refused with a Chinese reason,
never a traceback: an .xlsx or .csv table goes to `tracker catalog import`.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tracker.exchange.convert import NO_CONVERTER, Converter
from tracker.exchange.package import OLE_MAGIC
from tracker.ops.files import os_reason

_BOM = b"\xef\xbb\xbf"
MAX_BYTES = 20 * 1024 * 1024  # a plan's text is a few hundred KB; a 20 MB file is a mistake


class SourceError(ValueError):
    """The file cannot be read as a document; the message is Chinese and names the file."""


@dataclass(frozen=True)
class Source:
    """A document's paragraphs in order; `unit` is 行 (text) or 段 (Word)."""

    name: str
    paragraphs: list[str]
    unit: str = "行"
    encoding: str = "utf-8"

    def where(self, number: int) -> str:
        """`第12行` / `第12段`: how a problem names paragraph `number` (1-based)."""
        return f"第{number}{self.unit}"


def decode_text(data: bytes, name: str = "文件") -> tuple[str, str]:
    """Bytes of a text document as (text, encoding name).

    UTF-8 with a BOM, UTF-16 with its BOM, then UTF-8, then GB18030 (a superset of GBK
    and GB2312). Raises
    SourceError when none fits (a binary file, or another encoding).
    """
    if data.startswith(_BOM):
        try:
            return data[len(_BOM):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise SourceError(f"{name}：以 UTF-8 标记开头，但第 {exc.start + 1} 字节起不是有效的 "
                              "UTF-8 文字") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Notepad's "Unicode"
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise SourceError(f"{name}：以 UTF-16 标记开头，但内容不是有效的 UTF-16 文字") from None
    if b"\x00" in data[:4096]:
        raise SourceError(f"{name}：不是文本文件（含二进制内容），请另存为 UTF-8 或 GBK 编码的"
                          "纯文本，或 .docx 文档")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise SourceError(f"{name}：无法识别文字编码（应为 UTF-8 或 GBK/GB18030），请另存为 UTF-8 "
                          "编码的纯文本") from None


def read_source(path: Path, converter: Converter = NO_CONVERTER) -> Source:
    """Read `path` (.txt or any text file, .docx; .doc or .wps converted to .docx by
    LibreOffice through `converter`) into paragraphs.

    Raises SourceError (Chinese, naming the file) for a missing or unreadable file, an
    unknown encoding, a damaged .docx, a legacy Word document that cannot be converted,
    or a table format this reader does not take.
    """
    name = path.name
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xls", ".csv", ".et"}:
        raise SourceError(f"{name}：这是表格文件，请用 tracker catalog import 导入任务分工表")
    if suffix == ".pdf":
        raise SourceError(f"{name}：不支持 {suffix} 格式，请在 Word/WPS 中另存为 .docx 或纯文本")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SourceError(f"{name}：文件过大（{size // 1024 // 1024} MB），规划文本一般不超过 "
                              f"{MAX_BYTES // 1024 // 1024} MB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{name}：文件不存在") from None
    except IsADirectoryError:
        raise SourceError(f"{name}：这是文件夹，不是文件") from None
    except OSError as exc:
        raise SourceError(f"{name}：无法读取（{os_reason(exc)}）") from None
    if suffix in {".doc", ".wps"} or data.startswith(OLE_MAGIC):
        from tracker.catalog.word_text import as_docx

        data = as_docx(data, suffix, converter, lambda reason: SourceError(f"{name}：{reason}"))
        if not data.startswith(b"PK\x03\x04"):
            raise SourceError(f"{name}：不是有效的 Word 文档（文件可能已损坏，或是改了扩展名的其他格式），"
                              "请在 Word/WPS 中重新另存为 .docx")
    if suffix in {".docx", ".doc", ".wps"} or data.startswith(b"PK\x03\x04"):
        return Source(name, docx_paragraphs(data, name), unit="段", encoding="docx")
    text, encoding = decode_text(data, name)
    return Source(name, text.splitlines(), unit="行", encoding=encoding)


def docx_paragraphs(data: bytes, name: str = "文件") -> list[str]:
    """The text of each body paragraph of a .docx, in order (tables are not read here),
    as Word shows it with tracked changes accepted (`word_text`: insertions, smart tags,
    content controls and fields read), each automatically numbered paragraph with its
    number as Word shows it (一、 （一） 1., `word_numbering`), since a plan's levels are
    often Word lists rather than typed.

    Raises SourceError when the file is not a readable Word document, or names the
    paragraph (第N段) whose automatic number cannot be written out.
    """
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError):
        raise SourceError(f"{name}：不是有效的 .docx 文档（文件可能已损坏，或是改了扩展名的其他"
                          "格式），请在 Word/WPS 中重新另存为 .docx") from None
    except Exception as exc:  # lxml and zip errors of a damaged package
        raise SourceError(f"{name}：无法读取 .docx 文档（{type(exc).__name__}），请重新另存") from None
    from tracker.catalog.word_numbering import Unrendered, numbering_labels
    from tracker.catalog.word_text import PARAGRAPH, blocks, paragraph_text

    labels = numbering_labels(document)
    texts = []
    for number, p in enumerate(blocks(document.element.body, PARAGRAPH), start=1):
        label = labels.get(p, "")
        if isinstance(label, Unrendered):
            raise SourceError(f"{name}：第{number}段为 Word 自动编号，系统无法确定其显示的编号"
                              f"（{label.reason}）；请在 Word/WPS 中将自动编号改为手工输入的文字后再导入")
        texts.append(label + paragraph_text(p))
    return texts
