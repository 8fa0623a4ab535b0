"""Evidence files (佐证材料): size and type limits, stored on disk by content hash.

Files are kept as HOME/evidence/<sha256[:2]>/<sha256> and always served as downloads
with a neutral type (see tracker.web), so nothing a liaison uploads runs in a browser.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Collection
from pathlib import Path

from sqlalchemy.orm import Session

from tracker.enums import RequestState
from tracker.errors import DomainError, Forbidden
from tracker.models import AuditEvent, Evidence
from tracker.requests.opening import owned_request, owned_state
from tracker.text import clean_name

MAX_BYTES = 20 * 1024 * 1024
# extension -> (media type, magic prefixes); the content must match its extension.
ALLOWED: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    ".doc": ("application/msword", (b"\xd0\xcf\x11\xe0",)),
    ".xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0",)),
    ".ofd": ("application/ofd", (b"PK\x03\x04",)),
}


class EvidenceError(DomainError):
    """A refusal with its reason in Chinese (tracker.errors)."""


def clean_filename(filename: str) -> str:
    """The base name without control or bidi-override characters, at most 200 characters
    with its extension kept (so a long name is not mistaken for one without a type)."""
    name = clean_name(os.path.basename(filename.replace("\\", "/"))).strip()
    stem, ext = os.path.splitext(name)
    return (stem[: 200 - len(ext[:20])] + ext[:20]) or "file"


def evidence_path(root: Path, sha256: str) -> Path:
    return root / "evidence" / sha256[:2] / sha256


def evidence_for_agency(session: Session, agency_id: int | Collection[int], evidence_id: int
                        ) -> Evidence:
    """An evidence file of one of the agency's requests, for download.

    Raises Forbidden (403, "other-agency") if there is no such file or it belongs to
    another agency's request (the same answer: ids of others' files are not revealed).
    """
    ev = session.get(Evidence, evidence_id)
    if ev is None:  # as for requests: a link holder cannot tell unknown ids from others'
        raise Forbidden("该佐证材料不属于本单位", code="other-agency")
    owned_request(session, agency_id, ev.request_id)
    return ev


def store_evidence(session: Session, root: Path, *, agency_id: int, request_id: int,
                   filename: str, data: bytes, uploaded_by: str, now: dt.datetime) -> Evidence:
    """Check and store one file for a request of the agency. Does not commit.

    Raises EvidenceError (in Chinese, for the form) for a wrong agency, an empty or
    oversized file, a type not in ALLOWED, or content that does not match its extension.
    """
    state = owned_state(session, agency_id, request_id)
    if state is None:
        raise EvidenceError("该任务不属于本单位")
    if state == RequestState.WAIVED:
        raise EvidenceError("该事项已免报，无需上传材料")
    name = clean_filename(filename)
    ext = os.path.splitext(name)[1].lower()
    if ext not in ALLOWED:
        raise EvidenceError(f"不支持的文件类型 {ext or '（无扩展名）'}；允许："
                            + "、".join(sorted(ALLOWED)))
    if not data:
        raise EvidenceError("文件为空")
    if len(data) > MAX_BYTES:
        raise EvidenceError(f"文件超过 {MAX_BYTES // (1024 * 1024)} MB 上限")
    media, magics = ALLOWED[ext]
    if not any(data.startswith(m) for m in magics):
        raise EvidenceError(f"文件内容与扩展名 {ext} 不符")
    digest = store_bytes(root, data)
    ev = Evidence(request_id=request_id, filename=name, media_type=media, size=len(data),
                  sha256=digest, uploaded_at=now, uploaded_by=uploaded_by)
    session.add(ev)
    session.flush()
    session.add(AuditEvent(at=now, actor=uploaded_by, action="evidence.upload",
                           object_type="progress_request", object_id=str(request_id),
                           detail={"evidence": ev.id, "filename": name, "sha256": digest,
                                   "size": len(data)}))
    return ev


def store_bytes(root: Path, data: bytes) -> str:
    """Store `data` under `root` by its sha256 (`evidence_path`), once, atomically; return
    the hex digest. Shared by evidence files and meeting minutes."""
    digest = hashlib.sha256(data).hexdigest()
    path = evidence_path(root, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own: two uploads of the same file at once (a double click) must not
        # move each other's temporary file away
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    return digest
