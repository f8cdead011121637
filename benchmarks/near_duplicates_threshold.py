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

Run: python benchmarks/near_duplicates_threshold.py [--draws 30] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tomllib
from pathlib import Path

import numpy as np

from pipelines.dedupe import near_duplicates as nd
from pipelines.dedupe import shingles as sh
from pipelines.dedupe.minhash import signature

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


EDITS = ("drop_last", "add_line", "drop_sentence", "change_word")


def edit(paras: list[str], lang: str, added: dict, rng: random.Random,
         edits: tuple[str, ...] | None = None) -> list[str]:
    """A syndicated copy's edits: the given ones, or each with probability one half."""
    paras = list(paras)
    if edits is None:
        edits = tuple(e for e in EDITS if rng.random() < 0.5) or (rng.choice(EDITS[:2]),)
    for name in edits:
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


COPIES = {"copy: template": (), "copy: drop last": ("drop_last",),
          "copy: add line": ("add_line",), "copy: random edits": None}


def build_pairs(draws: int, seed: int) -> dict[str, list[Pair]]:
    """Pairs per class; classes starting with "copy" are the ones that must merge."""
    stories, rewrites, templates = load_stories()
    rng = random.Random(seed)
    outlets = {lang: [o for o in templates["outlet"] if o["language"] == lang]
               for lang in ("ko", "en")}
    names = {lang: [n for n in stories if language(n) == lang and ".rewrite" not in n]
             for lang in ("ko", "en")}
    pairs: dict[str, list[Pair]] = {name: [] for name in COPIES}
    pairs.update({"rewrite": [], "same-outlet footer": [], "same-outlet series": [], "random": []})
    for name in names["ko"] + names["en"]:
        lang, paras = language(name), stories[name]
        for copy, edits in COPIES.items():
            for _ in range(max(1, draws // 10) * (4 if edits is None else 1)):
                a, b = rng.sample(outlets[lang], 2)
                changed = edit(paras, lang, templates["added"], rng, edits)
                pairs[copy].append((render(paras, a), render(changed, b)))
    for original, rewrite in rewrites.values():
        lang = language(original)
        for _ in range(draws * 3):
            second = stories[rewrite]
            if rng.random() < 0.5:
                second = edit(second, lang, templates["added"], rng)
            pairs["rewrite"].append((render(stories[original], rng.choice(outlets[lang])),
                                     render(second, rng.choice(outlets[lang]))))
    for lang in ("ko", "en"):
        for _ in range(draws * 10):
            x, y = rng.sample(names[lang], 2)
            outlet = rng.choice(outlets[lang])
            for block in (b for b in templates["block"] if b["language"] == lang):
                pairs[f"same-outlet {block['kind']}"].append(
                    (render(stories[x], outlet, block), render(stories[y], outlet, block)))
            pairs["random"].append((render(stories[x], rng.choice(outlets[lang])),
                                    render(stories[y], rng.choice(outlets[lang]))))
    return pairs


def exact(pairs: list[Pair], k: int) -> np.ndarray:
    return np.array([sh.jaccard(sh.shingle_hashes(a, k), sh.shingle_hashes(b, k)) for a, b in pairs])


def summary(values: np.ndarray) -> str:
    q = np.percentile(values, [0, 1, 5, 50, 95, 99, 100])
    return " ".join(f"{v:5.3f}" for v in q)


def table(title: str, classes: dict[str, np.ndarray]) -> None:
    print(f"\n{title}\n{'class':<22}{'n':>6}   min    p1    p5   p50   p95   p99   max")
    for name, values in classes.items():
        print(f"{name:<22}{len(values):>6}   {summary(values)}")


def gap(classes: dict[str, np.ndarray]) -> tuple[float, float]:
    """(lowest copy, highest non-copy)."""
    low = min(v.min() for c, v in classes.items() if c.startswith("copy"))
    high = max(v.max() for c, v in classes.items() if not c.startswith("copy"))
    return float(low), float(high)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3],
                        help="pairs from each seed are pooled: the extremes are what matter")
    args = parser.parse_args(argv)
    pairs: dict[str, list[Pair]] = {}
    for seed in args.seeds:
        for name, found in build_pairs(args.draws, seed).items():
            pairs.setdefault(name, []).extend(found)
    korean = {c: [bool(re.search("[가-힣]", a)) for a, _ in ps] for c, ps in pairs.items()}
    print("pairs: " + ", ".join(f"{c} {len(p)}" for c, p in pairs.items()))
    print("\nexact Jaccard: lowest copy / highest non-copy (gap), per shingle length k")
    print(f"{'k':>3} {'all':>22} {'Korean':>22} {'English':>22}")
    by_k: dict[int, dict[str, np.ndarray]] = {}
    for k in KS:
        by_k[k] = {c: exact(p, k) for c, p in pairs.items()}
        cells = []
        for keep in (None, True, False):
            part = {c: v if keep is None else v[np.array(korean[c]) == keep]
                    for c, v in by_k[k].items()}
            low, high = gap(part)
            cells.append(f"{low:.3f}/{high:.3f} ({low - high:+.3f})")
        print(f"{k:>3} " + " ".join(f"{cell:>22}" for cell in cells))
    best = max(KS, key=lambda k: gap(by_k[k])[0] - gap(by_k[k])[1])
    for k in dict.fromkeys((best, sh.SHINGLE_K)):
        low, high = gap(by_k[k])
        print(f"k={k}{' (widest gap)' if k == best else ''}: threshold {(low + high) / 2:.2f} "
              f"(midpoint), margin {(low - high) / 2:.3f} either side")
    print(f"module: k={sh.SHINGLE_K}, threshold {nd.DEFAULT_THRESHOLD}")
    k, t = sh.SHINGLE_K, nd.DEFAULT_THRESHOLD
    table(f"exact Jaccard at k={k}, percentiles", by_k[k])
    estimates = {c: np.array([(signature(a) == signature(b)).mean() for a, b in ps])
                 for c, ps in pairs.items()}
    table(f"MinHash estimate, num_perm={sh.NUM_PERM}", estimates)
    print(f"\nat threshold {t}, LSH {nd.BANDS} bands x {nd.ROWS} rows; "
          "merged = pairs at or above the threshold")
    print(f"{'class':<22}{'merged (exact)':>15}{'merged (estimate)':>18}{'P(candidate)':>14}")
    for c, values in estimates.items():
        candidate = 1 - (1 - by_k[k][c] ** nd.ROWS) ** nd.BANDS
        print(f"{c:<22}{int((by_k[k][c] >= t).sum()):>9}/{len(values):<5}"
              f"{int((values >= t).sum()):>12}/{len(values):<5}{candidate.mean():>14.4f}")
    background = 1 - (1 - by_k[k]["random"] ** nd.ROWS) ** nd.BANDS
    print(f"\nunrelated stories made LSH candidates: {background.mean():.2e} of those stored, "
          f"{background.mean() * 1e6:.0f} per query at a million")
    short = [min(sh.shingle_hashes(a).size, sh.shingle_hashes(b).size)
             for c, ps in pairs.items() if c.startswith("copy") for a, b in ps]
    print(f"shortest story in a copy pair: {min(short)} shingles (MIN_SHINGLES "
          f"{sh.MIN_SHINGLES})")


if __name__ == "__main__":
    main()
