"""Pictures of the scorecard for people without Excel (issue 11, item 7).

`render_pictures` turns the real workbook into PNGs: LibreOffice headless exports it to PDF
with one page per sheet (`SinglePageSheets`), so page 1 is the 封面 and page 2 the 图表
sheet whatever their length; `pdftoppm` (poppler-utils) draws those two pages at 110 dpi.
LibreOffice runs as the upload converter does (`tracker.exchange.convert`): its own
profile in a temporary folder, its own process group killed on timeout, one at a time,
at a lower CPU priority. The PNGs appear together or not at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tracker.errors import DomainError
from tracker.exchange.convert import Converter
from tracker.ops.processes import run_bounded

RESOLUTION = 110  # dpi
PAGES = (("cover", 1), ("charts", 2))  # the 封面 and 图表 sheets (excel.sheet_names)
PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'


class RenderError(DomainError):
    """The pictures could not be made; the message (Chinese) names the file and the tool."""

    status = 503
    code = "render-failed"


def picture_names(xlsx_path: Path) -> list[str]:
    """The PNG names for a workbook: "<stem>-cover.png" (封面), "<stem>-charts.png" (图表)."""
    return [f"{xlsx_path.stem}-{part}.png" for part, _ in PAGES]


def render_pictures(xlsx_path: Path, out_dir: Path, *, soffice: str = "soffice",
                    pdftoppm: str = "pdftoppm", timeout: float = 120.0) -> list[Path]:
    """PNGs of the workbook's 封面 and 图表 sheets in `out_dir` (see `picture_names`),
    returned in that order.

    `soffice` and `pdftoppm` are program names on the PATH or paths (the setting
    TRACKER_SOFFICE); `timeout` bounds each program's run, in seconds. Raises RenderError
    (a DomainError, in Chinese, naming the workbook) when the workbook is missing, a program
    is missing, fails or runs out of time; then nothing is left in `out_dir`."""
    if not xlsx_path.is_file():
        raise RenderError(f"找不到记分卡文件“{xlsx_path.name}”，无法生成图片")
    converter = Converter.find(soffice, timeout)
    if converter.program is None:
        raise RenderError(f"无法为“{xlsx_path.name}”生成图片：未安装 LibreOffice（soffice）")
    drawer = shutil.which(pdftoppm)
    if drawer is None:
        raise RenderError(f"无法为“{xlsx_path.name}”生成图片：未安装 pdftoppm（poppler-utils）")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tracker-render-") as tmp:
        folder = Path(tmp)
        source = folder / "card.xlsx"
        shutil.copyfile(xlsx_path, source)
        if not converter.slots.acquire(timeout=timeout):
            raise RenderError(f"系统正忙于转换其他文件，暂未能为“{xlsx_path.name}”生成图片，请稍后重试")
        try:
            status = converter.run_soffice(source, PDF_FILTER)
        finally:
            converter.slots.release()
        _check(status, timeout, f"LibreOffice 无法把“{xlsx_path.name}”转换为PDF")
        pdf = folder / "out" / "card.pdf"
        if not pdf.is_file():
            raise RenderError(f"LibreOffice 无法把“{xlsx_path.name}”转换为PDF")
        drawn = []
        for part, page in PAGES:
            prefix = folder / part
            _check(run_bounded([drawer, "-png", "-r", str(RESOLUTION), "-f", str(page), "-l",
                                str(page), "-singlefile", str(pdf), str(prefix)],
                               folder=folder, timeout=timeout),
                   timeout, f"pdftoppm 无法绘制“{xlsx_path.name}”的第{page}页")
            png = prefix.with_suffix(".png")
            if not png.is_file() or png.stat().st_size == 0:
                raise RenderError(f"“{xlsx_path.name}”的PDF缺少第{page}页，无法生成图片")
            drawn.append(png)
        return _publish(drawn, [out_dir / name for name in picture_names(xlsx_path)])


def _check(status: int | None, timeout: float, failure: str) -> None:
    """RenderError(`failure`) for a program that ran out of time (`status` None) or exited
    with a non-zero status."""
    if status is None:
        raise RenderError(f"{failure}（超过 {timeout:g} 秒）")
    if status != 0:
        raise RenderError(f"{failure}（退出状态 {status}）")


def _publish(drawn: list[Path], targets: list[Path]) -> list[Path]:
    """Move the drawn PNGs to `targets`, all or none (each by os.replace of a copy made
    beside its target, so a move never crosses file systems)."""
    staged: list[Path] = []
    done: list[Path] = []
    try:
        for png, target in zip(drawn, targets, strict=True):
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            staged.append(tmp)
            shutil.copyfile(png, tmp)
        for tmp, target in zip(staged, targets, strict=True):
            os.replace(tmp, target)
            done.append(target)
    except BaseException:
        for path in staged + done:
            path.unlink(missing_ok=True)
        raise
    return targets
