"""Evidence for the near-duplicate threshold: similarity of copies versus different stories.

Builds many article pairs from the fixtures in tests/data/near_duplicates/ (and the labelled
articles in tests/data/dev-articles.jsonl, as extra short stories) by controlled perturbation:

- copy: one story in two outlet templates, the second also edited at random (last paragraph
  dropped, a line added, a sentence dropped, a word changed): these must be one story;
- rewrite: the same event written independently (the *.rewrite.txt fixtures);
- same-outlet: two different stories under one outlet's template and a shared five-line block,
  either a footer our patterns know or a series note they cannot know;
- random: two different stories in the same language.

For each shingle length k it prints the exact Jaccard distribution of every class and the gap
between the lowest copy and the highest non-copy; for the chosen k, the MinHash estimates, the
errors at the chosen threshold and the chance that LSH makes each class a candidate.

Run: python benchmarks/near_duplicates_threshold.py [--draws 30] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipelines import near_duplicates as nd

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "near_duplicates"
DEV = ROOT / "tests" / "data" / "dev-articles.jsonl"
KS = (3, 4, 5, 6, 7, 9)
Pair = tuple[str, str]


def load_stories() -> tuple[dict[str, list[str]], dict[str, tuple[str, str]], dict]:
    """Stories by language (paragraph lists), rewrite pairs, and the template data."""
    stories: dict[str, list[str]] = {}
    rewrites: dict[str, tuple[str, str]] = {}
    for path in sorted(FIXTURES.glob("*.txt")):
        if path.name.endswith(".rewrite.txt"):
            continue
        stories[path.stem] = paragraphs(path.read_text(encoding="utf-8"))
        rewrite = path.with_name(f"{path.stem}.rewrite.txt")
        if rewrite.exists():
            rewrites[path.stem] = (path.stem, f"{path.stem}.rewrite")
            stories[f"{path.stem}.rewrite"] = paragraphs(rewrite.read_text(encoding="utf-8"))
    for line in DEV.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        stories[f"{row['lang']}-{row['id']}"] = paragraphs(row["body"])
    templates = tomllib.loads((FIXTURES / "templates.toml").read_text(encoding="utf-8"))
    return stories, rewrites, templates


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.splitlines() if p.strip()]


def language(name: str) -> str:
    return name[:2]


def render(paras: list[str], outlet: dict, block: dict | None = None) -> str:
    """The story as an outlet prints it: prefix on the first paragraph, header, footer, block."""
    body = [outlet["prefix"] + paras[0], *paras[1:]]
    lines = [*outlet["header"], *body, *outlet["footer"]]
    if block is not None:
        lines = ([*block["lines"], *lines] if block["kind"] == "series"
                 else [*lines, *block["lines"]])
    return "\n".join(lines)


def edit(paras: list[str], lang: str, added: dict, rng: random.Random) -> list[str]:
    """A syndicated copy's edits, each with probability one half (at least one)."""
    paras = list(paras)
    chosen = [name for name in ("drop_last", "add_line", "drop_sentence", "change_word")
              if rng.random() < 0.5] or [rng.choice(("drop_last", "add_line"))]
    for name in chosen:
        if name == "drop_last" and len(paras) > 2:
            paras.pop()
        elif name == "add_line":
            paras.insert(rng.randint(1, len(paras)), rng.choice(added[lang]))
        elif name == "drop_sentence":
            i = rng.randrange(len(paras))
            sentences = re.split(r"(?<=[.!?다])\s+", paras[i])
            if len(sentences) > 1:
                sentences.pop(rng.randrange(len(sentences)))
                paras[i] = " ".join(sentences)
        elif name == "change_word":
            i = rng.randrange(len(paras))
            words = paras[i].split()
            words[rng.randrange(len(words))] = rng.choice(words)
            paras[i] = " ".join(words)
    return paras


