"""Delivering a digest: the MIME message, then SMTP (STARTTLS or implicit TLS) or an .eml file."""

from __future__ import annotations

import base64
import logging
import os
import re
import smtplib
import ssl
import tempfile
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from pipelines.digest.render import DigestContent

logger = logging.getLogger(__name__)
PASSWORD_ENV = "NEWSWATCH_SMTP_PASSWORD"
_NO_SMTP = "or remove [digest].smtp to write .eml files to the outbox"


class DeliveryError(Exception):
    """A digest that could not be delivered; the message names the fix.

    `retryable` is false when trying again cannot help before someone changes something
    (a wrong password, a refused recipient, an untrusted certificate).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def build_message(
    content: DigestContent, *, sender: str, to: list[str], message_id: str, date: datetime,
) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML the client prefers."""
    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = sender
    if to:
        message["To"] = ", ".join(to)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    # RFC 3834: tells vacation responders and ticket systems not to answer a robot.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(content.text, subtype="plain", charset="utf-8")
    message.add_alternative(content.html, subtype="html", charset="utf-8")
    return message


def deliver(
    message: EmailMessage,
    *,
    smtp_url: str | None,
    outbox: Path,
    password: str | None,
    cafile: str | None = None,
    timeout: float = 30,
) -> str:
    """Send `message` over SMTP, or write it to `outbox` when there is no `smtp_url`.

    Returns where it went ("smtp://host:port" or the .eml path). Raises DeliveryError, whose
    message never contains the password. Returning means the server accepted the message.
    """
    if not smtp_url:
        try:
            return str(_write_eml(message, outbox))
        except OSError as exc:
            raise DeliveryError(f"cannot write the digest to the outbox {outbox}: {exc}: make the "
                                "folder writable, or set [digest].outbox to one that is",
                                retryable=False) from None
    try:
        return _send_smtp(message, smtp_url, password, cafile, timeout)
    except DeliveryError as exc:
        raise DeliveryError(_scrub(str(exc), password), retryable=exc.retryable) from None


def _send_smtp(
    message: EmailMessage, url: str, password: str | None, cafile: str | None, timeout: float,
) -> str:
    parts = urlsplit(url)
    implicit_tls = parts.scheme == "smtps"
    host = parts.hostname or ""
    port = parts.port or (465 if implicit_tls else 587)
    user = unquote(parts.username) if parts.username else None
    where = f"{host}:{port}"
    recipients = [address for _, address in getaddresses(message.get_all("To", [])) if address]
    if not recipients:
        raise DeliveryError(f"no recipients for {where}: set [digest].to", retryable=False)
    if user and not password:
        raise DeliveryError(
            f"SMTP login as {user!r} at {where} needs a password: set {PASSWORD_ENV}, "
            f"or drop the user from [digest].smtp if the server needs no login, {_NO_SMTP}",
            retryable=False,
        )
    context = ssl.create_default_context(cafile=cafile)
    try:
        if implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            client.ehlo()
            if not implicit_tls:
                _starttls(client, context, where, user, parts.scheme == "smtp+starttls")
            if user:
                _login(client, user, password or "", where)
            refused = client.send_message(message, to_addrs=recipients)
    except DeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        detail = "; ".join(f"{a} ({c} {_text(m)})" for a, (c, m) in exc.recipients.items())
        raise DeliveryError(f"SMTP server {where} refused every recipient: {detail}: "
                            "check [digest].to", retryable=_transient(exc.recipients)) from None
    except smtplib.SMTPSenderRefused as exc:
        raise DeliveryError(
            f"SMTP server {where} refused the sender {exc.sender} ({exc.smtp_code} "
            f"{_text(exc.smtp_error)}): set [digest].from to an address this account may send as",
            retryable=exc.smtp_code < 500) from None
    except smtplib.SMTPServerDisconnected as exc:
        raise DeliveryError(f"SMTP server {where} closed the connection ({exc or 'no reason'}); "
                            "will retry") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP server {where} refused the message ({exc.smtp_code} "
                            f"{_text(exc.smtp_error)})", retryable=exc.smtp_code < 500) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"TLS certificate of {where} is not trusted ({exc.verify_message}): set "
            "[digest].smtp_cafile to the CA bundle that signed it, or fix the server's certificate",
            retryable=False) from None
    except ssl.SSLError as exc:
        hint = ("is it a STARTTLS port? use smtp://host:587" if implicit_tls
                else "is it an implicit-TLS port? use smtps://host:465")
        raise DeliveryError(f"TLS with {where} failed ({exc.reason or exc}): {hint}",
                            retryable=False) from None
    except TimeoutError as exc:
        raise DeliveryError(f"SMTP server {where} did not answer within {timeout:g}s ({exc}); "
                            "will retry") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"cannot talk to SMTP server {where}: {exc}: check the host and port "
                            f"in [digest].smtp and that the server is up, {_NO_SMTP}") from None
    if refused:
        logger.warning("SMTP server %s accepted the digest but refused %s", where,
                       ", ".join(refused))
    return f"{parts.scheme}://{where}"


def _starttls(client: smtplib.SMTP, context: ssl.SSLContext, where: str, user: str | None,
              required: bool) -> None:
    """Upgrade whenever the server offers STARTTLS; never send a password in the clear."""
    if client.has_extn("starttls"):
        client.starttls(context=context)
        client.ehlo()
    elif user or required:
        raise DeliveryError(
            f"SMTP server {where} does not offer STARTTLS, so the password would travel in clear "
            "text: use smtps://host:465 if the server has implicit TLS, or a server with STARTTLS",
            retryable=False)
    else:
        logger.warning("SMTP server %s does not offer STARTTLS; sending without encryption", where)


def _login(client: smtplib.SMTP, user: str, password: str, where: str) -> None:
    try:
        if (user + password).isascii():
            client.login(user, password)
        else:
            _login_utf8(client, user, password)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP login failed for {where} as {user!r} ({exc.smtp_code} "
            f"{_text(exc.smtp_error)}): set {PASSWORD_ENV}, {_NO_SMTP}", retryable=False) from None
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError(
            f"SMTP server {where} offers no login (AUTH): remove the user from [digest].smtp",
            retryable=False) from None


def _login_utf8(client: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN or LOGIN with UTF-8 credentials (RFC 4616), which smtplib cannot encode."""
    methods = client.esmtp_features.get("auth", "").upper().split()

    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    if "PLAIN" in methods:
        code, reply = client.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{password}".encode()))
    elif "LOGIN" in methods:
        code, reply = client.docmd("AUTH", "LOGIN " + b64(user.encode()))
        if code == 334:
            code, reply = client.docmd(b64(password.encode()))
    else:
        raise smtplib.SMTPNotSupportedError("no AUTH PLAIN or LOGIN")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _write_eml(message: EmailMessage, outbox: Path) -> Path:
    """Write atomically (temp file, fsync, rename), so a reader never sees half a message.

    The name comes from the Message-ID: a retried digest replaces its own file.
    """
    outbox.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(message["Message-ID"]).strip("<> ").split("@")[0])
    target = outbox / f"{stem or 'digest'}.eml"
    handle, temp = tempfile.mkstemp(dir=outbox, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(message.as_bytes())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def _transient(replies: dict[str, tuple[int, bytes]]) -> bool:
    return all(code < 500 for code, _ in replies.values())


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _scrub(text: str, password: str | None) -> str:
    """Belt and braces: no message of ours holds the password, but servers echo odd things."""
    return text.replace(password, "***") if password else text
