"""How many articles a second topic scoring handles on one core, with and without reader feedback.

Usage: ``python benchmarks/classify_speed.py [FILE.jsonl] [--articles N]``. The labeled dev set is
repeated to N articles (default 4000); compiling the topic is timed apart, since a crawl does it once.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.scoring.evaluate import load_labeled
from pipelines.scoring.scorer import Example, score, score_all
from pipelines.scoring.topics import resolve_topics

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "dev-articles.jsonl"


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<52} {count:>6} articles in {seconds:6.2f}s = {count / seconds:8.0f} articles/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT_FILE))
    parser.add_argument("--articles", type=int, default=4000)
    args = parser.parse_args(argv)

    rows = load_labeled(args.file)
    articles = list(itertools.islice(itertools.cycle(rows), args.articles))
    mean_chars = sum(len(r["title"]) + len(r["body"]) for r in rows) / len(rows)
    print(f"{len(rows)} labeled articles (mean {mean_chars:.0f} characters) repeated to {len(articles)}")

    started = time.perf_counter()
    topic = resolve_topics()[0]
    topic.matchers("ko")
    topic.matchers("en")
    print(f"load + compile topic {topic.name}: {time.perf_counter() - started:.3f}s (once per crawl)")

    started = time.perf_counter()
    for r in articles:
        score(r["title"], r["body"], r["lang"], topic)
    _rate("score(), language given", len(articles), time.perf_counter() - started)

    started = time.perf_counter()
    for r in articles:
        score(r["title"], r["body"], None, topic)
    _rate("score(), language detected", len(articles), time.perf_counter() - started)

    # Feedback costs one similarity per example and article: it grows linearly with the labels.
    for count, measured in ((50, articles), (500, articles[:1000])):
        pool = itertools.islice(itertools.cycle(rows), count)
        examples = [Example(i, f"{r['title']} ({i})", r["body"], bool(r["label"]))
                    for i, r in enumerate(pool)]
        score(rows[0]["title"], rows[0]["body"], rows[0]["lang"], topic, examples)  # fills the cache
        started = time.perf_counter()
        for r in measured:
            score(r["title"], r["body"], r["lang"], topic, examples)
        _rate(f"score() with {count} feedback examples", len(measured), time.perf_counter() - started)

    long_articles = [{**r, "body": "\n".join([r["body"]] * 5)} for r in articles[:1000]]
    started = time.perf_counter()
    for r in long_articles:
        score(r["title"], r["body"], r["lang"], topic)
    mean_long = sum(len(r["body"]) for r in long_articles) / len(long_articles)
    elapsed = time.perf_counter() - started
    _rate(f"score(), bodies x5 (mean {mean_long:.0f} characters)", len(long_articles), elapsed)

    quantum = {"name": "quantum-policy", "terms": {"quantum": {"sets": [{"match": ["quantum", "양자"]}]}}}
    topics = resolve_topics([quantum])
    started = time.perf_counter()
    for r in articles:
        score_all(r["title"], r["body"], r["lang"], topics)
    _rate(f"score_all() over {len(topics)} topics", len(articles), time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
