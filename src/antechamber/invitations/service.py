"""Email invitations to a room, sent over SMTP (the standard library's client, in a
worker thread: one connection per request, one message per recipient)."""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import TYPE_CHECKING

from antechamber.errors import NotOffered, UpstreamUnavailable
from antechamber.settings import EmailSettings
from antechamber.text import without_control_characters

if TYPE_CHECKING:
    import smtplib


class InvitationService:
    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings

    async def invite(
        self, *, room_name: str, link: str, sender: str, recipients: list[str]
    ) -> None:
        if not self._settings.enabled:
            raise NotOffered("Email invitations are not configured on this service.")
        # Imported on first use: invitations are rare, and every worker would hold it.
        import smtplib

        messages = [self._message(room_name, link, sender, to) for to in recipients]
        try:
            await asyncio.to_thread(self._send, messages)
        except (smtplib.SMTPException, OSError) as exc:
            raise UpstreamUnavailable("The mail server did not take the invitations.") from exc

    def _message(self, room_name: str, link: str, sender: str, to: str) -> EmailMessage:
        sender = without_control_characters(sender).strip() or "Someone"
        room_name = without_control_characters(room_name).strip()
        message = EmailMessage()
        message["Subject"] = f"{sender} invites you to a meeting: {room_name}"
        message["From"] = formataddr((sender, self._settings.from_address))
        message["To"] = to
        message["Message-ID"] = make_msgid()
        message.set_content(
            f'Hello,\n\n{sender} invites you to join the meeting "{room_name}".\n\n'
            f"Join it from your browser:\n{link}\n\n"
            "You don't need an account to ask to join.\n"
        )
        return message

    def _send(self, messages: list[EmailMessage]) -> None:
        import smtplib  # loaded by `invite` already

        settings = self._settings
        assert settings.host is not None
        client: smtplib.SMTP
        if settings.use_ssl:
            client = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with client:
            if settings.use_tls and not settings.use_ssl:
                client.starttls(context=ssl.create_default_context())
            if settings.username and settings.password is not None:
                client.login(settings.username, settings.password.get_secret_value())
            for message in messages:
                client.send_message(message)
