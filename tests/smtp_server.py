"""A real SMTP server on loopback (aiosmtpd) that records what it receives."""

from __future__ import annotations

import email
import socket
import ssl
from email import policy as email_policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # each message as it arrived
        self.on_data = None  # called with the message count after each one is stored
        self.reject: dict[str, str] = {}  # address -> SMTP reply, e.g. "550 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        msg = email.message_from_bytes(envelope.content, policy=email_policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.raw.append(envelope.original_content or envelope.content)
        if self.on_data is not None:
            self.on_data(len(self.messages))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(port: int | None = None, *, login: tuple[str, str] | None = None,
          starttls: ssl.SSLContext | None = None, implicit: ssl.SSLContext | None = None
          ) -> tuple[Controller, Recorder]:
    """Start the server; with `login`, it requires AUTH (PLAIN/LOGIN) with that user and
    password before MAIL FROM, as hosted government mailboxes do ("530 … authentication
    required"); plain text on loopback is allowed unless `starttls` is given: then the
    server offers and requires STARTTLS with that context (AUTH only after it). `implicit`
    serves TLS from the first byte (SMTPS, port 465 style)."""
    recorder = Recorder()
    kwargs: dict = {}  # type: ignore[type-arg]
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=True)
    if implicit is not None:
        kwargs.update(ssl_context=implicit)
    if login is not None:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()) == login
            return AuthResult(success=ok, handled=False)  # a refusal answers 535 at once

        kwargs.update(auth_required=True, auth_require_tls=starttls is not None,
                      authenticator=authenticator)
    controller = Controller(recorder, hostname="127.0.0.1", port=port or free_port(), **kwargs)
    controller.start()
    return controller, recorder
