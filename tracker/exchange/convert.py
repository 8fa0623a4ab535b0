"""Legacy and Strict workbooks converted to an ordinary .xlsx, and legacy Word documents to
.docx, by LibreOffice (issue 10, item 6; issue 13).

Offices save sheets as .xls (old Excel), .et (WPS, the same binary format) or "Strict Open
XML" (an Excel option openpyxl cannot read). When LibreOffice's `soffice` is installed
(`TRACKER_SOFFICE`, default `soffice` on the PATH; empty: never convert), such a file is
converted headless into a transitional .xlsx, which is then checked and read exactly as an
upload would be (the same size, package and cell bounds). Without it the file is refused
with `SAVE_AS_XLSX`. Word 97-2003 (.doc) and WPS 文字 (.wps) documents (a plan's text or its
任务分工表) are converted the same way into a .docx (`to_docx`), else refused with
`SAVE_AS_DOCX`.

Each conversion runs in its own temporary folder with its own LibreOffice profile
(`-env:UserInstallation`, so it never meets a desktop session's profile or lock), is killed
with its process group after `timeout` seconds, and at most `MAX_PARALLEL` run at a time in
a process; a conversion that cannot get a slot within `timeout` seconds is refused as busy.
LibreOffice runs at a lower CPU priority (`nice -n 10`) than the pages.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tracker.ops.processes import run_bounded

SAVE_AS_XLSX = "请在 Excel/WPS 中另存为 .xlsx（Excel 工作簿）后再上传"
SAVE_AS_DOCX = "请在 Word/WPS 中另存为 .docx（Word 文档）后再导入"
MAX_DOCX = 20 * 1024 * 1024  # a converted document meets the importers' own size bound
MAX_PARALLEL = 1  # one LibreOffice at a time: each takes ~150 MB and a core for a second
MAX_OUTPUT = 5 * 1024 * 1024  # the converted file meets the upload's own size bound
_SLOTS = threading.BoundedSemaphore(MAX_PARALLEL)
# LibreOffice yields the CPU to the pages: a conversion may take a second longer, while
# every other request keeps its pace (two cores, one of them converting)
_NICE = ["nice", "-n", "10"] if shutil.which("nice") else []


class ConversionRefused(ValueError):
    """The file could not be converted; the message (Chinese) says what to do."""


@dataclass(frozen=True)
class Converter:
    """LibreOffice headless as a converter of uploads. `program` is the resolved path of
    `soffice` (None: not installed or turned off, every conversion is refused); `timeout`
    in seconds bounds both the wait for a slot and the conversion itself."""

    program: str | None
    timeout: float = 60.0
    slots: threading.BoundedSemaphore = field(default=_SLOTS, compare=False, repr=False)

    @classmethod
    def find(cls, soffice: str, timeout: float = 60.0) -> Converter:
        """The converter for the setting `soffice` (a name on the PATH or a path; empty
        turns conversion off)."""
        return cls(shutil.which(soffice) if soffice.strip() else None, timeout)

    @property
    def available(self) -> bool:
        return self.program is not None

    def to_xlsx(self, data: bytes, suffix: str, what: str) -> bytes:
        """The workbook `data` (a file whose name would end in `suffix`: ".xls" or ".xlsx")
        saved again by LibreOffice as an ordinary .xlsx.

        `what` names the format for the refusal ("旧版 Excel（.xls）或 WPS 表格（.et）").
        Raises ConversionRefused when LibreOffice is absent, busy beyond the timeout, fails,
        runs out of time, or writes more than MAX_OUTPUT bytes.
        """
        if self.program is None:
            raise ConversionRefused(f"这是{what}格式的文件，本系统无法直接读取；{SAVE_AS_XLSX}")
        return self._slotted(data, suffix, what, "xlsx:Calc Office Open XML", SAVE_AS_XLSX,
                             MAX_OUTPUT, "请使用系统下载的模板，只填写其中的行")

    def to_docx(self, data: bytes, suffix: str, what: str) -> bytes:
        """The Word document `data` (a file whose name would end in `suffix`: ".doc" or
        ".wps") saved again by LibreOffice as a .docx, to be read as any .docx is.

        `what` names the format for the refusal ("旧版 Word（.doc）或 WPS 文字（.wps）").
        Raises ConversionRefused when LibreOffice is absent, busy beyond the timeout, fails,
        runs out of time, or writes more than MAX_DOCX bytes.
        """
        if self.program is None:
            raise ConversionRefused(f"这是{what}格式的文件，本系统无法直接读取；{SAVE_AS_DOCX}")
        return self._slotted(data, suffix, what, "docx:MS Word 2007 XML", SAVE_AS_DOCX,
                             MAX_DOCX, "请删去文件中的图片等非文字内容后另存为 .docx 再导入")

    def _slotted(self, data: bytes, suffix: str, what: str, target: str, save_as: str,
                 limit: int, too_large: str) -> bytes:
        if not self.slots.acquire(timeout=self.timeout):
            raise ConversionRefused(f"系统正忙于转换其他文件，请稍后重试，或{save_as}")
        try:
            return self._run(data, suffix, what, target, save_as, limit, too_large)
        finally:
            self.slots.release()

    def _run(self, data: bytes, suffix: str, what: str, target: str, save_as: str,
             limit: int, too_large: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="tracker-convert-") as tmp:
            source = Path(tmp) / f"upload{suffix}"
            source.write_bytes(data)
            status = self.run_soffice(source, target)
            if status is None:
                raise ConversionRefused(f"{what}格式的文件转换超时；{save_as}")
            result = Path(tmp) / "out" / f"upload.{target.split(':', 1)[0]}"
            if status != 0 or not result.is_file():
                raise ConversionRefused(f"无法读取此{what}格式的文件（文件可能已损坏）；{save_as}")
            if result.stat().st_size > limit:
                raise ConversionRefused(f"转换后的文件过大（超过 {limit // 1024 // 1024} MB）；"
                                        + too_large)
            return result.read_bytes()

    def run_soffice(self, source: Path, convert_to: str, *,
                    env: Mapping[str, str] | None = None) -> int | None:
        """Convert the file `source` with LibreOffice headless into the folder "out" beside
        it (`convert_to`: a LibreOffice target such as "pdf:writer_pdf_Export"), with a
        profile of its own in `source`'s folder and a lower CPU priority. The caller holds a
        slot (`slots`) and makes the folder. `env` adds environment variables (a fontconfig
        file). Returns the exit status, or None after `timeout` seconds (the process group is
        killed). Raises OSError when `soffice` cannot be started."""
        assert self.program is not None
        folder = source.parent
        return run_bounded(
            [*_NICE, self.program, "--headless", "--norestore", "--nolockcheck",
             f"-env:UserInstallation={(folder / 'profile').as_uri()}",
             "--convert-to", convert_to, "--outdir", str(folder / "out"), str(source)],
            folder=folder, timeout=self.timeout, env=env)


NO_CONVERTER = Converter(None)
