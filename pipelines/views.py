"""What `show` and `explain` print: an article with its scores, reasons, labels and copies."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pipelines.models import Article, Match, Source
from pipelines.queries import appearances, labels_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def article_report(session: Session, article_id: int) -> dict[str, Any] | None:
    article = session.get(Article, article_id)
    if article is None:
        return None
    source = session.get_one(Source, article.source_id)
    matches = session.scalars(select(Match).where(Match.article_id == article_id)
                              .order_by(Match.score.desc()))
    return {
        "id": article.id,
        "title": article.title,
        "url": article.canonical_url,
        "fetched_url": article.url,
        "source": source.name,
        "published": article.published,
        "fetched": article.fetched_at,
        "language": article.language,
        "author": article.author,
        "story_id": article.story_id,
        "appearances": [p for p in appearances(session, [article.story_id]).get(
            article.story_id, []) if p["url"] != article.canonical_url],
        "matches": [{**(m.reasons or {}), "topic": m.topic, "score": m.score,
                     "first_seen": m.first_seen} for m in matches],
        "labels": labels_for(session, article_id),
        "text": article.text,
    }


def format_scores(scores: list[dict[str, Any]]) -> str:
    """Each topic's verdict, then its reasons, strongest first."""
    lines = []
    for result in scores:
        verdict = "MATCH" if result.get("matched", True) else "no match"
        lines.append(f"{result['topic']}: {verdict}, score {result['score']:.2f}"
                     + (f" (threshold {result['threshold']:.2f})" if "threshold" in result else ""))
        reasons = sorted(result.get("reasons", []), key=lambda r: -abs(r.get("weight", 0)))
        for reason in reasons:
            evidence = reason.get("evidence", "")
            term = reason.get("term")
            alias = f" = {term}" if term and term != evidence else ""
            context = f"  ({reason['context']})" if reason.get("context") else ""
            lines.append(f"  {reason.get('weight', 0):+.2f}  {reason.get('feature', '?'):<12} "
                         f"{evidence}{alias}  [{reason.get('where', '')}]{context}")
    return "\n".join(lines) if lines else "(no topics)"


def format_report(report: dict[str, Any]) -> str:
    published = report["published"].isoformat() if report["published"] else "unknown"
    lines = [
        f"#{report['id']}  {report['title'] or '(untitled)'}",
        f"source:    {report['source']}   published: {published}",
        f"url:       {report['url']}",
        f"language:  {report['language'] or '?'}   story: {report['story_id']}",
    ]
    for place in report["appearances"]:
        lines.append(f"also in:   {place['source']}: {place['url']}")
    for topic, relevant in report["labels"].items():
        lines.append(f"label:     {topic}: {'relevant' if relevant else 'irrelevant'} (reader)")
    lines.append("")
    lines.append(format_scores(report["matches"]) if report["matches"]
                 else "matches:   none (see `newswatch explain` for why)")
    lines.append("")
    lines.extend(textwrap.fill(p, 88) for p in report["text"].split("\n") if p.strip())
    return "\n".join(lines)