def build_pairs(draws: int, seed: int) -> dict[str, list[Pair]]:
    stories, rewrites, templates = load_stories()
    rng = random.Random(seed)
    outlets = {lang: [o for o in templates["outlet"] if o["language"] == lang] for lang in "ko en"
               .split()}
    blocks = templates["block"]
    names = {lang: [n for n in stories if language(n) == lang and ".rewrite" not in n]
             for lang in ("ko", "en")}
    pairs: dict[str, list[Pair]] = {"copy": [], "rewrite": [], "same-outlet footer": [],
                                    "same-outlet series": [], "random": []}
    for name, paras in stories.items():
        if ".rewrite" in name:
            continue
        lang = language(name)
        for _ in range(max(3, draws // 5)):
            a, b = rng.sample(outlets[lang], 2)
            pairs["copy"].append((render(paras, a),
                                  render(edit(paras, lang, templates["added"], rng), b)))
    for original, rewrite in rewrites.values():
        lang = language(original)
        for _ in range(draws * 3):
            a, b = rng.choice(outlets[lang]), rng.choice(outlets[lang])
            first, second = stories[original], stories[rewrite]
            if rng.random() < 0.5:
                second = edit(second, lang, templates["added"], rng)
            pairs["rewrite"].append((render(first, a), render(second, b)))
    for lang in ("ko", "en"):
        for _ in range(draws * 10):
            x, y = rng.sample(names[lang], 2)
            outlet = rng.choice(outlets[lang])
            for block in (b for b in blocks if b["language"] == lang):
                pairs[f"same-outlet {block['kind']}"].append(
                    (render(stories[x], outlet, block), render(stories[y], outlet, block)))
            pairs["random"].append((render(stories[x], rng.choice(outlets[lang])),
                                    render(stories[y], rng.choice(outlets[lang]))))
    return pairs


def exact(pairs: list[Pair], k: int) -> np.ndarray:
    out = []
    for a, b in pairs:
        x, y = nd.shingle_hashes(a, k), nd.shingle_hashes(b, k)
        union = np.union1d(x, y).size
        out.append(np.intersect1d(x, y, assume_unique=True).size / union if union else 0.0)
    return np.array(out)


def summary(values: np.ndarray) -> str:
    q = np.percentile(values, [0, 1, 5, 50, 95, 99, 100])
    return " ".join(f"{v:5.3f}" for v in q)


def table(title: str, classes: dict[str, np.ndarray]) -> None:
    print(f"\n{title}\n{'class':<22}{'n':>6}   min    p1    p5   p50   p95   p99   max")
    for name, values in classes.items():
        print(f"{name:<22}{len(values):>6}   {summary(values)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    pairs = build_pairs(args.draws, args.seed)
    negatives = [c for c in pairs if c != "copy"]
    print(f"pairs: {', '.join(f'{c} {len(p)}' for c, p in pairs.items())}")
    print(f"\ngap = lowest copy - highest non-copy, exact Jaccard, per shingle length k")
    print(f"{'k':>3} {'min copy':>9} {'max non-copy':>13} {'gap':>7} {'midpoint':>9}")
    by_k: dict[int, dict[str, np.ndarray]] = {}
    for k in KS:
        by_k[k] = {c: exact(p, k) for c, p in pairs.items()}
        low = by_k[k]["copy"].min()
        high = max(by_k[k][c].max() for c in negatives)
        print(f"{k:>3} {low:9.3f} {high:13.3f} {low - high:7.3f} {(low + high) / 2:9.3f}")
    k = nd.SHINGLE_K
    table(f"exact Jaccard at k={k} (module default), percentiles", by_k[k])
    estimate: Callable[[Pair], float] = (
        lambda pair: nd.signature(pair[0]).jaccard(nd.signature(pair[1])))
    estimates = {c: np.array([estimate(p) for p in ps]) for c, ps in pairs.items()}
    table(f"MinHash estimate, num_perm={nd.NUM_PERM}", estimates)
    t = nd.DEFAULT_THRESHOLD
    bands, rows = nd.band_params(t, nd.NUM_PERM)
    print(f"\nthreshold {t}: LSH {bands} bands x {rows} rows")
    print(f"{'class':<22}{'below':>7}{'at/above':>9}   P(LSH candidate), mean over pairs")
    for c, values in estimates.items():
        p = 1 - (1 - by_k[k][c] ** rows) ** bands
        print(f"{c:<22}{int((values < t).sum()):>7}{int((values >= t).sum()):>9}   {p.mean():.4f}")
    short = [min(nd.shingle_hashes(a).size, nd.shingle_hashes(b).size) for a, b in pairs["copy"]]
    print(f"\nshortest story in a copy pair: {min(short)} shingles (MIN_SHINGLES "
          f"{nd.MIN_SHINGLES}); copies under it: {sum(s < nd.MIN_SHINGLES for s in short)}")


if __name__ == "__main__":
    main()
