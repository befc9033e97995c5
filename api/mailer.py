"""Email delivery of the durable ``notifications`` rows (the relay's email loop).

Rows are written in the transaction of the event that causes them (``services.outbox``);
the relay's leader (``api/relay.py``) sends due rows with aiosmtplib, records every
attempt (``attempts``, ``last_error``), retries with exponential back-off
(``notify_backoff_s`` doubling up to ``notify_backoff_max_s``) across restarts, marks a
row ``delivered`` once the SMTP server accepted it (never sent again) and ``dead`` after
``notify_max_attempts``. The Message-ID is derived from the row, so a resend after a
crash between the server's acceptance and the mark carries the same id.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
from psycopg_pool import AsyncConnectionPool

from services.webhooks import backoff_s
from stack.settings import Settings
from store import notifications as q

log = logging.getLogger("fieldflow.api.mailer")
BATCH = 20


def email_of(settings: Settings, row: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = row["recipient"]
    msg["Subject"] = row["subject"]
    msg["Date"] = formatdate(row["created_at"].timestamp(), usegmt=True)
    msg["Message-ID"] = f"<{row['event_id']}.{row['id']}@fieldflow>"
    msg["X-FieldFlow-Kind"] = row["kind"]
    if row["work_order_id"]:
        msg["X-FieldFlow-Work-Order"] = row["work_order_id"]
    msg.set_content(row["body"])
    return msg


class EmailSender:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        self.settings = settings
        self.pool = pool

    async def deliver_due(self) -> bool:
        """Send every due notification once, over one SMTP session; True when the batch
        was full (more may wait)."""
        async with self.pool.connection() as conn:
            due = await q.due(conn, BATCH)
        if not due:
            return False
        s = self.settings
        smtp = aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, use_tls=s.smtp_tls,
                               start_tls=s.smtp_starttls, timeout=s.smtp_timeout_s)
        session_error: str | None = None
        try:
            await smtp.connect()
            if s.smtp_user:
                await smtp.login(s.smtp_user, s.smtp_password or "")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            session_error = f"{type(exc).__name__}: {exc}"[:500]
        try:
            for row in due:
                error = session_error or await self._send(smtp, row)
                await self._settle(row, error)
        finally:
            if session_error is None and smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    smtp.close()
        return len(due) >= BATCH

    async def _send(self, smtp: aiosmtplib.SMTP, row: dict[str, Any]) -> str | None:
        try:
            errors, _ = await smtp.send_message(email_of(self.settings, row))
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if errors:  # the one recipient refused
            return "; ".join(f"{k}: {v}" for k, v in errors.items())[:500]
        return None

    async def _settle(self, row: dict[str, Any], error: str | None) -> None:
        s = self.settings
        attempt = int(row["attempts"]) + 1
        state = ("delivered" if error is None
                 else "dead" if attempt >= s.notify_max_attempts else "pending")
        if state == "dead":
            log.warning("notification %s to %s dead after %d attempts (%s)",
                        row["id"], row["recipient"], attempt, error)
        elif state == "pending":
            log.info("notification %s to %s not sent (%s); retrying with back-off",
                     row["id"], row["recipient"], error)
        retry = backoff_s(attempt, s.notify_backoff_s, s.notify_backoff_max_s)
        async with self.pool.connection() as conn:
            await q.settle(conn, row["id"], state, error, retry)
