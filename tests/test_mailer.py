"""pipelines/digest/mailer.py against real SMTP servers (aiosmtpd) on 127.0.0.1: plain, STARTTLS, TLS.

The servers, handler and certificate here are also used by tests/test_digest.py.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pipelines.digest.mailer import DeliveryError, build_message, deliver
from pipelines.digest.render import DigestContent

# The implicit-TLS server takes AUTH without STARTTLS, as it should; aiosmtpd warns regardless.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
USER = "digest@example.org"
PASSWORD = "s3cret-Pässw0rd!"  # non-ASCII: smtplib alone cannot send it
ASCII_PASSWORD = "s3cret-Passw0rd!"


# -- servers ----------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts, and misbehaves on request."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_rcpt: str | None = None  # e.g. "550 5.1.1 no such user"
        self.refuse_data: str | None = None  # e.g. "554 5.7.1 rejected as spam"
        self.drop = False  # hang up in the middle of DATA, before answering

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop:
            server.transport.abort()
            return "250 never heard"
        if self.refuse_data:
            return self.refuse_data
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK queued"


class Logins:
    """An aiosmtpd authenticator: accepts USER/PASSWORD and remembers every try."""

    def __init__(self) -> None:
        self.tries: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.tries.append((mechanism, login))
        # handled=False: aiosmtpd answers 535 itself when the login is wrong.
        ok = login == USER and password in (PASSWORD, ASCII_PASSWORD)
        return AuthResult(success=ok, handled=False)


class _Server(Controller):
    """A Controller on port 0: the OS picks a free port, read back once the socket is bound."""

    def _trigger_server(self) -> None:
        if self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def start_server(handler: Mailbox, **kwargs: Any) -> _Server:
    server = _Server(handler, hostname="127.0.0.1", port=0, **kwargs)
    server.start()
    return server


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newswatch test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def logins() -> Logins:
    return Logins()


@pytest.fixture
def plain_server(mailbox: Mailbox) -> Iterator[_Server]:
    """No TLS, no AUTH: a local relay."""
    server = start_server(mailbox)
    yield server
    server.stop()


@pytest.fixture
def starttls_server(mailbox: Mailbox, logins: Logins,
                    certificate: tuple[Path, Path]) -> Iterator[_Server]:
    """Offers STARTTLS, and AUTH (LOGIN, PLAIN) only once TLS is on, like a submission port."""
    server = start_server(mailbox, tls_context=server_tls(certificate), require_starttls=True,
                          authenticator=logins, auth_required=True)
    yield server
    server.stop()


@pytest.fixture
def smtps_server(mailbox: Mailbox, logins: Logins,
                 certificate: tuple[Path, Path]) -> Iterator[_Server]:
    """Implicit TLS from the first byte, like port 465."""
    server = start_server(mailbox, ssl_context=server_tls(certificate), authenticator=logins,
                          auth_required=True, auth_require_tls=False)
    yield server
    server.stop()


# -- helpers ----------------------------------------------------------------------------------


def _content(title: str = "AI R&D budget doubles") -> DigestContent:
    return DigestContent(subject=f"[newswatch] 2025-03-04: 1 new article in ai — {title}",
                         text=f"{title}\nhttps://example.org/a\n", count=1, topics=["ai"],
                         html=f"<p><a href='https://example.org/a'>{title}</a></p>", items=[])


def _message(message_id: str = "<newswatch.20250304.abc@example.org>") -> EmailMessage:
    return build_message(_content(), sender="newswatch@example.org",
                         to=["analyst@example.org", "boss@example.org"], message_id=message_id,
                         date=dt.datetime(2025, 3, 4, 7, 30, tzinfo=dt.UTC))


def _send(server: _Server, message: EmailMessage, tmp_path: Path, *, scheme: str = "smtp",
          user: str | None = None, password: str | None = None,
          cafile: Path | None = None) -> str:
    login = f"{user.replace('@', '%40')}@" if user else ""
    return deliver(message, smtp_url=f"{scheme}://{login}127.0.0.1:{server.port}",
                   outbox=tmp_path / "outbox", password=password,
                   cafile=str(cafile) if cafile else None, timeout=5)


# -- the message ------------------------------------------------------------------------------


def test_message_is_multipart_alternative_with_text_then_html() -> None:
    parsed = email.message_from_bytes(_message().as_bytes(), policy=default_policy)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"], "text first: clients show the last they can"
    assert parsed["Message-ID"] == "<newswatch.20250304.abc@example.org>"
    assert parsed["To"] == "analyst@example.org, boss@example.org"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Subject"].endswith("AI R&D budget doubles")
    assert "2025 07:30:00 +0000" in parsed["Date"]


def test_korean_text_survives_the_round_trip() -> None:
    message = build_message(_content("과기정통부, AI 연구 예산 2배"), sender="nw@example.org",
                            to=["a@example.org"], message_id="<k@example.org>",
                            date=dt.datetime(2025, 3, 4, tzinfo=dt.UTC))
    parsed = email.message_from_bytes(message.as_bytes(), policy=default_policy)
    assert "과기정통부" in parsed["Subject"]
    assert "과기정통부" in parsed.get_body(("plain",)).get_content()
    assert "과기정통부" in parsed.get_body(("html",)).get_content()


# -- the outbox -------------------------------------------------------------------------------


def test_outbox_eml_parses_back_and_a_retry_replaces_its_own_file(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    where = deliver(_message(), smtp_url=None, outbox=outbox, password=None)
    again = deliver(_message(), smtp_url=None, outbox=outbox, password=None)
    assert where == again, "the file name comes from the Message-ID, so a retry overwrites it"
    assert [p.name for p in outbox.iterdir()] == [Path(where).name], "no temp files left over"
    parsed = email.message_from_bytes(Path(where).read_bytes(), policy=default_policy)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Message-ID"] == "<newswatch.20250304.abc@example.org>"


def test_unwritable_outbox_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(DeliveryError, match=r"\[digest\]\.outbox") as info:
        deliver(_message(), smtp_url=None, outbox=blocker, password=None)
    assert not info.value.retryable


# -- SMTP -------------------------------------------------------------------------------------


def test_plain_relay_without_login(plain_server: _Server, mailbox: Mailbox,
                                   tmp_path: Path) -> None:
    where = _send(plain_server, _message(), tmp_path)
    assert where == f"smtp://127.0.0.1:{plain_server.port}"
    assert mailbox.envelopes == [("newswatch@example.org",
                                  ["analyst@example.org", "boss@example.org"])]
    assert mailbox.messages[0]["Message-ID"] == "<newswatch.20250304.abc@example.org>"


@pytest.mark.parametrize("password", [ASCII_PASSWORD, PASSWORD])
@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_starttls_then_login(mechanism: str, password: str, mailbox: Mailbox, logins: Logins,
                             certificate: tuple[Path, Path], tmp_path: Path) -> None:
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    server = start_server(mailbox, tls_context=server_tls(certificate), require_starttls=True,
                          authenticator=logins, auth_required=True,
                          auth_exclude_mechanism=[other])
    try:
        where = _send(server, _message(), tmp_path, user=USER, password=password,
                      cafile=certificate[0])
    finally:
        server.stop()
    assert where.startswith("smtp://127.0.0.1:")
    assert logins.tries == [(mechanism, USER)]
    assert len(mailbox.messages) == 1


def test_implicit_tls_then_login(smtps_server: _Server, mailbox: Mailbox, logins: Logins,
                                 certificate: tuple[Path, Path], tmp_path: Path) -> None:
    where = _send(smtps_server, _message(), tmp_path, scheme="smtps", user=USER,
                  password=PASSWORD, cafile=certificate[0])
    assert where == f"smtps://127.0.0.1:{smtps_server.port}"
    assert [login for _, login in logins.tries] == [USER]
    assert mailbox.messages[0].get_content_type() == "multipart/alternative"


def test_no_password_over_a_connection_without_starttls(mailbox: Mailbox, logins: Logins,
                                                        tmp_path: Path) -> None:
    # This server would take AUTH in the clear; the mailer must not offer it the password.
    server = start_server(mailbox, authenticator=logins, auth_require_tls=False)
    try:
        with pytest.raises(DeliveryError, match="does not offer STARTTLS") as info:
            _send(server, _message(), tmp_path, user=USER, password=PASSWORD)
    finally:
        server.stop()
    assert logins.tries == [] and mailbox.messages == []
    assert not info.value.retryable
    assert "smtps://" in str(info.value), "the error names the fix"


def test_wrong_password_names_the_fix_and_never_the_password(
        starttls_server: _Server, logins: Logins, certificate: tuple[Path, Path],
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wr0ng-" + PASSWORD
    with pytest.raises(DeliveryError) as info:
        _send(starttls_server, _message(), tmp_path, user=USER, password=wrong,
              cafile=certificate[0])
    message = str(info.value)
    assert message.startswith(f"SMTP login failed for 127.0.0.1:{starttls_server.port}")
    assert "set NEWSWATCH_SMTP_PASSWORD" in message
    assert "remove [digest].smtp to write .eml files to the outbox" in message
    assert not info.value.retryable
    assert wrong not in message and wrong not in caplog.text
    assert logins.tries, "the login was really attempted"


def test_user_without_password_fails_before_connecting(plain_server: _Server, mailbox: Mailbox,
                                                       tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="set NEWSWATCH_SMTP_PASSWORD"):
        _send(plain_server, _message(), tmp_path, user=USER, password=None)
    assert mailbox.messages == []


def test_untrusted_certificate_names_smtp_cafile(smtps_server: _Server,
                                                 tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match=r"not trusted.*smtp_cafile") as info:
        _send(smtps_server, _message(), tmp_path, scheme="smtps", user=USER, password=PASSWORD)
    assert not info.value.retryable


def test_refused_recipients(plain_server: _Server, mailbox: Mailbox, tmp_path: Path) -> None:
    mailbox.refuse_rcpt = "550 5.1.1 no such user"
    with pytest.raises(DeliveryError, match=r"refused every recipient.*no such user.*\[digest\]\.to"
                       ) as info:
        _send(plain_server, _message(), tmp_path)
    assert not info.value.retryable


def test_refused_data_permanent_and_temporary(plain_server: _Server, mailbox: Mailbox,
                                              tmp_path: Path) -> None:
    mailbox.refuse_data = "554 5.7.1 rejected as spam"
    with pytest.raises(DeliveryError, match=r"554 5\.7\.1 rejected as spam") as info:
        _send(plain_server, _message(), tmp_path)
    assert not info.value.retryable
    mailbox.refuse_data = "451 4.3.0 try again later"
    with pytest.raises(DeliveryError, match="451") as info:
        _send(plain_server, _message(), tmp_path)
    assert info.value.retryable


def test_connection_dropped_mid_session_is_retryable(plain_server: _Server, mailbox: Mailbox,
                                                     tmp_path: Path) -> None:
    mailbox.drop = True
    with pytest.raises(DeliveryError, match="closed the connection") as info:
        _send(plain_server, _message(), tmp_path)
    assert info.value.retryable
    assert mailbox.messages == []


def test_nobody_listening_is_retryable_and_names_the_setting(tmp_path: Path) -> None:
    server = start_server(Mailbox())
    port = server.port
    server.stop()
    with pytest.raises(DeliveryError, match=r"check the host and port in \[digest\]\.smtp") as info:
        deliver(_message(), smtp_url=f"smtp://127.0.0.1:{port}", outbox=tmp_path,
                password=None, timeout=2)
    assert info.value.retryable
