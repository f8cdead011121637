"""Score our extract_article against plain trafilatura on the article-extraction benchmark.

Usage: python benchmarks/extraction.py [BENCH_DIR] [--repeat N]   (default BENCH_DIR:
../shared/bench/article-extraction relative to the repository root). The extractors run in this
process over the same decompressed pages, so the speed figures compare like with like; reading,
decompressing and scoring are not timed. Each runs N times (default 3) and the fastest pass
counts, which keeps one-off costs (dateparser's locale tables, justext's stoplists) and other
load on the machine out of the figure; the output is the same on every pass.

Scoring is the benchmark authors' (scrapinghub/article-extraction-benchmark, evaluate.py):
`\\w+` tokens, 4-token shingles counted per page, TP/FP/FN from the counts normalised so every
page weighs the same, precision and recall averaged over pages, F1 from the two averages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.extraction.extract import extract_article  # noqa: E402 (needs the path above)

_TOKEN = re.compile(r"\w+")
Scores = tuple[float, float, float]


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def _tp_fp_fn(true: str, predicted: str) -> Scores:
    """Shingle overlap of one page, normalised to sum to 1 so long pages do not dominate."""
    expected, got = _shingles(true), _shingles(predicted)
    tp = sum((expected & got).values())
    fp = sum((got - expected).values())
    fn = sum((expected - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def score(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """P, R and F1 over (truth, prediction) pairs, as the benchmark's evaluate.py computes them.

    As there, a page with no predicted shingles counts for recall only, and one with no true
    shingles for precision only.
    """
    counts = [_tp_fp_fn(true, predicted) for true, predicted in pairs]
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def _ours(html: bytes, url: str) -> str:
    return extract_article(html, url).text


def _trafilatura(html: bytes, url: str) -> str:
    return trafilatura.extract(html, url=url) or ""


def _trafilatura_our_options(html: bytes, url: str) -> str:
    """trafilatura alone with the options extract_article starts from: what our additions cost."""
    document = trafilatura.bare_extraction(
        html, url=url, favor_precision=True, include_comments=False, with_metadata=True
    )
    return document.text if document else ""


def _run(
    name: str,
    extractor: Callable[[bytes, str], str],
    pages: dict[str, tuple[bytes, str, str]],
    repeat: int,
) -> dict[str, float]:
    elapsed = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        predictions = {key: extractor(html, url) for key, (html, url, _) in pages.items()}
        elapsed = min(elapsed, time.perf_counter() - started)
    result = score([(truth, predictions[key]) for key, (_, _, truth) in pages.items()])
    result["pages_per_second"] = len(pages) / elapsed
    print(
        f"{name:<31} F1 {result['f1']:.4f}  P {result['precision']:.4f}  "
        f"R {result['recall']:.4f}  {result['pages_per_second']:6.1f} pages/s"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bench_dir",
        nargs="?",
        type=Path,
        default=ROOT.parent / "shared" / "bench" / "article-extraction",
        help="directory holding html/*.html.gz and ground-truth.json",
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes per extractor; the fastest counts")
    args = parser.parse_args(argv)
    truth_file = args.bench_dir / "ground-truth.json"
    if not truth_file.is_file():
        parser.error(f"{truth_file} not found: pass the benchmark directory as the argument")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    pages = {
        key: (
            gzip.decompress((args.bench_dir / "html" / f"{key}.html.gz").read_bytes()),
            entry.get("url") or "",
            entry.get("articleBody") or "",
        )
        for key, entry in sorted(truth.items())
    }
    print(f"{len(pages)} pages from {args.bench_dir}")
    _run("trafilatura.extract (defaults)", _trafilatura, pages, args.repeat)
    _run("trafilatura, our options only", _trafilatura_our_options, pages, args.repeat)
    _run("newswatch extract_article", _ours, pages, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
