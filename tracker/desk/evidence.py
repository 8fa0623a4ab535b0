"""Evidence files (佐证材料) for staff: the office checks what liaisons uploaded before a
close-out (办结销号). Liaisons download their own agency's files through their link
(tracker.web.liaison_routes); staff may read any file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from tracker.errors import NotFound
from tracker.models import Evidence
from tracker.requests.evidence import evidence_path


def evidence_file(session: Session, root: Path, evidence_id: int) -> tuple[Evidence, bytes]:
    """The evidence row and its bytes (stored under `root`/evidence by content hash).

    Raises NotFound (404) when there is no such row, or its file is missing on disk
    (a restore without the evidence folder): the page says so in Chinese.
    """
    ev = session.get(Evidence, evidence_id)
    if ev is None:
        raise NotFound(f"没有编号为 {evidence_id} 的佐证材料")
    path = evidence_path(root, ev.sha256)
    if not path.is_file():
        raise NotFound(f"佐证材料“{ev.filename}”的文件不在存储目录中，请联系系统管理员恢复")
    return ev, path.read_bytes()
