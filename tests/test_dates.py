"""Tests for pipelines/extraction/dates.py: every date format our sources print, and what must not parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipelines.extraction.dates import SEOUL, parse_date

KST = timezone(timedelta(hours=9))
EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Korean portals, read in the zone the caller gives (Seoul for Korean sources).
        ("2024.05.28 14:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024.05.28. 14:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024-05-28 14:03:00", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024/05/28 14:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024년 5월 28일", datetime(2024, 5, 28, tzinfo=KST)),
        ("2024년 5월 28일 14시 3분", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024년 05월 28일 오후 2:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024년 05월 28일 오전 9:15", datetime(2024, 5, 28, 9, 15, tzinfo=KST)),
        ("2024.05.28 오전 12:03", datetime(2024, 5, 28, 0, 3, tzinfo=KST)),
        ("2024.05.28 오후 12:03", datetime(2024, 5, 28, 12, 3, tzinfo=KST)),
        ("2024.05.28(화) 14:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024-05-28 2:03 PM", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024-05-28 12:03 am", datetime(2024, 5, 28, 0, 3, tzinfo=KST)),
        ("2024-05-28 14:03:00 KST", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        # Labels printed before the date.
        ("입력 2024.05.28 14:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("수정 2024.05.29 09:00", datetime(2024, 5, 29, 9, 0, tzinfo=KST)),
        ("기사입력 : 2024-05-28 오후 2:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("등록 2024.05.28 14:03", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("최초입력 2024.05.28 14:03:27", datetime(2024, 5, 28, 14, 3, 27, tzinfo=KST)),
        ("입력 2024.05.28 14:03 | 수정 2024.05.28 17:40", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        # ISO 8601, as in meta tags and JSON-LD: the page's own offset wins over the default.
        ("2024-05-28T14:03:00+09:00", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024-05-28T05:03:00Z", datetime(2024, 5, 28, 5, 3, tzinfo=UTC)),
        ("2024-05-28T05:03:00.000Z", datetime(2024, 5, 28, 5, 3, tzinfo=UTC)),
        ("2024-05-28T14:03:00+0900", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("2024-05-28", datetime(2024, 5, 28, tzinfo=KST)),
        # RFC 822 / 1123, as in RSS pubDate.
        ("Tue, 28 May 2024 14:03:00 +0900", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("Tue, 28 May 2024 05:03:00 GMT", datetime(2024, 5, 28, 5, 3, tzinfo=UTC)),
        ("28 May 2024 05:03 GMT", datetime(2024, 5, 28, 5, 3, tzinfo=UTC)),
        # "-0000" means "zone unknown" (RFC 5322): the default applies.
        ("Tue, 28 May 2024 14:03:00 -0000", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        # English prose dates go to dateparser.
        ("May 28, 2024 2:03 PM", datetime(2024, 5, 28, 14, 3, tzinfo=KST)),
        ("Tuesday, May 28, 2024", datetime(2024, 5, 28, tzinfo=KST)),
        ("November 19, 2019, 07:47 PM EST", datetime(2019, 11, 19, 19, 47, tzinfo=EST)),
    ],
)
def test_formats(value: str, expected: datetime) -> None:
    parsed = parse_date(value, SEOUL)
    assert parsed == expected, f"{value!r} parsed as {parsed}"
    assert parsed.tzinfo is not None


def test_zone_less_value_is_utc_without_default() -> None:
    assert parse_date("2024.05.28 14:03") == datetime(2024, 5, 28, 14, 3, tzinfo=UTC)
    assert parse_date("2024-05-28T14:03:00") == datetime(2024, 5, 28, 14, 3, tzinfo=UTC)


def test_default_zone_is_the_one_given() -> None:
    parsed = parse_date("2024.05.28 14:03", SEOUL)
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=9)
    assert parsed.astimezone(UTC) == datetime(2024, 5, 28, 5, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "garbage",
        "입력",
        "2024.13.45 14:03",  # no such month
        "2024-02-30",  # no such day
        # Relative and epoch values are read against the crawler's clock, not the page's.
        "3 hours ago",
        "3시간 전",
        "1716872580",
    ],
)
def test_not_a_date(value: str | None) -> None:
    assert parse_date(value, SEOUL) is None
