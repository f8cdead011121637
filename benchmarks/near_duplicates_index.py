"""Near-duplicate look-ups in the store at scale: time per look-up, disk, insert cost, memory.

Builds a fresh SQLite database of synthetic articles (1M by default), bulk-inserted with Core
executemany at schema 0002, then brought to the newest schema by migration 0003, which fills
`article_bands` for them (the generation time and the migration's are reported apart). Texts
are 4,000 bytes, about a Korean article of 1,300 characters, so rows overflow their page as
real ones do. Signatures are random values below 2^32 / 1,000, as the minima of a story of about
a thousand shingles are (uniform values would look like two-shingle captions).

Two kinds of look-up, each in a fresh process so its memory is the look-up's alone:
- random: unrelated signatures (misses), and near-copies of stored signatures sharing a known
  fraction of values (recall per planted similarity); random signatures never share a band by
  chance, so this is the cheapest case.
- crowded: a query that 600 stored articles share one band with (the rate measured on the
  topical dev set, 6e-4 of a million; see near_duplicates.md), plus its planted original.
  Only the CANDIDATES sharing most bands, newest first among equals, have their signatures
  compared, so an original sharing a single band competes with 600 decoys: half the originals
  are stored at a random place among them, half after them (a copy usually follows its
  original within hours).

Look-up times are wall-clock and CPU (process time): on a shared machine the wall-clock p99
also counts time slices lost to other jobs. Then the cost of Store.add_article per article at
that size, with and without a signature (the difference is the look-up and the 42 band rows),
and the file's size by table (dbstat).

Run by hand (about 10 minutes and 11 GB of disk at 1M on 2 shared cores; --keep a database to
measure again without generating it, given the same --size and --seed):
    python benchmarks/near_duplicates_index.py [--size 1000000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import insert

from pipelines.dedupe import near_duplicates as nd
from pipelines.dedupe import shingles as sh
from pipelines.storage.models import Article, Source, Story
from pipelines.storage.store import MIGRATIONS, Store

LOW = 2**32 // 1_000
SHARES = (0.25, 0.35, 0.4, 0.5, 0.7, 0.9)  # planted similarity; 0.25 is below the threshold
DECOYS = 600  # articles sharing one band with each crowded query
TEXT_BYTES = 4_000
CHUNK = 20_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def perturb(values: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """A copy of `values` with 1 - share of them redrawn: a near-copy of similarity ~share."""
    values = values.copy()
    changed = rng.choice(sh.NUM_PERM, size=round(sh.NUM_PERM * (1 - share)), replace=False)
    values[changed] = rng.integers(0, LOW, size=changed.size, dtype=np.uint32)
    return values


def plan(size: int, hot: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The stored signatures in id order, and the crowded queries with where their originals are.

    Rows are in fetch order (ids grow with fetched_at). Decoys are random signatures that take
    one band of their query, at random places; half the originals are at random places too,
    half are the newest rows.
    """
    sigs = rng.integers(0, LOW, size=(size, sh.NUM_PERM), dtype=np.uint32)
    queries = rng.integers(0, LOW, size=(hot, sh.NUM_PERM), dtype=np.uint32)
    shares = np.array([SHARES[j % len(SHARES)] for j in range(hot)])
    originals = np.empty(hot, dtype=np.int64)
    hot_rows = rng.permutation(size - hot // 2)[: hot * DECOYS + hot - hot // 2]
    decoy_rows = hot_rows[: hot * DECOYS].reshape(hot, DECOYS)
    originals[: hot - hot // 2] = hot_rows[hot * DECOYS :]
    originals[hot - hot // 2 :] = np.arange(size - hot // 2, size)
    taken = np.zeros(size, dtype=bool)
    taken[hot_rows] = True
    taken[originals] = True
    for j in range(hot):
        bands = rng.integers(0, nd.BANDS, size=DECOYS)
        for column in range(nd.ROWS):
            sigs[decoy_rows[j], bands * nd.ROWS + column] = queries[j, bands * nd.ROWS + column]
        sigs[originals[j]] = perturb(queries[j], rng, shares[j])
    return sigs, {"queries": queries, "shares": shares, "originals": originals + 1,
                  "newest": np.arange(hot) >= hot - hot // 2, "free": np.flatnonzero(~taken)}


def generate(url: str, sigs: np.ndarray, now: datetime, rng: np.random.Generator) -> dict[str, float]:
    """Bulk-insert the articles at schema 0002, then time migration 0003 filling their bands."""
    store = Store(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    filler = "x" * (TEXT_BYTES - 20)
    ages = np.sort(rng.uniform(0, 29 * 86_400, size=len(sigs)))[::-1]  # oldest first, in window
    header = sh.CURRENT_HEADER
    started = time.perf_counter()
    with store.engine.begin() as connection:
        connection.execute(insert(Source), [{"name": "bench", "kind": "feed", "url": "b"}])
        for start in range(0, len(sigs), CHUNK):
            ids = range(start + 1, min(start + CHUNK, len(sigs)) + 1)
            connection.execute(insert(Story), [{"id": i} for i in ids])
            connection.execute(insert(Article), [
                {"id": i, "source_id": 1, "story_id": i, "url": f"https://b.example/{i}",
                 "canonical_url": f"https://b.example/{i}", "text": f"{i:>20}" + filler,
                 "fingerprint": f"{i:064x}", "fetched_at": now - timedelta(seconds=float(ages[i - 1])),
                 "minhash": header + sigs[i - 1].astype("<u4").tobytes()} for i in ids])
    generated = time.perf_counter() - started
    started = time.perf_counter()
    store.migrate()
    migrated = time.perf_counter() - started
    store.engine.dispose()
    return {"generate": generated, "migrate": migrated}


LOOKUPS = r"""
import json, sys, time
import numpy as np
from pipelines.storage.store import Store
from pipelines.dedupe import shingles as sh
url, queries_path = sys.argv[1], sys.argv[2]
rss = lambda: int([l for l in open("/proc/self/status") if l.startswith("VmRSS:")][0].split()[1]) / 1024
store = Store(url)
data = np.load(queries_path)
out = {"rss_start": rss()}
cpu = {"miss": [], "hit": [], "crowded": []}
def timed(values, kind=None):
    t, c = time.perf_counter(), time.process_time()
    found = store.find_near_duplicate(values)
    if kind:
        cpu[kind].append(time.process_time() - c)
    return time.perf_counter() - t, found
timed(data["misses"][0])
out["rss_first"] = rss()
out["miss"] = []
for values in data["misses"]:
    took, found = timed(values, "miss")
    if found is not None:
        raise SystemExit(f"an unrelated signature matched {found}")
    out["miss"].append(took)
out["hit"], out["hit_found"] = [], []
for values, row in zip(data["planted"], data["planted_rows"]):
    took, found = timed(values, "hit")
    out["hit"].append(took)
    out["hit_found"].append(found is not None and found.article_id == int(row))
out["crowded"], out["crowded_found"] = [], []
for values, row in zip(data["queries"], data["originals"]):
    took, found = timed(values, "crowded")
    out["crowded"].append(took)
    out["crowded_found"].append(found is not None and found.article_id == int(row))
out["rss_end"] = rss()
out["cpu"] = cpu
print(json.dumps(out))
"""


def lookups(url: str, sigs: np.ndarray, crowded: dict[str, np.ndarray], count: int,
            rng: np.random.Generator, folder: Path) -> dict:
    planted_rows = rng.choice(crowded["free"], size=count, replace=False)
    planted_shares = np.array([SHARES[i % len(SHARES)] for i in range(len(planted_rows))])
    planted = np.stack([perturb(sigs[r], rng, s) for r, s in zip(planted_rows, planted_shares,
                                                               strict=True)])
    path = folder / "queries.npz"
    np.savez(path, misses=rng.integers(0, LOW, size=(count, sh.NUM_PERM), dtype=np.uint32),
             planted=planted, planted_rows=planted_rows + 1, queries=crowded["queries"],
             originals=crowded["originals"])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", LOOKUPS, url, str(path)], capture_output=True,
                          text=True, check=True, env=env)
    out = json.loads(done.stdout)
    out["planted_shares"] = planted_shares
    return out


def insert_cost(url: str, sigs: np.ndarray, now: datetime, count: int,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Store.add_article at this size: signed (look-up and bands), and unsigned, alternating."""
    store = Store(url)
    times: dict[str, list[float]] = {"signed": [], "unsigned": []}
    filler = "y" * (TEXT_BYTES - 20)
    for n in range(2 * count):
        kind = "signed" if n % 2 == 0 else "unsigned"
        values = rng.integers(0, LOW, size=sh.NUM_PERM, dtype=np.uint32)
        url = f"https://new.example/{now.timestamp()}/{n}"
        fields = {"source_id": 1, "url": url, "canonical_url": url, "text": f"{n:>20}" + filler,
                  "fingerprint": f"new-{now.timestamp()}-{n}", "fetched_at": now,
                  "minhash": sh.to_bytes(values) if kind == "signed" else None}
        t = time.perf_counter()
        stored = store.add_article(fields)
        times[kind].append(time.perf_counter() - t)
        if stored is None:
            raise SystemExit("add_article refused a new article")
    store.engine.dispose()
    return {kind: np.array(values) for kind, values in times.items()}


def sizes(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())


def ms(seconds: list[float] | np.ndarray, q: float) -> str:
    return f"{np.percentile(np.asarray(seconds), q) * 1e3:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--inserts", type=int, default=500)
    parser.add_argument("--crowded", type=int, default=300, help="queries with 600 decoys each")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, help="keep the database here, or reuse it")
    args = parser.parse_args(argv)
    if args.size < 2 * args.crowded * (DECOYS + 1) + args.queries:
        parser.error(f"--size must be at least {2 * args.crowded * (DECOYS + 1) + args.queries} "
                     "for that many --crowded and --queries")
    rng = np.random.default_rng(args.seed)
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores (shared; load {load[0]:.1f}), "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, numpy {np.__version__}")
    print(f"{args.size:,} articles, {nd.BANDS} bands x {nd.ROWS} rows, threshold "
          f"{nd.DEFAULT_THRESHOLD}, top {nd.CANDIDATES} candidates compared, look-ups without "
          "text (estimate only)\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = args.keep or folder / "bench.db"
        url = f"sqlite:///{path}"
        now = datetime.now(UTC)
        sigs, crowded = plan(args.size, args.crowded, rng)
        if path.exists():
            print(f"reusing {path}\n")
        else:
            took = generate(url, sigs, now, rng)
            print(f"{'generation (Core executemany)':<40}{took['generate']:.0f} s")
            print(f"{'migration 0003 (fills the bands)':<40}{took['migrate']:.0f} s", flush=True)
        found = lookups(url, sigs, crowded, args.queries, rng, folder)
        for kind, label in (("miss", "no match"), ("hit", "planted copy"), ("crowded", "crowded")):
            print(f"{'look-up, ' + label + ': p50 / p99':<40}{ms(found[kind], 50)} / "
                  f"{ms(found[kind], 99)} ms (CPU {ms(found['cpu'][kind], 50)} / "
                  f"{ms(found['cpu'][kind], 99)})")
        hit_found = np.array(found["hit_found"])
        print(f"{'found (planted similarity)':<40}" + ", ".join(
            f"{s}: {hit_found[found['planted_shares'] == s].mean():.1%}" for s in SHARES))
        crowded_found = np.array(found["crowded_found"])
        for label, mask in (("original among decoys", ~crowded["newest"]),
                            ("original newest", crowded["newest"])):
            print(f"{'crowded, ' + label:<40}" + ", ".join(
                f"{s}: {crowded_found[mask & (crowded['shares'] == s)].mean():.0%}" for s in SHARES))
        print(f"{'look-up process RSS: start / 1st / end':<40}{found['rss_start']:.0f} / "
              f"{found['rss_first']:.0f} / {found['rss_end']:.0f} MB")
        cost = insert_cost(url, sigs, now, args.inserts, rng)
        extra = np.median(cost["signed"]) - np.median(cost["unsigned"])
        print(f"{'add_article signed: p50 / p99':<40}{ms(cost['signed'], 50)} / "
              f"{ms(cost['signed'], 99)} ms")
        print(f"{'add_article unsigned: p50 / p99':<40}{ms(cost['unsigned'], 50)} / "
              f"{ms(cost['unsigned'], 99)} ms")
        print(f"{'extra per article (look-up + bands)':<40}{extra * 1e3:.2f} ms (median)")
        by_table = sizes(path)
        total = path.stat().st_size
        bands = by_table.get("article_bands", 0)
        print(f"{'file size':<40}{total / 2**30:.2f} GiB")
        print(f"{'article_bands':<40}{bands / 2**20:.0f} MiB, "
              f"{bands / (args.size + args.inserts):.0f} bytes per article")
        articles = sum(v for k, v in by_table.items() if "articles" in k)
        print(f"{'articles and their indexes':<40}{articles / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
