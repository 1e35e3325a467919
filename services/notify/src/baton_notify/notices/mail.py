"""Sending one e-mail through the configured SMTP server (aiosmtplib)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from baton_notify.settings import NotifySettings


class MailRefused(Exception):
    """The mail server could not be reached or refused the message; the text says why."""


class Mailer:
    def __init__(self, settings: NotifySettings) -> None:
        self.s = settings

    @property
    def configured(self) -> bool:
        return bool(self.s.smtp_host)

    async def send(self, to: str, subject: str, body: str, message_id: str, at) -> None:  # noqa: ANN001
        message = EmailMessage()
        message["From"] = self.s.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(at)
        # The notice's own id: a receiving server or mail client that sees it twice (a send
        # whose acceptance was not recorded before a crash) can tell it is the same message.
        message["Message-ID"] = f"<{message_id}@{self.s.smtp_message_domain}>"
        message.set_content(body)
        login = self.s.smtp_username or None
        password = self.s.smtp_password.get_secret_value() if login and self.s.smtp_password else None
        try:
            await aiosmtplib.send(
                message,
                hostname=self.s.smtp_host,
                port=self.s.smtp_port,
                username=login,
                password=password,
                use_tls=self.s.smtp_tls == "implicit",
                start_tls=True if self.s.smtp_tls == "starttls" else False,
                timeout=self.s.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailRefused(f"{type(exc).__name__}: {exc}"[:500]) from exc
