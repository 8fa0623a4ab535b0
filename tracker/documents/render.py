"""TEMPORARY plain renderer, replaced by the GB/T 9704 template renderer (wt/docx)."""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document

from tracker.dates.chinese import cn_date
from tracker.documents.content import OfficialDocument


def render_docx(doc: OfficialDocument, *, override_dir: Path | None = None) -> bytes:
    d = Document()
    for text in (doc.issuer_mark, doc.number, doc.title, "、".join(doc.addressees) + "：", *doc.body,
                 doc.signature, cn_date(doc.date)):
        d.add_paragraph(text)
    for g in doc.annex_groups:
        for row in g.rows:
            d.add_paragraph(" | ".join([g.agency, *row]))
        d.add_paragraph(f"小计：{g.count}项")
    d.add_paragraph(f"合计：{doc.item_count}项")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()
