"""The daily digest: which stories go out, recording each digest before it is sent, and sending it.

A digest is a row (status "pending", with its items and a Message-ID) committed *before* the
first delivery attempt, and marked "sent" only after the server accepted it. So a crash or a
refusing server never loses a story (the row is retried, same items, same Message-ID) and never
mails one twice (a story and topic belong to at most one digest). If the process dies between
the server's acceptance and the commit, the retry resends the same Message-ID, which Gmail and
many mail stores fold into the copy already received: no protocol can close that last gap.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipelines.digest.mailer import PASSWORD_ENV, DeliveryError, build_message, deliver
from pipelines.digest.render import DigestContent, render_digest
from pipelines.storage.models import Digest, DigestItem
from pipelines.storage.queries import Filters, StoryMatch, count_stories, story_matches, story_page

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crawler.config import DigestConfig
    from pipelines.digest.links import DigestLinks
    from pipelines.storage.store import Store

__all__ = [
    "DigestContent", "SendResult", "prepare_digest", "preview_digest", "render_digest",
    "send_pending",
]
logger = logging.getLogger(__name__)
UNSENT = ("pending", "failed")


@dataclass
class SendResult:
    """What became of one digest in one `send_pending` call."""

    digest_id: int
    status: str  # "sent", or "failed" when this call gave up (the next call tries again)
    message_id: str
    subject: str
    count: int
    attempts: int  # over the digest's whole life, not just this call
    delivered_to: str | None = None
    error: str | None = None

    def __str__(self) -> str:
        head = f"digest {self.digest_id} ({self.count} articles, {self.message_id})"
        if self.status == "sent":
            return f"{head}: sent to {self.delivered_to}"
        return f"{head}: {self.status} after {self.attempts} attempts: {self.error}"


def preview_digest(
    store: Store, config: DigestConfig, *, now: datetime | None = None,
    attention: Sequence[str] = (), links: DigestLinks | None = None,
) -> DigestContent:
    """The next digest as it would be sent, marking nothing.

    That is the oldest unsent digest if one is waiting, else what `prepare_digest` would record.
    An empty result (count 0) is rendered too, as the "nothing new" mail.
    """
    now = now or datetime.now(UTC)
    with store.session() as session:
        waiting = _unsent_ids(session)
        if waiting:
            return _content(session, session.get_one(Digest, waiting[0]), config, attention,
                            links)
        chosen, waiting = _choose(session, config)
        return render_digest(chosen, day=_day(now, config), attention=list(attention),
                             tz=ZoneInfo(config.timezone), empty_ok=True, waiting=waiting,
                             subject_prefix=config.subject_prefix, links=links)


def prepare_digest(
    store: Store, config: DigestConfig, *, now: datetime | None = None,
    attention: Sequence[str] = (),
) -> int | None:
    """Record the next digest as pending and return its id.

    An unsent digest already on record is returned instead of making a second one. None when
    there is nothing to send: no new stories, and `send_empty` off (or today's mail went out).
    """
    now = now or datetime.now(UTC)
    with store.session() as session:
        waiting = _unsent_ids(session)
        if waiting:
            return waiting[0]
    return _record(store, config, now, attention, allow_empty=True)


def send_pending(
    store: Store,
    config: DigestConfig,
    *,
    base_dir: Path,
    attempts: int = 3,
    backoff: float = 1.0,
    now: datetime | None = None,
    attention: Sequence[str] = (),
    links: DigestLinks | None = None,
) -> list[SendResult]:
    """Send every unsent digest (oldest first), then record and send today's, if any.

    Each digest gets up to `attempts` tries in this call, `backoff`, 2×`backoff`, … seconds apart.
    A new digest is recorded only when every older one went out, so one outage never turns
    into a pile of digests; its stories simply wait in the next one. `links` puts the web
    view's links into each item (crawler config `web.base_url`).
    """
    now = now or datetime.now(UTC)
    password = os.environ.get(PASSWORD_ENV) or None
    with store.session() as session:
        ids = _unsent_ids(session)
    results = [_send(store, config, digest_id, base_dir=base_dir, attempts=attempts,
                     backoff=backoff, now=now, attention=attention, password=password,
                     links=links)
               for digest_id in ids]
    if all(result.status == "sent" for result in results):
        # After a backlog went out, an empty "nothing new" mail would only be noise.
        new = _record(store, config, now, attention, allow_empty=not results)
        if new is not None:
            results.append(_send(store, config, new, base_dir=base_dir, attempts=attempts,
                                 backoff=backoff, now=now, attention=attention,
                                 password=password, links=links))
    return results


# -- recording --------------------------------------------------------------------------------


def _record(store: Store, config: DigestConfig, now: datetime, attention: Sequence[str], *,
            allow_empty: bool) -> int | None:
    day = _day(now, config)
    try:
        with store.session() as session:
            chosen, waiting = _choose(session, config)
            if not chosen and not (allow_empty and config.send_empty
                                   and not _sent_on(session, day)):
                return None
            content = render_digest(chosen, day=day, attention=list(attention),
                                    tz=ZoneInfo(config.timezone), empty_ok=True,
                                    waiting=waiting, subject_prefix=config.subject_prefix)
            digest = Digest(created_at=now, period=day.isoformat(), status="pending",
                            message_id=_message_id(config.from_, day), subject=content.subject,
                            recipients=", ".join(config.to))
            session.add(digest)
            session.flush()
            for row in chosen:
                session.add(DigestItem(digest_id=digest.id, story_id=row.story_id,
                                       topic=row.topic, match_id=row.match_id))
            logger.info("digest %d recorded: %d articles, %d waiting for the next", digest.id,
                        len(chosen), waiting)
            return digest.id
    except IntegrityError:
        # Another process (the daemon, or `digest --send`) recorded these stories first.
        logger.info("another process recorded the digest first; sending that one")
        with store.session() as session:
            waiting = _unsent_ids(session)
        return waiting[0] if waiting else None


def _choose(session: Session, config: DigestConfig) -> tuple[list[StoryMatch], int]:
    """The `max_items` best stories in no digest yet, and how many more are left waiting.

    One query folds, orders and cuts in SQL; only the chosen rows are read wide (leads and all).
    """
    page = story_page(session, Filters(undigested=True), order="score", limit=config.max_items)
    return page.rows, page.total - len(page.rows)


def _unsent_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Digest.id).where(Digest.status.in_(UNSENT))
                                .order_by(Digest.id)))


def _sent_on(session: Session, day: date) -> bool:
    return session.scalar(select(Digest.id).where(
        Digest.period == day.isoformat(), Digest.status == "sent").limit(1)) is not None


def _day(now: datetime, config: DigestConfig) -> date:
    return now.astimezone(ZoneInfo(config.timezone)).date()


def _message_id(sender: str, day: date) -> str:
    domain = sender.rpartition("@")[2] or "newswatch.invalid"
    return f"<newswatch.{day:%Y%m%d}.{secrets.token_hex(8)}@{domain}>"


def _content(session: Session, digest: Digest, config: DigestConfig,
             attention: Sequence[str], links: DigestLinks | None = None) -> DigestContent:
    """Render a recorded digest again from its items (the rows keep no body)."""
    # Each item as its story's best article now: a better copy stored since shows instead.
    items = story_matches(session, Filters(digest_id=digest.id))
    waiting = count_stories(session, Filters(undigested=True))
    return render_digest(items, day=date.fromisoformat(digest.period), attention=list(attention),
                         tz=ZoneInfo(config.timezone), empty_ok=True, waiting=waiting,
                         subject_prefix=config.subject_prefix, links=links)


# -- sending ----------------------------------------------------------------------------------


def _send(store: Store, config: DigestConfig, digest_id: int, *, base_dir: Path, attempts: int,
          backoff: float, now: datetime, attention: Sequence[str],
          password: str | None, links: DigestLinks | None = None) -> SendResult:
    outbox = _path(config.outbox, base_dir)
    cafile = str(_path(config.smtp_cafile, base_dir)) if config.smtp_cafile else None
    tries = max(1, attempts)
    for attempt in range(tries):
        with store.session() as session:
            digest = session.get_one(Digest, digest_id)
            if digest.status == "sent":  # another process got there first
                return _result(digest, digest.subject or "", 0)
            content = _content(session, digest, config, attention, links)
            # On record before the network call: a crash mid-send still counts the attempt.
            digest.attempts += 1
            digest.status = "pending"
            digest.subject = content.subject
            digest.recipients = ", ".join(config.to)
        message = build_message(content, sender=config.from_, to=list(config.to),
                                message_id=digest.message_id, date=now)
        try:
            where = deliver(message, smtp_url=config.smtp, outbox=outbox, password=password,
                            cafile=cafile, timeout=config.smtp_timeout)
        except DeliveryError as exc:
            final = not exc.retryable or attempt == tries - 1
            with store.session() as session:
                digest = session.get_one(Digest, digest_id)
                digest.error = str(exc)
                digest.status = "failed" if final else "pending"
            logger.warning("digest %d: attempt %d failed: %s", digest_id, digest.attempts, exc)
            if final:
                return _result(digest, content.subject, content.count)
            time.sleep(backoff * 2**attempt)
            continue
        with store.session() as session:
            digest = session.get_one(Digest, digest_id)
            digest.status, digest.sent_at, digest.error = "sent", datetime.now(UTC), None
            # What the reader got, for the web view's archive (it is not rendered again later).
            digest.html, digest.text = content.html, content.text
        logger.info("digest %d (%d articles) sent to %s", digest_id, content.count, where)
        return _result(digest, content.subject, content.count, where)
    raise RuntimeError("unreachable: the last attempt always returns")


def _result(digest: Digest, subject: str, count: int, where: str | None = None) -> SendResult:
    return SendResult(digest_id=digest.id, status=digest.status, message_id=digest.message_id,
                      subject=subject, count=count, attempts=digest.attempts,
                      delivered_to=where, error=digest.error)


def _path(value: str, base_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path
