"""A plan's own title when a notice issues it (issue 13, finding F11).

A plan usually reaches an office inside the notice that issues or forwards it: the
document's first lines read 某市人民政府办公厅关于印发某市加快发展某事业实施方案的通知 (or
关于转发市残联拟定的…规划纲要的通知), while the plan tracked is the 实施方案 or 规划纲要
itself. `own_title` gives the plan's title from such a notice title: the name in 《》 when
the title quotes it, else the name the body quotes in 《》 that the notice title ends with
(现将《…》印发给你们), else what follows 印发/转发 with the forwarding office's
"…拟定的 / 制定的" dropped. A title that does not issue another document (a 意见 or
通知 that is itself the plan, as the State Council's are) is kept as it is.

Rule source: 《党政机关公文处理工作条例》 and GB/T 9704-2012 (the title of a 印发 or 转发
notice names the document it carries, usually in 《》).
"""

from __future__ import annotations

import re

_ISSUING = re.compile(r"关于(?:印发|转发|下发|发布|颁布|修订印发)(?P<what>.+?)的通知$")
_QUOTED = re.compile(r"《([^《》]{2,80})》")
_FORWARDED = re.compile(r"^.*?(?:拟定|制定|起草|编制|修订|研究提出)的")


def own_title(title: str, paragraphs: list[str]) -> str:
    """The plan's own title for a document whose heading lines read `title`; `paragraphs`
    are the document's first paragraphs (its body's 《…》 quotes are looked at). Returns
    `title` itself when it is not a 印发 / 转发 notice's."""
    compact = re.sub(r"\s+", "", title)
    m = _ISSUING.search(compact)
    if not m:
        return title
    what = m["what"]
    if quoted := _QUOTED.search(what):
        return quoted[1]
    plain = what.replace("《", "").replace("》", "")
    for paragraph in paragraphs:
        for named in _QUOTED.findall(re.sub(r"\s+", "", paragraph)):
            if len(named) >= 4 and plain.endswith(named):
                return named
    return _FORWARDED.sub("", plain) or plain
