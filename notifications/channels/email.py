"""Email over SMTP (standard library smtplib): one message per digest."""

from __future__ import annotations

import smtplib
import ssl
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from notifications.channels.base import DeliveryError, Digest


class EmailChannel:
    """SMTP with optional AUTH and TLS (`security`: none, starttls, ssl).

    `timeout` bounds each connection and each command, so a server that accepts the
    connection and never answers costs one timeout, not the run.
    """

    def __init__(self, host: str, port: int, sender: str, timeout: float = 30.0, *,
                 user: str | None = None, password: str | None = None,
                 security: str = "none"):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.user, self.password, self.security = user, password, security

    def build(self, digest: Digest) -> EmailMessage:
        # 77, not 78: CPython's header folder lets an encoded display name plus its address
        # run one character over the limit (79); one less keeps every line within RFC 5322's 78
        msg = EmailMessage(policy=email_policy.default.clone(max_line_length=77))
        msg["From"] = formataddr(("规划纲要督查督办系统", self.sender))
        msg["To"] = formataddr((digest.recipient_name, digest.address))
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
                                    context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp

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
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"收件地址被拒收：{exc.recipients}", permanent=True) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"邮件服务器拒绝登录（请检查 TRACKER_SMTP_USER / "
                                f"TRACKER_SMTP_PASSWORD）：SMTP {exc.smtp_code}",
                                permanent=False, setup=True) from exc
        except smtplib.SMTPResponseException as exc:
            # 530 and 503 on MAIL FROM mean "authenticate first": a setup problem, not this
            # recipient's; other 5xx replies refuse this message for good
            setup = exc.smtp_code in (530, 503) or (exc.smtp_code in (550, 553)
                                                   and isinstance(exc, smtplib.SMTPSenderRefused))
            text = (f"邮件服务器要求登录或拒绝发件人（SMTP {exc.smtp_code}）" if setup
                    else f"邮件服务器拒收（SMTP {exc.smtp_code}：{exc.smtp_error!r}）")
            raise DeliveryError(text, permanent=not setup and 500 <= exc.smtp_code < 600,
                                setup=setup) from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"无法连接邮件服务器（{exc}）", permanent=False, setup=True) from exc
