"""Email addresses as offices type them: checked when entered and again before sending.

People paste `张三 <zhang@tj.gov.cn>`, two addresses joined by `；`, a zero-width space
from a web page, or a Chinese domain name. The display name is split off (not refused),
several addresses become several contacts, invisible characters are removed, and an
internationalised domain is stored in its ASCII (punycode) form that every mail server
accepts. What cannot be an address is refused naming the value, in Chinese. Syntax is
checked by email-validator (RFC 5321/5322), without a DNS lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

from tracker.errors import DomainError

# zero-width and bidi marks, BOM, no-break and ideographic spaces that survive copy-paste
_INVISIBLE = dict.fromkeys([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x200E, 0x200F,
                            *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_SEPARATORS = re.compile(r"[；;，,、\s]+")  # between addresses, as Chinese offices write them


class AddressError(DomainError):
    """An address that cannot be used, named in the message."""


@dataclass(frozen=True)
class Address:
    email: str  # normalised: ASCII domain, lower case
    name: str | None = None  # the display name typed with it, if any


def check(address: str) -> str:
    """One address, normalised for sending (ASCII domain, lower case).

    Raises AddressError naming the value when it is not one usable address (no '@', two
    addresses, a non-ASCII name before '@' that most servers refuse, a CR/LF...).
    """
    text = address.translate(_INVISIBLE).replace("\u3000", " ").replace("\xa0", " ").strip()
    shown = text[:80] or "（空）"
    if not text or "\r" in text or "\n" in text or text.count("@") != 1:
        raise AddressError(f"“{shown}”不是一个有效的电子邮件地址")
    if not text.split("@")[0].isascii():
        raise AddressError(f"“{shown}”不是有效的电子邮件地址：“@”前含有中文等非英文字符，"
                           "多数邮件服务器不接受")
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(f"“{shown}”不是有效的电子邮件地址：格式不符合电子邮件地址规范") from exc
    return str(result.ascii_email or result.normalized).lower()


def parse(text: str) -> list[Address]:
    """Every address in what was typed: `张三 <zhang@x.cn>；li@y.cn` gives two.

    Raises AddressError naming the first value that is not an address; nothing is
    returned half (all or none).
    """
    cleaned = text.translate(_INVISIBLE).replace("\u3000", " ").replace("\xa0", " ").strip()
    if not cleaned:
        raise AddressError("请填写电子邮件地址")
    # "名字 <a@x>" keeps its name; bare addresses may be separated by Chinese punctuation
    if "<" in cleaned:
        pairs = getaddresses([cleaned.replace("；", ",").replace("，", ",").replace("、", ",")])
    else:
        pairs = [("", part) for part in _SEPARATORS.split(cleaned) if part]
    out = []
    for name, email in pairs:
        if not email:
            raise AddressError(f"“{cleaned[:80]}”中没有电子邮件地址")
        out.append(Address(check(email), name.strip() or None))
    return out
