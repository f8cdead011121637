"""What `show` and `explain` print: an article with its scores, reasons, labels and copies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from sqlalchemy import select

from pipelines.output.report import Width, terminal_width, wrap_cells
from pipelines.scoring.rescore import score_stored
from pipelines.storage.models import Article, Match, Source
from pipelines.storage.queries import appearances, labels_for

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from pipelines.scoring.topics import Topic


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


# Prose is read more easily in a measure of about this many cells, even on a wide terminal;
# piped output wraps here too, which loses nothing, unlike cutting.
READING_WIDTH = 88


def reading_width(width: Width = "auto") -> int | None:
    """The width `show` and `explain` wrap to: the terminal's, at most READING_WIDTH."""
    if width != "auto":
        return width
    return min(terminal_width() or READING_WIDTH, READING_WIDTH)


def format_scores(scores: list[dict[str, Any]], width: Width = "auto") -> str:
    """Each topic's verdict, then its reasons, strongest first."""
    wrap = reading_width(width)
    lines = []
    for result in scores:
        label = result.get("label")
        if label is None:
            verdict = "MATCH" if result.get("matched", True) else "no match"
        else:  # the reader's verdict decides; the score is what the terms alone say
            verdict = ("MATCH, labelled relevant by a reader" if label
                       else "no match, labelled irrelevant by a reader")
        lines += _hang(f"{result['topic']}: {verdict}; score {result['score']:.2f}"
                       + (f" (threshold {result['threshold']:.2f})" if "threshold" in result
                          else ""), wrap, indent=2)
        reasons = sorted(result.get("reasons", []), key=lambda r: -abs(r.get("weight", 0)))
        for reason in reasons:
            evidence = reason.get("evidence", "")
            term = reason.get("term")
            alias = f" = {term}" if term and term != evidence else ""
            context = f"  ({reason['context']})" if reason.get("context") else ""
            lines += _hang(f"  {reason.get('weight', 0):+.2f}  {reason.get('feature', '?'):<12} "
                           f"{evidence}{alias}  [{reason.get('where', '')}]{context}", wrap, indent=22)
    return "\n".join(lines) if lines else "(no topics)"


def format_report(report: dict[str, Any], width: Width = "auto") -> str:
    """The article as `show` prints it, wrapped to `width` cells (None: one line a paragraph).

    Lines that end in a URL are never wrapped: a URL must stay whole and on one line to be
    opened or copied, so on a narrow terminal such a line is the one that may run over.
    """
    wrap = reading_width(width)
    published = report["published"].isoformat() if report["published"] else "unknown"
    lines = _hang(f"#{report['id']}  {report['title'] or '(untitled)'}", wrap,
                  indent=cell_len(f"#{report['id']}  "))
    lines += _pair(f"source:    {report['source']}", f"published: {published}", wrap)
    lines.append(f"url:       {report['url']}")
    lines += _pair(f"language:  {report['language'] or '?'}", f"story: {report['story_id']}", wrap)
    lines += [f"also in:   {place['source']}: {place['url']}" for place in report["appearances"]]
    for topic, relevant in report["labels"].items():
        lines += _hang(f"label:     {topic}: {'relevant' if relevant else 'irrelevant'} (reader)",
                       wrap, indent=11)
    lines.append("")
    lines.append(format_scores(report["matches"], wrap) if report["matches"]
                 else "\n".join(_hang(f"matches:   none (`newswatch explain {report['id']}` says why)",
                                       wrap, indent=11)))
    lines.append("")
    for paragraph in report["text"].split("\n"):
        if paragraph.strip():
            lines += wrap_cells(paragraph, wrap)
    return "\n".join(lines)


def _pair(left: str, right: str, width: int | None) -> list[str]:
    """Two header fields on one line, or each on its own when together they are too wide."""
    both = f"{left}   {right}"
    if width is None or cell_len(both) <= width:
        return [both]
    return _hang(left, width, indent=11) + _hang(right, width, indent=11)


def _hang(line: str, width: int | None, indent: int) -> list[str]:
    """`line` wrapped to `width` cells, continuation lines indented under its value."""
    if width is None or cell_len(line) <= width:
        return [line]
    head = wrap_cells(line, width)[0]
    rest = line[len(head):].strip()
    return [head] + [" " * indent + part for part in wrap_cells(rest, max(width - indent, 8))]


def extracted_json(article: Any) -> dict[str, Any]:
    """What `extract --format json` prints for a page (pipelines.extraction.extract.Extracted)."""
    return {
        "title": article.title,
        "text": article.text,
        "published": article.published.isoformat() if article.published else None,
        "language": article.language,
        "author": article.author,
        "canonical_url": article.canonical_url,
    }


def extracted_text(target: str, article: Any) -> str:
    """What `extract` and `explain` print for a page, before the scores."""
    published = article.published.isoformat() if article.published else ""
    return "\n".join([f"== {target}", f"title:     {article.title or ''}", f"published: {published}",
                      f"language:  {article.language or ''}", f"author:    {article.author or ''}",
                      "", article.text or "(no article text found)", ""])


def format_explanation(report: dict[str, Any], width: Width = "auto") -> str:
    """`explain ID`: the stored article's head, then every topic's verdict and reasons."""
    head = [f"#{report['id']}  {report['title'] or '(untitled)'}",
            f"source:    {report['source']}", f"url:       {report['url']}", ""]
    return "\n".join(head) + "\n" + format_scores(report["scores"], width)
