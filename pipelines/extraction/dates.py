"""Read the dates that feeds and pages print, Korean formats included, as aware datetimes."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

LOGGER = logging.getLogger(__name__)

SEOUL = ZoneInfo("Asia/Seoul")

# Korean pages put a label before the date ("입력 2024.05.28 14:03", "기사입력 : ...").
_LABEL = re.compile(
    r"^\s*(?:기사\s*)?(?:최초\s*)?(?:입력|수정|등록|게재|승인|송고|발행|업데이트)"
    r"(?:\s*(?:일시|일자|시간|일))?\s*[:：]?\s*"
)
# 2024.05.28 14:03, 2024.05.28. 14:03, 2024-05-28 14:03:00, 2024/05/28, 2024년 5월 28일 14시 3분,
# 2024년 05월 28일 오후 2:03, 2024-05-28 2:03 PM, with an optional weekday "(화)". Anything after the
# match is ignored.
_KOREAN = re.compile(
    r"(?P<year>\d{4})\s*[.\-/년]\s*(?P<month>\d{1,2})\s*[.\-/월]\s*(?P<day>\d{1,2})\s*[.일]?"
    r"\s*(?:\([월화수목금토일]\)\s*)?[T\s]*"
    r"(?:(?P<half>오전|오후|AM|PM|am|pm)\s*)?"
    r"(?:(?P<hour>\d{1,2})\s*[:시]\s*(?:(?P<minute>\d{1,2})\s*분?)?"
    r"(?:\s*:\s*(?P<second>\d{1,2})\s*초?)?(?:\s*(?P<suffix>[AaPp][Mm])\b)?)?"
)
# Only what looks like RFC 822 goes to email.utils: it reads "May 28, 2024 2:03 PM" as 02:03.
_RFC822 = re.compile(r"(?:[A-Za-z]{3},?\s+)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")
# Absolute dates only: a relative "3시간 전" or a bare epoch number is read against the clock and
# zone of the machine running the crawl, which is not what the page meant. The languages are the
# ones newswatch reads; without them dateparser tries every locale, about a second per non-date.
_DATEPARSER_LANGUAGES = ["en", "ko"]
_DATEPARSER_SETTINGS = {"STRICT_PARSING": True, "PARSERS": ["custom-formats", "absolute-time"]}


def parse_date(value: str | None, default_tz: tzinfo | None = None) -> datetime | None:
    """Parse a date or timestamp as a feed or page prints it; None if it is not one.

    A value without a zone is read in `default_tz` (UTC when None): Korean sources print local
    time without saying so, and callers pass SEOUL for them. Cheap exact parsers run first;
    dateparser only sees what they all refuse, since it is slow and guesses generously.
    """
    if not value or not value.strip():
        return None
    text = _LABEL.sub("", value.strip(), count=1)
    parsed = _iso(text) or _korean(text) or _rfc822(text) or _dateparser(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        zone = SEOUL if "KST" in text else default_tz or UTC
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None


def _korean(text: str) -> datetime | None:
    match = _KOREAN.match(text)
    if match is None:
        return None
    hour = int(match["hour"] or 0)
    half = (match["half"] or match["suffix"] or "").upper()
    if half in ("오후", "PM") and hour < 12:
        hour += 12
    elif half in ("오전", "AM") and hour == 12:
        hour = 0
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            hour,
            int(match["minute"] or 0),
            int(match["second"] or 0),
        )
    except ValueError:
        return None


def _rfc822(text: str) -> datetime | None:
    """Feed dates ("Tue, 28 May 2024 14:03:00 +0900"); a "-0000" zone comes back naive."""
    if not _RFC822.match(text):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _dateparser(text: str) -> datetime | None:
    # Imported here: dateparser takes most of a second to import, and most values never need it.
    import dateparser

    try:
        return dateparser.parse(text, languages=_DATEPARSER_LANGUAGES, settings=_DATEPARSER_SETTINGS)
    except (ValueError, OverflowError, TypeError) as err:
        LOGGER.debug("dateparser refused %r: %s", text, err)
        return None
