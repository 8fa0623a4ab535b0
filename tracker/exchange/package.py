"""What an uploaded workbook is, before any cell is parsed (issue 10, item 6).

Offices save sheets with WPS and old Excel as often as with the template's own Excel: this
module looks into the file as a ZIP package, cheaply and with bounded memory, and says
what it is and whether it is safe to parse:

- a legacy binary workbook (.xls, WPS .et: an OLE compound file) or a Strict Open XML
  workbook (another namespace that openpyxl does not read): refused with a message saying
  to save it as an ordinary .xlsx;
- a package whose members would inflate beyond `MAX_UNCOMPRESSED` bytes (shared strings
  that expand a few hundred KB into a gigabyte): refused before anything is inflated;
- the merged ranges of a sheet (openpyxl's streaming reader does not report them).

Sizes are what the ZIP directory declares; a member that inflates beyond its declared
size is cut off by `zipfile` (it checks the CRC and size), so the bound holds.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

MAX_UNCOMPRESSED = 40 * 1024 * 1024  # an agency's sheet inflates to well under 1 MB
MAX_XML_READ = 8 * 1024 * 1024  # workbook.xml, its rels, one sheet's XML (merges only)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


class PackageRefused(ValueError):
    """The file cannot be read as an ordinary .xlsx; the message (Chinese) says what to do."""


@dataclass(frozen=True)
class Merge:
    """A merged range, columns 0-based, rows 1-based, inclusive."""

    first_col: int
    first_row: int
    last_col: int
    last_row: int


def check_package(data: bytes) -> zipfile.ZipFile:
    """The workbook's ZIP package, once it is known to be an ordinary .xlsx of bounded size.

    Raises PackageRefused for a legacy .xls/.et, a file that is not a ZIP package, a
    Strict Open XML workbook, or one whose members declare more than MAX_UNCOMPRESSED bytes.
    """
    if data.startswith(OLE_MAGIC):
        raise PackageRefused("这是旧版 Excel（.xls）或 WPS 表格（.et）格式的文件；请在 Excel 或 WPS 中"
                             "“另存为”Excel 工作簿（.xlsx）后再上传")
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
        raise PackageRefused("这是“Strict Open XML 电子表格”格式的文件；请在 Excel 中“另存为”"
                             "Excel 工作簿（.xlsx）后再上传")
    return package


def merged_ranges(package: zipfile.ZipFile, sheet_name: str) -> list[Merge]:
    """The merged ranges of the sheet named `sheet_name` ([] if it has none or is absent)."""
    path = _sheet_path(package, sheet_name)
    xml = _read(package, path, MAX_XML_READ) if path else None
    if not xml:
        return []
    return [Merge(_col_index(a.decode()), int(r1), _col_index(b.decode()), int(r2))
            for a, r1, b, r2 in _MERGE.findall(xml)]


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
