"""Precision, recall and F1 of topic scoring on labeled articles, per language, with the errors' reasons.

Usage: ``python -m pipelines.scoring.evaluate FILE.jsonl [--split] [--without GROUP,...] [--json]``.
FILE is JSON lines with at least ``id``, ``lang``, ``label`` (0/1), ``title`` and ``body``;
``borderline: true`` rows are reported apart and never counted as errors. ``--split`` gives the
honest figures: nothing in the scorer is fitted on data, so each half is scored as is, then again with
the other half's labels fed back as reader verdicts (all of them, or only the ones the scorer got
wrong), both ways round.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.scoring.scorer import Example, TopicScore, score
from pipelines.scoring.topics import DEFAULT_TOPIC, Topic, TopicConfig, resolve_topics

_TOP_REASONS = 5


def load_labeled(path: str | Path) -> list[dict[str, Any]]:
    """Read the labeled articles, failing with the line number of a malformed one."""
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                missing = [key for key in ("id", "lang", "label", "body") if key not in row]
                if missing:
                    raise ValueError(f"missing {', '.join(missing)}")
                row["label"] = int(row["label"])
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"{path}:{number}: not a labeled article (needs id, lang, label, body): {exc}"
                ) from exc
            rows.append(row)
    return rows


def metrics(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """Confusion counts and P/R/F1 of (label, predicted) pairs; an empty denominator gives 1.0."""
    tp = sum(1 for label, pred in pairs if label and pred)
    fp = sum(1 for label, pred in pairs if not label and pred)
    fn = sum(1 for label, pred in pairs if label and not pred)
    tn = len(pairs) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": len(pairs), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _by_language(rows: list[dict[str, Any]], scores: dict[str, TopicScore]) -> dict[str, dict[str, Any]]:
    counted = [r for r in rows if not r.get("borderline")]
    result = {}
    for lang in [*sorted({r["lang"] for r in counted}), "all"]:
        result[lang] = metrics([(bool(r["label"]), scores[r["id"]].matched)
                                for r in counted if lang in ("all", r["lang"])])
    return result


def _score_rows(
    rows: list[dict[str, Any]], topic: Topic, examples: Sequence[Example] = ()
) -> dict[str, TopicScore]:
    return {r["id"]: score(r.get("title"), r["body"], r.get("lang"), topic, examples) for r in rows}


def _as_examples(rows: list[dict[str, Any]]) -> list[Example]:
    # Ids in the store are integers; here the row number stands in, and the reason shows the row id.
    return [Example(i, f'{r["id"]}: {r.get("title") or ""}', r["body"], bool(r["label"]))
            for i, r in enumerate(rows)]


def _errors(rows: list[dict[str, Any]], scores: dict[str, TopicScore]) -> list[dict[str, Any]]:
    errors = []
    for r in rows:
        result = scores[r["id"]]
        if r.get("borderline") or result.matched == bool(r["label"]):
            continue
        errors.append({
            "id": r["id"], "lang": r["lang"], "label": r["label"], "kind": r.get("kind"),
            "score": round(result.score, 4), "title": r.get("title"),
            "reasons": [x.to_json() for x in result.reasons[:_TOP_REASONS]],
        })
    return errors


def _folds(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two halves, alternating within each (language, label, borderline) stratum in id order."""
    halves: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    strata: dict[tuple[Any, ...], int] = {}
    starts: dict[tuple[Any, ...], int] = {}
    for r in sorted(rows, key=lambda r: str(r["id"])):
        key = (r["lang"], r["label"], bool(r.get("borderline")))
        # Strata start on alternate halves, so odd-sized strata do not all tip the same way.
        start = starts.setdefault(key, len(starts) % 2)
        halves[(strata.get(key, 0) + start) % 2].append(r)
        strata[key] = strata.get(key, 0) + 1
    return halves


def _split(rows: list[dict[str, Any]], topic: Topic) -> dict[str, Any]:
    halves = _folds(rows)
    base = _score_rows(rows, topic)
    variants: dict[str, dict[str, TopicScore]] = {"no feedback": {}, "feedback: other half, all": {},
                                                   "feedback: other half, errors only": {}}
    folds = []
    for k in (0, 1):
        measured, other = halves[k], [r for r in halves[1 - k] if not r.get("borderline")]
        wrong = [r for r in other if base[r["id"]].matched != bool(r["label"])]
        fold = {"measured": len(measured), "examples_all": len(other), "examples_errors": len(wrong)}
        for name, examples in (("no feedback", []), ("feedback: other half, all", other),
                               ("feedback: other half, errors only", wrong)):
            scores = _score_rows(measured, topic, _as_examples(examples))
            variants[name].update(scores)
            fold[name] = _by_language(measured, scores)
        folds.append(fold)
    return {"folds": folds, "pooled": {name: _by_language(rows, s) for name, s in variants.items()},
            "errors_with_all_feedback": _errors(rows, variants["feedback: other half, all"])}


