"""The office's edits of a document before sign-off, and the view of what will be issued.

Both kinds of document (circular, 督办通知单) keep the same editable parts
(`models.documents.DocumentEdits`): the 文号 serial, the title, 主送, the wording (with
placeholders such as {事项数} filled from `wording.counts`, so the text never states a
stale count), 抄送, and the items left out with a reason. A stored None means "the
default", so a default that changes with the items (主送 = the agencies named) follows them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tracker.dates.workdays import local_date
from tracker.documents.content import OfficialDocument
from tracker.documents.numbering import assign, format_number, next_serial, parse_serial, taken_by
from tracker.documents.wording import (
    ANNEX_COLUMNS,
    Counts,
    Issuer,
    WordingError,
    agency_summary,
    annex_groups,
    counts,
    fill,
    names,
    ordered,
)
from tracker.errors import DomainError
from tracker.models import AuditEvent
from tracker.models.documents import DocumentEdits

BODY_LIMIT = 5000
# placeholders filled from `wording.counts` of the items the document lists as it stands
COUNTED = ("事项数", "单位数", "单位明细")
REASON_LIMIT = 200


@dataclass(frozen=True)
class Edits:
    """What the office typed on the preview page (every field as text, checked here)."""

    serial: str = ""
    title: str = ""
    addressees: str = ""
    body: str = ""
    cc: str = ""
    drop: tuple[int, ...] = ()  # request ids to leave out
    reason: str = ""  # why (required when dropping)
    restore: tuple[int, ...] = ()  # request ids to put back


@dataclass(frozen=True)
class Defaults:
    """A kind's defaults for one document: its title, 主送, wording (with placeholders)
    and 抄送, and the values of the placeholders."""

    title: str
    addressees: list[str]
    body: str
    cc: list[str]
    values: dict[str, str]
    annex_title: str


@dataclass
class DocumentView:
    """A document as its preview page shows it and as its Word file says it."""

    kind: str
    id: int
    editable: bool
    number: str  # as issued, or the number it would get now
    serial: str  # the office's pick ("" : the next free one)
    title: str
    addressees: list[str]
    body_text: str  # the wording with its placeholders, for the form
    cc: list[str]
    items: list[Mapping[str, Any]]  # in the document's order
    excluded: list[dict[str, Any]]
    counts: Counts
    document: OfficialDocument
    placeholders: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """A fingerprint of what the office confirms: serial, title, 主送, wording as
        filled, 抄送 and the items listed (not the day or a would-be number, which move on
        their own). Sign-off and issue compare it, so nobody signs what they did not see."""
        doc = self.document
        seen = [self.serial, doc.title, doc.addressees, doc.body, doc.cc,
                [int(i["request_id"]) for i in self.items]]
        return hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode()).hexdigest()[:32]


def _changed(value: Any, default: Any) -> Any:
    return None if value == default or value in ("", []) else value


def apply_edits(session: Session, row: DocumentEdits, edits: Edits, *, current: Sequence[Mapping[str, Any]],
                defaults: Defaults, title_attr: str | None, office: str, year: int, kind: str,
                document_id: int, actor: str, now: dt.datetime) -> None:
    """Check every field of `edits` and store them on the draft `row`. Does not commit.

    `current`: the items the document lists now (what may be dropped); `title_attr`: the
    row's title column (None: the kind's title is fixed). Raises WordingError
    listing every problem, each naming its field, in Chinese; nothing is stored then.
    """
    problems: list[str] = []
    serial = None
    try:
        serial = parse_serial(edits.serial)
        if serial is not None:
            holder = taken_by(session, office, year, serial)
            if holder is not None and not (holder.kind == kind and holder.document_id == document_id):
                problems.append(f"文号序号：{serial} 已被使用（{holder.number}），请改用其他序号或留空")
    except DomainError as exc:  # NumberError
        problems.append("文号序号：" + exc.message)
    title = edits.title.strip()
    if len(title) > 100:
        problems.append("标题：最多 100 字")
    addressees: list[str] = []
    cc: list[str] = []
    for label, text, target in (("主送机关", edits.addressees, addressees), ("抄送机关", edits.cc, cc)):
        try:
            target.extend(names(text, label))
        except WordingError as exc:
            problems.append(exc.message)
    body = edits.body.replace("\r\n", "\n").strip()
    if len(body) > BODY_LIMIT:
        problems.append(f"正文：最多 {BODY_LIMIT} 字")
    else:
        try:
            fill(body, {**defaults.values, **dict.fromkeys(COUNTED, "")}, "正文")
        except WordingError as exc:
            problems.append(exc.message)
    known = {int(i["request_id"]): i for i in current}
    drop = [rid for rid in dict.fromkeys(edits.drop)]
    reason = edits.reason.strip()
    if drop and not reason:
        problems.append("不列入的事项须填写理由")
    if len(reason) > REASON_LIMIT:
        problems.append(f"不列入理由：最多 {REASON_LIMIT} 字")
    if any(rid not in known for rid in drop):
        problems.append("所选事项已不在本文件中（可能已报送或已处理），请刷新页面后重试")
    left_out = excluded_ids(row)
    restore = [rid for rid in dict.fromkeys(edits.restore) if rid in left_out]
    if len(restore) < len(set(edits.restore)):
        problems.append("所选恢复列入的事项不在“不列入的事项”中，请刷新页面后重试")
    if known and not set(known) - set(drop) and not restore:
        problems.append("不能将全部事项不列入；如无需发文，请不签发")
    if problems:
        raise WordingError("；".join(problems))
    row.serial = serial
    if title_attr is not None:
        setattr(row, title_attr, title or defaults.title)
    row.addressees = _changed(addressees, defaults.addressees)
    row.cc = None if cc == defaults.cc else cc  # [] : no 抄送, even when the rules give one
    row.body = _changed(body, defaults.body.strip())
    excluded = [e for e in (row.excluded or []) if int(e["request_id"]) not in set(restore)]
    for rid in drop:
        item = known[rid]
        excluded.append({"request_id": rid, "code": item.get("code") or "",
                         "title": item.get("title") or "", "agency": item["agency"],
                         "period": item.get("period") or "", "reason": reason, "by": actor,
                         "at": now.isoformat()})
    row.excluded = excluded
    session.add(AuditEvent(at=now, actor=actor, action=f"{kind}.edit", object_type=kind,
                           object_id=str(document_id),
                           detail={"serial": serial, "dropped": drop,
                                   "restored": restore, "reason": reason}))


def document_templates(templates_dir: Path | None) -> Path | None:
    """Where the office's own Word templates are looked for first: the `documents` folder
    of TRACKER_TEMPLATES_DIR (`Settings.templates_dir`), e.g. documents/circular.docx."""
    return None if templates_dir is None else templates_dir / "documents"


def excluded_ids(row: DocumentEdits) -> set[int]:
    return {int(e["request_id"]) for e in (row.excluded or [])}


def build_view(session: Session, row: DocumentEdits, *, kind: str, document_id: int,
               editable: bool, items: Sequence[Mapping[str, Any]], defaults: Defaults, title: str,
               issuer: Issuer, on: dt.date) -> DocumentView:
    """The document as it stands: the stored edits over the defaults, its items in order,
    the counts from `wording.counts`, and the `OfficialDocument` its Word file lays out.

    `on`: the 成文日期 (the sign-off day, or today for a draft); `title`: without 稿.
    """
    listed = ordered(items)
    c = counts(listed)
    values = {**defaults.values, "事项数": str(c.items), "单位数": str(c.agencies)}
    values["单位明细"] = agency_summary(c)
    body_text = row.body if row.body is not None else defaults.body
    addressees = row.addressees if row.addressees is not None else defaults.addressees
    cc = row.cc if row.cc is not None else defaults.cc
    if row.number or not editable:  # issued: its number (none for one issued before 文号)
        number = row.number or ""
    else:
        number = format_number(issuer.config, on.year,
                               row.serial or next_serial(session, issuer.sequence, on.year))
    document = OfficialDocument(
        kind=kind,  # type: ignore[arg-type]
        issuer_mark=issuer.mark, number=number, title=title, addressees=list(addressees),
        body=fill(body_text, values, "正文"), signature=issuer.signature, date=on,
        printer=issuer.printer, printed_on=on, cc=list(cc), annex_title=defaults.annex_title,
        annex_columns=list(ANNEX_COLUMNS), annex_groups=annex_groups(listed),
        draft=editable)
    return DocumentView(kind=kind, id=document_id, editable=editable, number=number,
                        serial="" if row.serial is None else str(row.serial), title=title,
                        addressees=list(addressees), body_text=body_text, cc=list(cc),
                        items=listed, excluded=list(row.excluded or []), counts=c,
                        document=document, placeholders=values)


def number_on_issue(session: Session, row: DocumentEdits, *, kind: str, document_id: int,
                    items: Sequence[Mapping[str, Any]], current: Callable[[], DocumentView],
                    confirmed: str | None, issuer: Issuer, actor: str, now: dt.datetime,
                    names: tuple[str, str, str], error: type[DomainError]) -> str:
    """The checks every sign-off or issue makes, then the document's 文号 (`numbering.assign`).

    `current`: the document's view as it stands; `confirmed`: the digest the office saw
    (None: not checked); `names`: (what lists the items, what was confirmed, the act), e.g.
    ("通报", "通报稿", "签发"). Raises `error` when nothing is left to list or the document
    changed since it was confirmed; NumberError when the picked serial was taken.
    """
    what, draft, act = names
    if not items:
        raise error(f"{what}所列事项均已报送、免报或不列入，无需{act}")
    if confirmed is not None and confirmed != current().digest:
        raise error(f"{draft}在您核对后已有变化（他人修改，或所列事项已报送、免报），本次未{act}；"
                    f"请重新核对后{act}", code="changed")
    return assign(session, office=issuer.sequence, config=issuer.config, on=local_date(now),
                  kind=kind, document_id=document_id, serial=row.serial, actor=actor, now=now)
