"""What `show` and `explain` print: an article with its scores, reasons, labels and copies."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pipelines.models import Article, Match, Source
from pipelines.queries import appearances, labels_for
from pipelines.rescore import score_stored

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from pipelines.topics import Topic


def article_report(session: Session, article_id: int) -> dict[str, Any] | None:
    article = session.get(Article, article_id)
    if article is None:
        return None
    source = session.get_one(Source, article.source_id)
    matches = session.scalars(select(Match).where(Match.article_id == article_id)
                              .order_by(Match.score.desc()))
    labels = labels_for(session, article_id)
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": source.name,
        "published": article.published,
        "fetched": article.fetched_at,
        "language": article.language,
        "author": article.author,
        "story_id": article.story_id,
        "appearances": [p for p in appearances(session, [article.story_id]).get(
            article.story_id, []) if p["url"] != article.url],
        # A stored match is a match, whatever its terms scored: a reader's label may decide it.
        "matches": [{**(m.reasons or {}), "topic": m.topic, "score": m.score, "matched": True,
                     "label": labels.get(m.topic), "first_seen": m.first_seen} for m in matches],
        "labels": labels,
        "text": article.text,
    }


def explain_stored(session: Session, article_id: int, topics: Sequence[Topic]) -> dict[str, Any] | None:
    """A stored article scored now by every topic, with the reasons and any reader's verdict."""
    article = session.get(Article, article_id)
    if article is None:
        return None
    labels = labels_for(session, article_id)
    scores = [{**score.to_json(), "label": labels.get(score.topic)}
              for score in score_stored(session, article, topics)]
    return {"id": article.id, "title": article.title, "url": article.url,
            "source": session.get_one(Source, article.source_id).name,
            "published": article.published, "language": article.language, "scores": scores}


def format_scores(scores: list[dict[str, Any]]) -> str:
    """Each topic's verdict, then its reasons, strongest first."""
    lines = []
    for result in scores:
        label = result.get("label")
        if label is None:
            verdict = "MATCH" if result.get("matched", True) else "no match"
        else:  # the reader's verdict decides; the score is what the terms alone say
            verdict = ("MATCH, labelled relevant by a reader" if label
                       else "no match, labelled irrelevant by a reader")
        lines.append(f"{result['topic']}: {verdict}; score {result['score']:.2f}"
                     + (f" (threshold {result['threshold']:.2f})" if "threshold" in result else ""))
        reasons = sorted(result.get("reasons", []), key=lambda r: -abs(r.get("weight", 0)))
        for reason in reasons:
            evidence = reason.get("evidence", "")
            term = reason.get("term")
            alias = f" = {term}" if term and term != evidence else ""
            lines.append(f"  {reason.get('weight', 0):+.2f}  {reason.get('feature', '?'):<12} "
                         f"{evidence}{alias}  [{reason.get('where', '')}]")
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
                 else f"matches:   none (`newswatch explain {report['id']}` says why)")
    lines.append("")
    lines.extend(textwrap.fill(p, 88) for p in report["text"].split("\n") if p.strip())
    return "\n".join(lines)
