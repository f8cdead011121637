"""Links from a digest into the web view: each item's page, and a signed "not relevant" link.

A reader answers the mail without logging in, so the link itself is the permission: an HMAC
(SHA-256, keyed with $NEWSWATCH_WEB_SECRET) over the article, the topic, the one action it
allows and its expiry. Changing any of them breaks the signature; nothing is stored per link,
so the digest and the web view need only share the secret. The web view checks the token
(`verify`) and still asks the reader to confirm with a POST, so a mail scanner that fetches
every link labels nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from crawler.config import Config

SECRET_ENV = "NEWSWATCH_WEB_SECRET"
IRRELEVANT = "irrelevant"  # the one action a digest link can take
_DOMAIN = b"newswatch digest link v1\0"  # a signature made for anything else never verifies here
logger = logging.getLogger(__name__)


class BadToken(Exception):
    """A link that is altered, signed with another secret, or expired; the message says which."""


@dataclass(frozen=True)
class LinkAction:
    """What a verified link allows: one action on one article for one topic, until `expires`."""

    article_id: int
    topic: str
    action: str
    expires: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest()


def sign(secret: bytes, article_id: int, topic: str, action: str, expires: datetime) -> str:
    """A token for one action: `payload.signature`, both URL-safe base64."""
    body = json.dumps({"a": article_id, "t": topic, "x": action, "e": int(expires.timestamp())},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    payload = _b64(body.encode("utf-8"))
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify(secret: bytes, token: str, now: datetime | None = None) -> LinkAction:
    """The action a token allows, or BadToken saying why it does not."""
    payload, dot, signature = token.partition(".")
    try:
        given = _unb64(signature)
        payload.encode("ascii")
    except (ValueError, UnicodeError):
        raise BadToken("this link is damaged (it may have been cut or changed)") from None
    if not dot or not hmac.compare_digest(given, _mac(secret, payload)):
        raise BadToken("this link was altered, or signed with another secret "
                       f"(${SECRET_ENV} changed since the digest was sent)")
    try:
        data = json.loads(_unb64(payload))
        action = LinkAction(int(data["a"]), str(data["t"]), str(data["x"]),
                            datetime.fromtimestamp(int(data["e"]), UTC))
    except (ValueError, KeyError, TypeError):
        raise BadToken("this link is damaged (it may have been cut or changed)") from None
    if (now or datetime.now(UTC)) >= action.expires:
        raise BadToken(f"this link expired on {action.expires:%Y-%m-%d %H:%M} UTC; open the "
                       "article in the web view to judge it")
    return action


@dataclass(frozen=True)
class DigestLinks:
    """The web view's links for one digest: made when the digest is rendered."""

    base_url: str
    secret: bytes | None
    lifetime: timedelta
    now: datetime

    def page(self, article_id: int) -> str:
        return f"{self.base_url}/articles/{article_id}"

    def not_relevant(self, article_id: int, topic: str) -> str | None:
        """The signed one-click link, or None without a secret (the page link still works)."""
        if self.secret is None:
            return None
        token = sign(self.secret, article_id, topic, IRRELEVANT, self.now + self.lifetime)
        return f"{self.base_url}/d/{quote(token)}"


def secret_from_env() -> bytes | None:
    value = os.environ.get(SECRET_ENV, "")
    return value.encode("utf-8") if value else None


def digest_links(config: Config, now: datetime | None = None) -> DigestLinks | None:
    """The links for digests sent with this config: None when `web.base_url` is not set."""
    if config.web is None or config.web.base_url is None:
        return None
    secret = secret_from_env()
    if secret is None:
        logger.warning("web.base_url is set but $%s is not: digest items link to their page, "
                       "without a one-click \"not relevant\" link", SECRET_ENV)
    return DigestLinks(config.web.base_url, secret, timedelta(days=config.web.link_days),
                       now or datetime.now(UTC))