def _pick_topic(topics: Sequence[Topic] | None, name: str | None, without: Sequence[str]) -> Topic:
    topics = list(topics) if topics is not None else resolve_topics()
    wanted = name or DEFAULT_TOPIC
    topic = next((t for t in topics if t.name == wanted), topics[0] if topics and not name else None)
    if topic is None:
        raise ValueError(f"no topic named {wanted!r}: choose one of {', '.join(t.name for t in topics)}")
    if not without:
        return topic
    unknown = set(without) - set(topic.config.terms)
    if unknown:
        raise ValueError(f"--without {','.join(sorted(unknown))}: "
                         f"{topic.name} has groups {', '.join(topic.config.terms)}")
    data = topic.config.model_dump()
    kept = {k: g for k, g in data["terms"].items() if k not in without}
    # A dropped group that a kept set looks for (`near`, `unless_near`) stays as a context group:
    # it no longer scores, but "released" beside "the ministry" still is not a product launch.
    cues = {n for g in kept.values() for s in g["sets"] for n in (*s["near"], *s["unless_near"])}
    for name in cues & set(without):
        group = data["terms"][name]
        sets = [{**s, "near": [], "unless_near": [], "alone": None} for s in group["sets"]]
        kept[name] = {**group, "mode": "context", "against": None, "sets": sets}
    data["terms"] = kept
    return Topic(TopicConfig.model_validate(data))


def evaluate(
    path: str | Path,
    topics: Sequence[Topic] | None = None,
    *,
    topic: str | None = None,
    split: bool = False,
    without: Sequence[str] = (),
) -> dict[str, Any]:
    """Score every labeled article in `path` and measure the topic (default ai-research-policy).

    `without` drops term groups (an ablation, e.g. to see what feedback alone recovers); one that
    a kept group's condition names stays as an unscored context group.
    """
    chosen = _pick_topic(topics, topic, without)
    rows = load_labeled(path)
    scores = _score_rows(rows, chosen)
    report: dict[str, Any] = {
        "topic": chosen.name, "file": str(path), "articles": len(rows), "threshold": chosen.threshold,
        "without": list(without), "metrics": _by_language(rows, scores),
        "borderline": [
            {"id": r["id"], "lang": r["lang"], "label": r["label"], "score": round(scores[r["id"]].score, 4),
             "matched": scores[r["id"]].matched, "title": r.get("title")}
            for r in rows if r.get("borderline")
        ],
        "errors": _errors(rows, scores),
    }
    if split:
        report["split"] = _split(rows, chosen)
    return report


def _table(title: str, by_lang: dict[str, dict[str, Any]], out: list[str]) -> None:
    out.append(title)
    out.append(f"  {'lang':<5}{'n':>4}{'tp':>4}{'fp':>4}{'fn':>4}{'tn':>4}  precision  recall     f1")
    for lang, m in by_lang.items():
        out.append(f"  {lang:<5}{m['n']:>4}{m['tp']:>4}{m['fp']:>4}{m['fn']:>4}{m['tn']:>4}"
                   f"  {m['precision']:>9.3f}  {m['recall']:>6.3f}  {m['f1']:>5.3f}")


def _error_lines(errors: list[dict[str, Any]], out: list[str]) -> None:
    for e in errors:
        out.append(f"  {e['id']}  label {e['label']}  score {e['score']:.3f}  [{e['kind']}]  {e['title']}")
        for r in e["reasons"]:
            context = f"  ({r['context']})" if r.get("context") else ""
            out.append(f"      {r['weight']:+.2f}  {r['feature']:<16} {r['where']:<7} "
                       f"{r['evidence']}{context}")


def render(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    out: list[str] = []
    dropped = f", without {', '.join(report['without'])}" if report["without"] else ""
    _table(f"topic {report['topic']} (threshold {report['threshold']}{dropped}) on {report['file']}: "
           f"{report['articles']} articles, {len(report['borderline'])} borderline", report["metrics"], out)
    out.append("borderline (reported, not counted):")
    for b in report["borderline"]:
        verdict = "match" if b["matched"] else "no match"
        out.append(f"  {b['id']}  label {b['label']}  score {b['score']:.3f}  {verdict:<8}  {b['title']}")
    out.append(f"errors ({len(report['errors'])}):")
    _error_lines(report["errors"], out)
    if "split" in report:
        out.append("two-fold split: nothing is fitted on data; "
                   "feedback examples come only from the other half")
        for name, by_lang in report["split"]["pooled"].items():
            _table(f" pooled over both halves, {name}:", by_lang, out)
        for k, fold in enumerate(report["split"]["folds"]):
            out.append(f" half {k + 1} measured ({fold['measured']} articles; {fold['examples_all']} labels "
                       f"from the other half, {fold['examples_errors']} of them errors):")
            for name in ("no feedback", "feedback: other half, all", "feedback: other half, errors only"):
                m = fold[name]["all"]
                out.append(f"    {name:<36} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}")
        out.append(f" errors left with all feedback ({len(report['split']['errors_with_all_feedback'])}):")
        _error_lines(report["split"]["errors_with_all_feedback"], out)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.scoring.evaluate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("file", help="labeled articles, JSON lines (e.g. tests/data/dev-articles.jsonl)")
    parser.add_argument("--split", action="store_true", help="also report honest two-fold figures")
    parser.add_argument("--topic", help=f"topic to measure (default {DEFAULT_TOPIC})")
    parser.add_argument("--without", default="", help="comma-separated term groups to drop (ablation)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    without = [g for g in args.without.split(",") if g]
    try:
        report = evaluate(args.file, topic=args.topic, split=args.split, without=without)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
