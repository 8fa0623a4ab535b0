"""Email over SMTP (standard library smtplib): one message per digest."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from notifications.channels.base import DeliveryError, Digest


class EmailChannel:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 30.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def build(self, digest: Digest) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = formataddr(("规划纲要督查督办系统", self.sender))
        msg["To"] = formataddr((digest.recipient_name, digest.address))
        msg["Subject"] = digest.subject
        msg["Date"] = format_datetime(digest.date)
        # Same digest, same Message-ID: a resend after a crash can be recognised downstream.
        msg["Message-ID"] = f"<{digest.digest_id}@plan-tracker>"
        msg.set_content(digest.body, charset="utf-8")
        return msg

    def send(self, digest: Digest) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(self.build(digest))
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                permanent=500 <= exc.smtp_code < 600) from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP unreachable: {exc}", permanent=False) from exc
