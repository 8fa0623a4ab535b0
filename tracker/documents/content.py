"""What an official document says, independent of its layout.

`OfficialDocument` is filled by the services that issue documents (`escalation.circulars`,
`escalation.notices`) and laid out by `documents.render` from a Word template. Every
string is final text (Chinese, dates already written out); the template decides fonts,
sizes, margins and where each part goes (GB/T 9704-2012).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

DocumentKind = Literal["circular", "supervision_notice"]


@dataclass(frozen=True)
class AnnexGroup:
    """One agency's rows of the annex table with its total (小计)."""

    agency: str
    rows: list[list[str]]  # one list of cell texts per item, in `OfficialDocument.annex_columns` order

    @property
    def count(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class OfficialDocument:
    """One document as GB/T 9704-2012 names its parts.

    - `issuer_mark`: 发文机关标志 (red, centred), e.g. "天津市人民政府督查室";
    - `number`: 发文字号 "津政督〔2017〕3号" (or "2017年第3期"); "" for an unnumbered draft;
    - `title`: 标题, without "（稿）" unless `draft`;
    - `addressees`: 主送机关, in order (rendered "A、B、C：");
    - `body`: 正文 paragraphs, plain text, each indented two characters by the template;
    - `annex_title` / `annex_columns` / `annex_groups`: 附件 (on a new page): the full list as
      a table grouped by agency with a 小计 per agency; no annex when `annex_groups` is empty;
    - `signature`: 发文机关署名; `date`: 成文日期 (rendered 2017年4月25日);
    - `cc`: 抄送机关; `printer` / `printed_on`: 版记's 印发机关 and 印发日期;
    - `draft`: a 稿 not yet signed (the template may mark it).
    """

    kind: DocumentKind
    issuer_mark: str
    number: str
    title: str
    addressees: list[str]
    body: list[str]
    signature: str
    date: dt.date
    printer: str
    printed_on: dt.date
    cc: list[str] = field(default_factory=list)
    annex_title: str = ""
    annex_columns: list[str] = field(default_factory=list)
    annex_groups: list[AnnexGroup] = field(default_factory=list)
    draft: bool = False

    @property
    def item_count(self) -> int:
        """Items in the annex (the count the body and the web page state)."""
        return sum(g.count for g in self.annex_groups)
