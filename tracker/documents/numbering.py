"""文号: one sequence of numbers per issuing office and year, shared by every plan and by
both kinds of document (circular, 督办通知单), so no two documents carry the same number.

Format (GB/T 9704-2012, 7.2.4): 机关代字 + 〔year〕 + serial + 号, the serial without
leading zeros and without 第 (津政督〔2017〕3号); or, for an office whose bulletins are
numbered by issue, "2017年第3期". The year is that of the 成文日期 (Asia/Shanghai).
A sequence is keyed by what the printed number depends on (`wording.Issuer.sequence`: the
机关代字, or for 期 the office's mark), so two offices printing the same 代字 cannot print
the same number. The office may pick the serial before sign-off (a number its own register gave out); a
serial already taken is refused. Settings: `settings.OfficeDocuments` (rules file).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.errors import DomainError
from tracker.models import DocumentNumber
from tracker.settings import OfficeDocuments
from tracker.sql import insert_ignore_values

KIND_LABELS = {"circular": "通报", "supervision_notice": "督办通知单"}
MAX_SERIAL = 99999


class NumberError(DomainError):
    """A 文号 cannot be given (taken already, out of range); the reason in Chinese."""

    status, code = 409, "number-taken"


def format_number(config: OfficeDocuments, year: int, serial: int) -> str:
    """The number as printed: 津政督〔2017〕3号 (style 号) or 2017年第3期 (style 期)."""
    if config.style == "期":
        return f"{year}年第{serial}期"
    return f"{config.prefix}〔{year}〕{serial}号"


def next_serial(session: Session, office: str, year: int) -> int:
    """The serial the office's next document of `year` gets unless it picks one (max + 1)."""
    top = session.scalar(select(func.max(DocumentNumber.serial)).where(
        DocumentNumber.office == office, DocumentNumber.year == year))
    return (top or 0) + 1


def parse_serial(text: str) -> int | None:
    """A serial typed by the office ("3", "３"): None when empty. Raises NumberError when it
    is not a whole number from 1 to 99999."""
    text = text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if not text:
        return None
    # ASCII digits only: ①, ² and other "digits" of Unicode are not serials
    if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= MAX_SERIAL:
        raise NumberError(f"文号序号应为 1 至 {MAX_SERIAL} 的整数，不加“第”和前导零：“{text[:20]}”",
                          status=422, code="invalid")
    return int(text)


def taken_by(session: Session, office: str, year: int, serial: int) -> DocumentNumber | None:
    """The document holding this number, if any."""
    return session.scalars(select(DocumentNumber).where(
        DocumentNumber.office == office, DocumentNumber.year == year,
        DocumentNumber.serial == serial)).first()


def assign(session: Session, *, office: str, config: OfficeDocuments, on: dt.date, kind: str,
           document_id: int, serial: int | None, actor: str, now: dt.datetime) -> str:
    """Give a document its 文号 and return it as printed. Does not commit.

    `office`: the sequence's key (`Issuer.sequence`); `on`: the 成文日期 (its year numbers
    the document); `serial`: the office's pick, or None
    for the next free one. Idempotent: a document numbered already keeps its number. Safe
    under concurrency: the unique (office, year, serial) key decides; a pick that is taken
    raises NumberError naming the document that holds it, a next number is retried.
    """
    for _ in range(100):
        have = session.scalars(select(DocumentNumber).where(
            DocumentNumber.kind == kind, DocumentNumber.document_id == document_id)).first()
        if have is not None:
            return have.number
        chosen = serial if serial is not None else next_serial(session, office, on.year)
        number = format_number(config, on.year, chosen)
        inserted = insert_ignore_values(session, DocumentNumber.__table__, [dict(  # type: ignore[arg-type]
            office=office, year=on.year, serial=chosen, number=number, kind=kind,
            document_id=document_id, assigned_at=now, assigned_by=actor)])
        if inserted:
            return number
        holder = taken_by(session, office, on.year, chosen)
        if serial is not None and holder is not None and not (
                holder.kind == kind and holder.document_id == document_id):
            raise NumberError(f"文号“{number}”已由{KIND_LABELS.get(holder.kind, '其他文件')}"
                              f"（系统编号 {holder.document_id}）使用，请改用其他序号或留空自动编号")
    raise NumberError("文号分配冲突，请稍后重试", status=503, code="busy")
