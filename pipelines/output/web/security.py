"""The web view's safety: who may connect, CSRF on every POST, and headers that forbid scripts.

Safe by default: the server binds 127.0.0.1; any other address needs a password
($NEWSWATCH_WEB_PASSWORD, HTTP Basic) or `web.trust_proxy_auth = true` (a reverse proxy that
authenticates). The digest's signed links (/d/...) work without logging in: the token is the
permission, and it allows one action on one article.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

PASSWORD_ENV = "NEWSWATCH_WEB_PASSWORD"
CSRF_COOKIE = "nw_csrf"
CSRF_FIELD = "csrf"
# No script may run: none is served, and an injected one (a page title with <script>) is
# refused by the browser even if escaping ever failed. Styles come from our own file only.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-src 'self'; frame-ancestors 'self'; base-uri 'none'")
# The archived digest is a mail: inline styles, no scripts, and sandboxed in its frame.
MAIL_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
            "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation")
HEADERS = {
    "x-content-type-options": "nosniff",
    # A digest link carries its token in the URL: never hand it to another site as a referrer.
    "referrer-policy": "no-referrer",
    "x-frame-options": "SAMEORIGIN",
}
OPEN_PATHS = ("/d/", "/static/")  # served without the password (the token, the stylesheet)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def bind_problem(host: str, password: str | None, trust_proxy_auth: bool) -> str | None:
    """Why the web view must not listen on `host` as configured, or None when it may."""
    if password or trust_proxy_auth or is_loopback(host):
        return None
    return (f"--host {host}: the web view would be open to the network without authentication; "
            f"set ${PASSWORD_ENV} (HTTP Basic), or web.trust_proxy_auth = true behind a reverse "
            "proxy that authenticates, or bind 127.0.0.1")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def csrf_token(key: bytes, cookie: str) -> str:
    """The form field that goes with this browser's CSRF cookie (signed double submit): another
    site can make the browser send the cookie, but cannot read it to compute this."""
    return hmac.new(key, b"csrf\0" + cookie.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_ok(key: bytes, cookie: str | None, given: str | None) -> bool:
    return bool(cookie and given) and hmac.compare_digest(csrf_token(key, cookie or ""), given or "")


def sign_value(key: bytes, value: str) -> str:
    """A MAC of a small form value the server hands out and must get back unchanged (undo)."""
    return hmac.new(key, b"value\0" + value.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Guard:
    """ASGI middleware: HTTP Basic when a password is set, the CSRF cookie, the safety headers.

    A plain ASGI class rather than BaseHTTPMiddleware: it must not buffer the streamed JSON.
    """

    app: ASGIApp
    password: str | None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope.get("path", "")
        if self.password and not path.startswith(OPEN_PATHS) and not self._authorised(headers):
            await _plain(send, 401, "newswatch: log in with the password from "
                         f"${PASSWORD_ENV} (any user name)\n",
                         [(b"www-authenticate", b'Basic realm="newswatch", charset="UTF-8"')])
            return
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:
            cookies = SimpleCookie()
        cookie = cookies[CSRF_COOKIE].value if CSRF_COOKIE in cookies else None
        fresh = None
        if not cookie:
            cookie = fresh = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_cookie"] = cookie
        secure = "; Secure" if scope.get("scheme") == "https" else ""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                if fresh:
                    extra.append((b"set-cookie", f"{CSRF_COOKIE}={fresh}; Path=/; HttpOnly; "
                                  f"SameSite=Strict{secure}".encode()))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _authorised(self, headers: dict[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            _user, _, given = base64.b64decode(value).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given.encode(), (self.password or "").encode())


async def _plain(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", CSP.encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
