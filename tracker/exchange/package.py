"""What an uploaded workbook is, before any cell is parsed (issue 10, item 6).

Offices save sheets with WPS and old Excel as often as with the template's own Excel: this
module looks into the file as a ZIP package, cheaply and with bounded memory, and says
what it is and whether it is safe to parse:

- a legacy binary workbook (.xls, WPS .et: an OLE compound file) or a Strict Open XML
  workbook (another namespace that openpyxl does not read): `NeedsConversion`, which the
  reader hands to LibreOffice (`tracker.exchange.convert`) or refuses;
- a package whose members would inflate beyond `MAX_UNCOMPRESSED` bytes (shared strings
  that expand a few hundred KB into a gigabyte): refused before anything is inflated;
- a package whose worksheets hold more than `MAX_CELLS` cells, or whose shared strings
  table more than `MAX_CELLS` strings: refused after a streaming count that stops at the
  cap (memory bounded by one chunk, well under a second), before openpyxl parses a cell;
- the merged ranges of a sheet, and its hidden rows and columns (openpyxl's streaming
  reader reports neither).

Sizes are what the ZIP directory declares; a member that inflates beyond its declared
size is cut off by `zipfile` (it checks the CRC and size), so the bound holds.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from tracker.exchange.convert import SAVE_AS_XLSX

MAX_UNCOMPRESSED = 40 * 1024 * 1024  # an agency's sheet inflates to well under 1 MB
MAX_XML_READ = 8 * 1024 * 1024  # workbook.xml, its rels, one sheet's XML (merges only)
MAX_CELLS = 200_000  # cells in all worksheets; the template has ~12 per request row
CHUNK = 1024 * 1024  # bytes inflated at a time while counting cells
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CELL = re.compile(rb"<(?:\w+:)?c[\s/>]")
_STRING = re.compile(rb"<(?:\w+:)?si[\s/>]")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
_ROW = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_COL = re.compile(rb"<(?:\w+:)?col\b([^>]*)>")
_ATTR = re.compile(rb'\b(r|min|max|hidden)="([^"]*)"')


class PackageRefused(ValueError):
    """The file cannot be read as an ordinary .xlsx; the message (Chinese) says what to do."""


class NeedsConversion(PackageRefused):
    """A legacy (.xls/.et) or Strict Open XML workbook: readable once LibreOffice has saved
    it as an ordinary .xlsx. `suffix` is the file name ending LibreOffice expects, `what`
    the format's name in the messages."""

    def __init__(self, suffix: str, what: str):
        self.suffix, self.what = suffix, what
        super().__init__(f"这是{what}格式的文件，本系统无法直接读取；{SAVE_AS_XLSX}")


LEGACY = "旧版 Excel（.xls）或 WPS 表格（.et）"
STRICT = "“Strict Open XML 电子表格”"


@dataclass(frozen=True)
class Merge:
    """A merged range, columns 0-based, rows 1-based, inclusive."""

    first_col: int
    first_row: int
    last_col: int
    last_row: int


