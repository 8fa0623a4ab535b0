"""Email over SMTP (standard library smtplib): one message per digest."""

from __future__ import annotations

import re
import smtplib
import ssl
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from notifications.channels.base import DeliveryError, Digest


class EmailChannel:
    """SMTP with optional AUTH and TLS (`security`: none, starttls, ssl).

    `timeout` (seconds) bounds each connection and each command, so a server that accepts
    the connection and never answers costs one timeout, not the run. TLS always verifies
    the server's certificate and host name: against the system's CAs, or those of
    `ca_file` (PEM; TRACKER_SMTP_CA_FILE) for an office's own CA.
    """

    def __init__(self, host: str, port: int, sender: str, timeout: float = 30.0, *,
                 user: str | None = None, password: str | None = None,
                 security: str = "none", ca_file: str | Path | None = None):
        # TRACKER_SMTP_FROM may carry the office's name: "督查室 <ducha@tj.gov.cn>"
        name, addr = parseaddr(sender) if "<" in sender else ("", sender)
        self.sender_name = name or "规划纲要督查督办系统"
        self.host, self.port, self.sender, self.timeout = host, port, addr, timeout
        self.user, self.password, self.security = user, password, security
        self.ca_file = ca_file

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def build(self, digest: Digest) -> EmailMessage:
        # 77, not 78: CPython's header folder lets an encoded display name plus its address
        # run one character over the limit (79); one less keeps every line within RFC 5322's 78
        msg = EmailMessage(policy=email_policy.default.clone(max_line_length=77))
        # Address objects, not formataddr() text: the text is parsed again on assignment,
        # and a name holding ':' or '@' would turn into another address
        msg["From"] = Address(display_name=self.sender_name, addr_spec=self.sender)
        msg["To"] = Address(display_name=_display_name(digest.recipient_name),
                            addr_spec=digest.address)
        msg["Subject"] = digest.subject
        msg["Date"] = format_datetime(digest.date)
        # Same digest, same Message-ID: a resend after a crash can be recognised downstream.
        msg["Message-ID"] = f"<{digest.digest_id}@plan-tracker>"
        msg.set_content(digest.body, charset="utf-8")
        for attachment in digest.attachments:  # e.g. the signed circular (通报) as .docx
            maintype, _, subtype = attachment.media_type.partition("/")
            msg.add_attachment(attachment.content, maintype=maintype,
                               subtype=subtype or "octet-stream", filename=attachment.filename)
        return msg

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self._tls())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            smtp.starttls(context=self._tls())
        return smtp

    def check(self) -> None:
        """Connect, start TLS and log in as `send` would, send nothing (`tracker doctor`).
        Raises DeliveryError with the same Chinese reasons as `send`."""
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise _delivery_error(exc) from exc

    def send(self, digest: Digest) -> None:
        """Deliver one digest. Raises DeliveryError: permanent for this recipient (5xx on the
        recipient or the message), not permanent for the server or its setup (unreachable,
        timeouts, 4xx, and AUTH refused or required: the messages wait and retry until the
        configuration is fixed, instead of failing everyone's notice at once)."""
        message = self.build(digest)
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, self.password or "")
                # the envelope names the one checked address, never what a header parses to
                smtp.send_message(message, to_addrs=[digest.address])
        except (OSError, smtplib.SMTPException) as exc:
            raise _delivery_error(exc) from exc


def _delivery_error(exc: OSError | smtplib.SMTPException) -> DeliveryError:
    """What an SMTP failure means for the dispatcher, in Chinese (one home for `send` and
    `check`)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "；".join(f"{addr}（SMTP {code}：{_text(reply)}）"
                           for addr, (code, reply) in exc.recipients.items())
        # 4xx (greylisting, mailbox busy) is "try again later"; 5xx refuses for good
        temporary = any(400 <= code < 500 for code, _ in exc.recipients.values())
        return DeliveryError(f"收件地址{'暂时' if temporary else ''}被拒收：{refused}",
                             permanent=not temporary)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"邮件服务器拒绝登录（请检查 TRACKER_SMTP_USER / "
                             f"TRACKER_SMTP_PASSWORD）：SMTP {exc.smtp_code}",
                             permanent=False, setup=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        # 530 and 503 on MAIL FROM mean "authenticate first": a setup problem, not this
        # recipient's; other 5xx replies refuse this message for good
        setup = exc.smtp_code in (530, 503) or (exc.smtp_code in (550, 553)
                                               and isinstance(exc, smtplib.SMTPSenderRefused))
        text = (f"邮件服务器要求登录或拒绝发件人（SMTP {exc.smtp_code}）" if setup
                else f"邮件服务器拒收（SMTP {exc.smtp_code}：{_text(exc.smtp_error)}）")
        return DeliveryError(text, permanent=not setup and 500 <= exc.smtp_code < 600,
                             setup=setup)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"邮件服务器的证书未通过校验（{exc.verify_message}；如使用本单位 CA，"
                             "请设置 TRACKER_SMTP_CA_FILE）", permanent=False, setup=True)
    return DeliveryError(f"无法连接邮件服务器（{exc}）", permanent=False, setup=True)


def _text(reply: bytes | str) -> str:
    """A server's reply as text for a person (servers may answer in any charset)."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def _display_name(name: str) -> str:
    """A name as a header can carry it: line breaks and control characters become one
    space (a CR/LF typed into a name must neither crash the run nor inject a header)."""
    return _CONTROL.sub(" ", name).strip()