def check_package(data: bytes) -> zipfile.ZipFile:
    """The workbook's ZIP package, once it is known to be an ordinary .xlsx of bounded size.

    Raises NeedsConversion for a legacy .xls/.et or a Strict Open XML workbook, and
    PackageRefused for a file that is not a ZIP package, one whose members declare more
    than MAX_UNCOMPRESSED bytes, or one holding more than MAX_CELLS cells or strings.
    """
    if data.startswith(OLE_MAGIC):
        raise NeedsConversion(".xls", LEGACY)
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        members = package.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageRefused("不是有效的 Excel（.xlsx）文件，或文件已损坏；请使用系统下载的模板") from exc
    declared = sum(m.file_size for m in members)
    if declared > MAX_UNCOMPRESSED:
        raise PackageRefused(f"文件解压后过大（约 {declared / 1024 / 1024:.0f} MB，上限 "
                             f"{MAX_UNCOMPRESSED // 1024 // 1024} MB）；请使用系统下载的模板，"
                             "只填写其中的行")
    head = _read(package, "xl/workbook.xml", 4096)
    if head is not None and STRICT_NS.encode() in head:
        raise NeedsConversion(".xlsx", STRICT)
    cells = sum(_count(package, m.filename, _CELL) for m in members
                if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml"))
    strings = _count(package, "xl/sharedStrings.xml", _STRING)
    if max(cells, strings) > MAX_CELLS:
        raise PackageRefused(f"表格中的单元格过多（超过 {MAX_CELLS} 个）；请使用系统下载的模板，"
                             "只填写其中的行，勿在远处单元格留下内容或格式")
    return package


def _count(package: zipfile.ZipFile, name: str, pattern: re.Pattern[bytes]) -> int:
    """Occurrences of `pattern` (a tag's opening, "<c " or "<x:c ") in a member, inflated one
    CHUNK at a time; stops counting past MAX_CELLS. A chunk is counted up to its last "<",
    the rest is counted with the next chunk, so no tag is cut or counted twice."""
    found, text = 0, b""
    try:
        with package.open(name) as member:
            while found <= MAX_CELLS:
                chunk = member.read(CHUNK)
                text += chunk
                cut = text.rfind(b"<", max(len(text) - 64, 0)) if chunk else -1
                cut = len(text) if cut < 0 else cut
                found += len(pattern.findall(text, 0, cut))
                text = text[cut:]
                if not chunk:
                    break
    except KeyError:
        return 0
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageRefused("不是有效的 Excel（.xlsx）文件，或文件已损坏；请使用系统下载的模板") from exc
    return found


def merged_ranges(package: zipfile.ZipFile, sheet_name: str) -> list[Merge]:
    """The merged ranges of the sheet named `sheet_name` ([] if it has none or is absent)."""
    path = _sheet_path(package, sheet_name)
    xml = _read(package, path, MAX_XML_READ) if path else None
    if not xml:
        return []
    return [Merge(_col_index(a.decode()), int(r1), _col_index(b.decode()), int(r2))
            for a, r1, b, r2 in _MERGE.findall(xml)]


def hidden_lines(package: zipfile.ZipFile, sheet_name: str) -> tuple[set[int], set[int]]:
    """The hidden rows (1-based numbers) and hidden columns (0-based indices) of the sheet
    named `sheet_name`: rows and columns an office hid, or that a filter hides (both are
    `hidden="1"` in the sheet's XML). Empty sets if it has none or is absent."""
    path = _sheet_path(package, sheet_name)
    xml = _read(package, path, MAX_XML_READ) if path else None
    rows: set[int] = set()
    cols: set[int] = set()
    for pattern, into in ((_ROW, rows), (_COL, cols)):
        for attrs in pattern.findall(xml or b""):
            found = {k.decode(): v.decode() for k, v in _ATTR.findall(attrs)}
            if found.get("hidden") not in ("1", "true"):
                continue
            if into is rows and found.get("r", "").isdigit():
                rows.add(int(found["r"]))
            elif into is cols and found.get("min", "").isdigit():
                first = int(found["min"])
                last = int(found["max"]) if found.get("max", "").isdigit() else first
                cols.update(range(first - 1, min(last, first + 16384)))
    return rows, cols


def _sheet_path(package: zipfile.ZipFile, name: str) -> str | None:
    book = _read(package, "xl/workbook.xml", MAX_XML_READ)
    rels = _read(package, "xl/_rels/workbook.xml.rels", MAX_XML_READ)
    if not book or not rels:
        return None
    try:
        sheets = ElementTree.fromstring(book).iter(f"{{{MAIN_NS}}}sheet")
        rid = next((s.get(f"{{{REL_NS}}}id") for s in sheets if s.get("name") == name), None)
        targets = {r.get("Id"): r.get("Target", "")
                   for r in ElementTree.fromstring(rels).iter(f"{{{PKG_REL_NS}}}Relationship")}
    except ElementTree.ParseError:
        return None
    target = targets.get(rid) if rid else None
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _read(package: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    try:
        with package.open(name) as member:
            return member.read(limit)
    except (KeyError, zipfile.BadZipFile, OSError):
        return None


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - ord("A") + 1)
    return n - 1
