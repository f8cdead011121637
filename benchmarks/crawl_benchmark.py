"""End-to-end crawl benchmark: a first and a second crawl of a generated portal, against trafilatura alone.

One command generates the portal (benchmarks/portal_gen.py) into a temporary folder, serves it on
127.0.0.1 from a background thread, writes a newswatch.toml (no politeness delay, 8 requests per
source at once, no article cap, robots.txt obeyed) and then measures, each in a fresh process:

1. the first crawl: ``newswatch crawl --format json`` over every source; wall time, article pages
   fetched and stored, requests and bytes seen by the server (and when the article pages were
   served), CPU time of the crawl and its extraction workers, peak memory (the crawl process's
   peak RSS by ``wait4`` through a small wrapper process, and the summed PSS of its process tree
   sampled from /proc);
2. the second crawl of the unchanged portal: wall time, bytes, and article pages fetched (must be 0);
3. the ceiling: ``trafilatura.extract`` (defaults) over the same article pages' bytes, one process,
   one page after another, and again with one forked process per core; then
   ``pipelines.extraction.extract.extract_article`` and the topic scoring alone on the same pages, to split
   the gap.

    python benchmarks/crawl_benchmark.py                         # the full run (about 5 minutes)
    python benchmarks/crawl_benchmark.py --sources 6 --min-articles 30 --max-articles 40 --skip-alone
    python benchmarks/crawl_benchmark.py --json out.json --keep  # figures as JSON, keep the folder
    python benchmarks/crawl_benchmark.py --py-spy                # CPU by stage of both crawls
    python benchmarks/crawl_benchmark.py --profile               # first crawl under cProfile
    python benchmarks/crawl_benchmark.py --crawl-command "env PYTHONPATH=DIR {python} -m scheduler \
        --config {config} crawl --format json"                   # a patched crawl, same measurements

Rates are given per second of wall time and per CPU-second of the crawl: on a shared machine the
second is the steadier figure. The server runs in this process; its CPU time is reported apart.
Findings and figures: benchmarks/README.md and benchmarks/profile_crawl.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from portal_gen import BenchPortal, generate, load_manifest

ROOT = Path(__file__).resolve().parents[1]
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the child processes ------------------------------------------------------------------------


class ChildWatch:
    """Runs a command under a small wrapper process that reaps it with wait4 for its true peak RSS.

    A child forked straight from this process would inherit this process's RSS high-water mark
    (Linux carries it across fork and exec into ru_maxrss), and this process holds the whole portal
    in memory. The wrapper is small, so what it reports is the command's own peak. /proc is sampled
    meanwhile for a timeline of RSS and CPU.
    """

    def __init__(self, command: list[str], cwd: Path, stdout: Path, stderr: Path,
                 py_spy: Path | None = None) -> None:
        self.command, self.cwd, self.stdout, self.stderr = command, cwd, stdout, stderr
        self.py_spy = py_spy
        # (seconds since start, PSS bytes, CPU s) of the command and its descendants (worker pools)
        self.samples: list[tuple[float, int, float]] = []
        self.hwm = 0
        self.tree_peak = 0

    def run(self, timeout: float) -> dict[str, Any]:
        usage_file = self.stdout.with_suffix(".rusage.json")
        wrapper = [sys.executable, str(Path(__file__).resolve()), "--rusage", str(usage_file), "--",
                   *self.command]
        started = time.perf_counter()
        wall_start = time.time()
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            child = subprocess.Popen(wrapper, cwd=self.cwd, stdout=out, stderr=err)
            done = threading.Event()
            sampler = threading.Thread(target=self._sample, args=(child.pid, started, done), daemon=True)
            sampler.start()
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            done.set()
            sampler.join()
        usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
        # A worker pool's CPU reaches the wrapper's RUSAGE_CHILDREN only if its parent reaped it;
        # the /proc samples of the whole tree are the fallback.
        tree_cpu = max((c for _, _, c in self.samples), default=0.0)
        cpu = max(usage.get("utime", 0.0) + usage.get("stime", 0.0), tree_cpu)
        return {
            "exit_code": usage.get("exit_code", child.returncode),
            "wall_s": usage.get("wall_s", time.perf_counter() - started),
            "started_at": wall_start,
            "cpu_user_s": usage.get("utime", 0.0),
            "cpu_sys_s": usage.get("stime", 0.0),
            "cpu_s": cpu,
            "peak_rss_mb": usage.get("maxrss_kb", 0) / 1024,
            "sampled_hwm_mb": self.hwm / 1024,
            "tree_peak_pss_mb": self.tree_peak / 2**20,
            "rss_samples": self.samples,
        }

    def _sample(self, wrapper_pid: int, started: float, done: threading.Event) -> None:
        pid = None
        spy = None
        while not done.is_set():
            try:
                if pid is None:
                    children = Path(f"/proc/{wrapper_pid}/task/{wrapper_pid}/children").read_text().split()
                    if not children:
                        done.wait(0.01)
                        continue
                    pid = int(children[0])
                    if self.py_spy:
                        spy = subprocess.Popen(
                            [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
                             "--rate", "100", "--subprocesses", "--format", "raw",
                             "--output", str(self.py_spy)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.hwm = max(self.hwm, int(line.split()[1]))
            except (OSError, IndexError, ValueError):
                break
            rss, cpu = _tree_usage(pid)
            self.tree_peak = max(self.tree_peak, rss)
            self.samples.append((time.perf_counter() - started, rss, cpu))
            done.wait(0.25)
        if spy is not None:
            spy.wait(30)


def _tree_usage(pid: int) -> tuple[int, float]:
    """Memory and CPU seconds of a process and all its descendants, from /proc.

    Memory is the sum of PSS (each shared page split between the processes sharing it), so a
    worker pool forked from a common parent is not counted twice over; for a single process PSS
    and RSS differ by its share of the shared libraries only.
    """
    rss, cpu, todo = 0, 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    rss += int(line.split()[1]) * 1024
                    break
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu


def rusage_wrapper(out: Path, command: list[str]) -> int:
    """Run `command`, reap it with wait4, and write its wall time, CPU time and peak RSS to `out`."""
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    # RUSAGE_CHILDREN also holds the command's own reaped children (a worker pool): CPU adds up,
    # maxrss is the largest single process.
    tree = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(json.dumps({"exit_code": code, "wall_s": time.perf_counter() - started,
                               "utime": tree.ru_utime, "stime": tree.ru_stime,
                               "maxrss_kb": usage.ru_maxrss}))
    return code


def write_config(folder: Path, sources: list[dict[str, Any]], concurrency: int,
                 extract_workers: int | None = None) -> Path:
    def value(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else json.dumps(v, ensure_ascii=False)

    crawl = {"download_delay": 0, "concurrency_per_domain": concurrency,
             "max_articles_per_round": 1_000_000, "obey_robots": True, "timeout": 60, "retries": 1,
             "cache_dir": "httpcache"}
    if extract_workers is not None:
        crawl["extract_workers"] = extract_workers
    lines = ["[database]", 'url = "sqlite:///newswatch.db"', "", "[crawl]"]
    lines += [f"{k} = {value(v)}" for k, v in crawl.items()]
    for source in sources:
        lines += ["", "[[sources]]"] + [f"{k} = {value(v)}" for k, v in source.items()]
    path = folder / "newswatch.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def db_counts(folder: Path) -> dict[str, Any]:
    if not (folder / "newswatch.db").exists():
        return {"articles": 0, "stories": 0, "matches": 0, "pages": {}}
    with sqlite3.connect(folder / "newswatch.db") as db:
        def one(sql: str) -> int:
            return db.execute(sql).fetchone()[0]

        return {
            "articles": one("select count(*) from articles"),
            "stories": one("select count(*) from stories"),
            "matches": one("select count(*) from matches"),
            "pages": dict(db.execute("select outcome, count(*) from pages group by outcome").fetchall()),
        }


def crawl(label: str, folder: Path, config: Path, portal: BenchPortal, profile: bool,
          timeout: float, py_spy: bool = False, crawl_command: str | None = None) -> dict[str, Any]:
    portal.reset()
    command = [sys.executable]
    if profile:
        command += ["-m", "cProfile", "-o", str(folder / f"{label}.prof")]
    if crawl_command:
        command = shlex.split(crawl_command.replace("{python}", sys.executable)
                              .replace("{config}", str(config)))
    else:
        command += ["-m", "scheduler", "--config", str(config), "crawl", "--format", "json"]
    before = resource.getrusage(resource.RUSAGE_SELF)
    spy = folder / f"{label}.py-spy.txt" if py_spy else None
    result = ChildWatch(command, folder, folder / f"{label}.json", folder / f"{label}.log",
                        spy).run(timeout)
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["server_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["server"] = portal.summary()
    try:
        rounds = json.loads((folder / f"{label}.json").read_text("utf-8"))
    except ValueError:
        rounds = []
    result["sources"] = len(rounds)
    result["sources_ok"] = sum(1 for r in rounds if r.get("status") == "ok")
    result["new_articles"] = sum(r.get("new_articles", 0) for r in rounds)
    result["failures"] = sum(r.get("failures", 0) for r in rounds)
    result["errors"] = [f"{r['source']}: {r['error']}" for r in rounds if r.get("error")][:10]
    result["db"] = db_counts(folder)
    server = result["server"]
    if "first" in server:
        result["startup_s"] = server["first"] - result["started_at"]
        result["requests_span_s"] = server["last"] - server["first"]
        result["articles_served_s"] = {k: round(v - result["started_at"], 1)
                                       for k, v in server.get("article_times", {}).items()}
    return result


# -- the ceiling: extraction alone, in its own process ------------------------------------------


def alone_worker(portal_dir: Path, base: str, repeat: int) -> dict[str, Any]:
    """Runs in a child: trafilatura alone, then our extraction and scoring, on the article pages."""
    import trafilatura

    from pipelines.extraction.extract import extract_article
    from pipelines.scoring.scorer import score_all
    from pipelines.scoring.topics import resolve_topics

    manifest = load_manifest(portal_dir)
    encoded = base.encode("ascii")
    pages = [(base + r["path"], r["content_type"],
              (portal_dir / r["file"]).read_bytes().replace(b"{base}", encoded))
             for r in manifest["resources"] if r["kind"] == "article"]
    hint = {s["name"]: s["language"] for s in manifest["sources"]}
    hints = [hint[r["source"]] for r in manifest["resources"] if r["kind"] == "article"]
    for url, _, body in pages[:20]:  # warm-up: imports, lazy tables, regex caches
        trafilatura.extract(body, url=url)
    out: dict[str, Any] = {"pages": len(pages), "bytes": sum(len(b) for _, _, b in pages)}

    def timed(name: str, run: Any) -> None:
        best = None
        for _ in range(repeat):
            cpu, wall = time.process_time(), time.perf_counter()
            run()
            took = (time.perf_counter() - wall, time.process_time() - cpu)
            best = took if best is None or took[0] < best[0] else best
        assert best is not None
        out[name] = {"wall_s": best[0], "cpu_s": best[1], "rate": len(pages) / best[0],
                     "cpu_rate": len(pages) / best[1]}

    timed("trafilatura", lambda: [trafilatura.extract(body, url=url) for url, _, body in pages])
    # The same on every core, one forked process each (pages inherited, nothing pickled): the
    # ceiling for a crawl that spreads its work over the same cores.
    global _PAGES
    _PAGES = pages
    cores = os.cpu_count() or 1
    # Its CPU is the children's, each timing its own share: with every core busy, as in the
    # crawl, a page may cost more CPU than alone (shared caches, a sibling hyperthread).
    shares: list[tuple[int, float]] = []
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        pool.map(_extract_share, [(i, cores, 20) for i in range(cores)])  # warm-up
        timed("trafilatura_all_cores", lambda: shares.extend(pool.map(
            _extract_share, [(i, cores, None) for i in range(cores)])))
    runs = [sum(cpu for _, cpu in shares[i : i + cores]) for i in range(0, len(shares), cores)]
    out["trafilatura_all_cores"].update(cpu_s=min(runs), cpu_rate=len(pages) / min(runs))
    out["cores"] = cores
    extracted: list[Any] = []

    def ours() -> None:
        extracted.clear()
        extracted.extend(extract_article(body, url, ctype, h)
                         for (url, ctype, body), h in zip(pages, hints, strict=True))

    timed("extract_article", ours)
    topics = resolve_topics()
    timed("score_all", lambda: [score_all(e.title, e.text, e.language, topics, {}) for e in extracted])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


_PAGES: list[tuple[str, str, bytes]] = []


def _extract_share(job: tuple[int, int, int | None]) -> tuple[int, float]:
    """trafilatura alone on every `step`-th page from `start` (a forked child of alone_worker):
    how many pages, and the CPU seconds they took."""
    import trafilatura

    start, step, limit = job
    share = _PAGES[start::step][:limit]
    cpu = time.process_time()
    for url, _, body in share:
        trafilatura.extract(body, url=url)
    return len(share), time.process_time() - cpu


def alone(folder: Path, portal_dir: Path, base: str, repeat: int, timeout: float) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--alone-worker", str(portal_dir),
               "--base", base, "--repeat", str(repeat)]
    result = ChildWatch(command, folder, folder / "alone.json", folder / "alone.log").run(timeout)
    if result["exit_code"] != 0:
        raise SystemExit(f"the extraction-alone child failed; see {folder / 'alone.log'}")
    result.update(json.loads((folder / "alone.json").read_text("utf-8")))
    return result


# -- where the time goes: py-spy's collapsed stacks by stage -------------------------------------

# First match wins, checked in this order over a whole stack (root to leaf).
STAGES = [
    ("start-up: imports", ("_find_and_load (<frozen",)),
    ("start-up: migrations", ("alembic/",)),
    ("database (SQLAlchemy, SQLite)", ("sqlalchemy/", "pipelines/storage/store.py", "sqlite3")),
    ("decode (pipelines/extraction/encoding.py)", ("pipelines/extraction/encoding.py",)),
    ("extraction (extract.py, trafilatura)", ("pipelines/extraction/extract.py",
                                              "pipelines/extraction/embedded.py",
                                              "pipelines/extraction/flight.py", "trafilatura/", "htmldate/",
                                              "justext/")),
    ("classification (classify.py)", ("pipelines/scoring/scorer.py", "pipelines/scoring/topics.py")),
    ("near-duplicates (MinHash)", ("pipelines/dedupe/near_duplicates.py", "pipelines/dedupe/shingles.py",
                                   "pipelines/dedupe/minhash.py", "datasketch/")),
    ("worker IPC (pickling pages and results)", ("multiprocessing/", "concurrent/futures/")),
    ("dedupe: URLs, fingerprint", ("pipelines/stages/dedupe.py",)),
    ("clean stage other", ("pipelines/stages/clean.py", "pipelines/workers/prepare.py")),
    ("spiders: feeds, sitemaps, listings", ("crawler/spiders/",)),
    ("Scrapy + Twisted (download, engine, middlewares)", ("scrapy/", "twisted/", "asyncio/")),
]


# Threads that wait (Twisted's DNS thread pool, the selector) are sampled too; they are not CPU.
# Blocking pipe reads and writes between the crawl and its extraction workers are waits too.
IDLE_LEAVES = ("Condition.wait (threading.py:327)", "Condition.wait (threading.py:331)",
               "EpollSelector.select (selectors.py:468)", "_PollLikeSelector.select (selectors.py:415)",
               "Connection._send (multiprocessing/connection.py:384)",
               "Connection._recv (multiprocessing/connection.py:395)")


def stage_breakdown(path: Path) -> list[tuple[str, float, int]]:
    """(stage, share of CPU samples, samples) from a `py-spy record --format raw` file."""
    counts: dict[str, int] = {}
    for line in path.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or stack.endswith(IDLE_LEAVES):
            continue
        stage = next((name for name, marks in STAGES if any(m in stack for m in marks)), "other")
        counts[stage] = counts.get(stage, 0) + int(count)
    total = sum(counts.values()) or 1
    order = [name for name, _ in STAGES] + ["other"]
    return [(name, counts[name] / total, counts[name]) for name in order if name in counts]


# -- report -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    import lxml.etree
    import scrapy
    import trafilatura

    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(), "scrapy": scrapy.__version__,
        "trafilatura": trafilatura.__version__, "lxml": ".".join(map(str, lxml.etree.LXML_VERSION[:3])),
        "load_average": os.getloadavg(),
    }


def summarise(first: dict[str, Any], second: dict[str, Any], ceiling: dict[str, Any] | None,
              portal: dict[str, Any]) -> dict[str, Any]:
    fetched = first["server"]["article"]["requests"]
    stored = first["db"]["articles"]
    figures: dict[str, Any] = {
        "article_pages": portal["articles"],
        "first_wall_s": round(first["wall_s"], 2),
        "first_article_pages_fetched": fetched,
        "first_articles_stored": stored,
        "first_pages_per_s": round(fetched / first["wall_s"], 2),
        "first_stored_per_s": round(stored / first["wall_s"], 2),
        "first_pages_per_cpu_s": round(fetched / first["cpu_s"], 2),
        "first_cpu_utilisation": round(first["cpu_s"] / first["wall_s"], 2),
        "first_peak_rss_mb": round(max(first["peak_rss_mb"], first["tree_peak_pss_mb"]), 1),
        "first_process_peak_rss_mb": round(first["peak_rss_mb"], 1),
        "first_requests": first["server"]["requests"],
        "first_mb": round(first["server"]["bytes"] / 1e6, 1),
        "first_startup_s": round(first.get("startup_s", 0), 2),
        "second_wall_s": round(second["wall_s"], 2),
        "second_wall_share": round(second["wall_s"] / first["wall_s"], 4),
        "second_requests": second["server"]["requests"],
        "second_bytes": second["server"]["bytes"],
        "second_article_pages_fetched": second["server"]["article"]["requests"],
        "second_index_status": second["server"]["index"]["status"],
        "second_peak_rss_mb": round(max(second["peak_rss_mb"], second["tree_peak_pss_mb"]), 1),
    }
    if ceiling:
        tra = ceiling["trafilatura"]
        figures.update({
            "trafilatura_pages_per_s": round(tra["rate"], 2),
            "trafilatura_pages_per_cpu_s": round(tra["cpu_rate"], 2),
            "extract_article_pages_per_s": round(ceiling["extract_article"]["rate"], 2),
            "score_all_articles_per_s": round(ceiling["score_all"]["rate"], 1),
            "trafilatura_all_cores_pages_per_s": round(ceiling["trafilatura_all_cores"]["rate"], 2),
            "trafilatura_all_cores_pages_per_cpu_s": round(ceiling["trafilatura_all_cores"]["cpu_rate"], 2),
            "cores": ceiling["cores"],
            "ratio_wall": round(figures["first_pages_per_s"] / tra["rate"], 3),
            "ratio_all_cores": round(figures["first_pages_per_s"]
                                     / ceiling["trafilatura_all_cores"]["rate"], 3),
            "ratio_cpu": round(figures["first_pages_per_cpu_s"] / tra["cpu_rate"], 3),
        })
    figures["targets"] = {
        "ratio >= 0.70": None if not ceiling else figures["ratio_wall"] >= 0.70,
        "second wall <= 5%": figures["second_wall_share"] <= 0.05,
        "second: no article page": figures["second_article_pages_fetched"] == 0,
        "peak memory < 400 MB": figures["first_peak_rss_mb"] < 400,
    }
    return figures


def print_table(fig: dict[str, Any], portal: dict[str, Any], first: dict[str, Any],
                second: dict[str, Any], ceiling: dict[str, Any] | None, info: dict[str, Any]) -> None:
    rows = [
        ("portal", f"{portal['sources']} sources, {portal['articles']} article pages "
                   f"({portal['exact_copies']} verbatim + {portal['rewritten_copies']} rewritten copies), "
                   f"{portal['article_kb_mean']} KB mean ({portal['article_kb_min']}-"
                   f"{portal['article_kb_max']})"),
        ("first crawl: wall", f"{fig['first_wall_s']:.1f} s (start-up to first request "
                              f"{fig['first_startup_s']:.1f} s)"),
        ("first crawl: article pages", f"{fig['first_article_pages_fetched']} fetched, "
                                       f"{fig['first_articles_stored']} stored"),
        ("first crawl: rate", f"{fig['first_pages_per_s']:.1f} pages/s ({fig['first_stored_per_s']:.1f} "
                              f"stored/s); {fig['first_pages_per_cpu_s']:.1f} pages per CPU-s"),
        ("first crawl: CPU", f"{first['cpu_s']:.1f} s child ({fig['first_cpu_utilisation']:.2f} cores), "
                             f"{first['server_cpu_s']:.1f} s server"),
        ("first crawl: server", f"{fig['first_requests']} requests, {fig['first_mb']} MB; "
                                f"index {first['server']['index']['status']}; article pages served "
                                "by " + ", ".join(f"{k} {v} s" for k, v in
                                                  first.get("articles_served_s", {}).items())),
        ("first crawl: peak memory", f"{fig['first_peak_rss_mb']:.0f} MB (peak RSS of the crawl process "
                                     f"{fig['first_process_peak_rss_mb']:.0f} MB, sampled PSS of its "
                                     f"process tree {first['tree_peak_pss_mb']:.0f} MB)"),
    ]
    if ceiling:
        rows += [
            ("trafilatura alone", f"{fig['trafilatura_pages_per_s']:.1f} pages/s "
                                  f"({fig['trafilatura_pages_per_cpu_s']:.1f} per CPU-s)"),
            (f"trafilatura alone, {fig['cores']} processes",
             f"{fig['trafilatura_all_cores_pages_per_s']:.1f} pages/s (one per core; "
             f"{fig['trafilatura_all_cores_pages_per_cpu_s']:.1f} per CPU-s)"),
            ("extract_article alone", f"{fig['extract_article_pages_per_s']:.1f} pages/s"),
            ("score_all alone", f"{fig['score_all_articles_per_s']:.0f} articles/s"),
            ("ratio end-to-end / trafilatura", f"{fig['ratio_wall']:.2f} wall, {fig['ratio_cpu']:.2f} CPU; "
                                               f"{fig['ratio_all_cores']:.2f} against all cores"),
        ]
    rows += [
        ("second crawl: wall", f"{fig['second_wall_s']:.2f} s = {100 * fig['second_wall_share']:.1f} % "
                               "of the first"),
        ("second crawl: server", f"{fig['second_requests']} requests, {fig['second_bytes']} bytes, "
                                 f"{fig['second_article_pages_fetched']} article pages; index "
                                 f"{fig['second_index_status']}"),
        ("second crawl: peak memory", f"{fig['second_peak_rss_mb']:.0f} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; "
          f"Python {info['python']}, Scrapy {info['scrapy']}, trafilatura {info['trafilatura']}; "
          f"load average at start {info['load_average'][0]:.2f}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("targets: " + ", ".join(f"{k}: {'n/a' if v is None else 'PASS' if v else 'FAIL'}"
                                  for k, v in fig["targets"].items()))
    if first["errors"] or second["errors"]:
        print("errors:", *(first["errors"] + second["errors"]), sep="\n  ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portal", type=Path, help="use this generated portal instead of a new one")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (always kept with --dir, --profile, --py-spy)")
    parser.add_argument("--sources", type=int, default=30)
    parser.add_argument("--min-articles", type=int, default=100)
    parser.add_argument("--max-articles", type=int, default=160)
    parser.add_argument("--seed", type=int, default=20240528)
    parser.add_argument("--one-host", action="store_true",
                        help="serve every source from 127.0.0.1, as one site (default: each source "
                             "its own loopback address, as distinct outlets are)")
    parser.add_argument("--concurrency", type=int, default=8, help="crawl.concurrency_per_domain")
    parser.add_argument("--extract-workers", type=int,
                        help="crawl.extract_workers (default: the config default, cores up to 4)")
    parser.add_argument("--repeat", type=int, default=1, help="passes of the extraction-alone timing")
    parser.add_argument("--skip-alone", action="store_true", help="no extraction-alone ceiling")
    parser.add_argument("--profile", action="store_true", help="run the first crawl under cProfile")
    parser.add_argument("--py-spy", action="store_true",
                        help="sample the first crawl with py-spy (collapsed stacks in first.py-spy.txt)")
    parser.add_argument("--crawl-command", help="run this instead of `newswatch crawl --format json` "
                        "(to try a patched crawl); {python} and {config} are replaced")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--alone-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--rusage", type=Path, help=argparse.SUPPRESS)
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--rusage"]:
        return rusage_wrapper(Path(argv[1]), argv[3:])
    args = parser.parse_args(argv)

    if args.alone_worker:
        print(json.dumps(alone_worker(args.alone_worker, args.base, args.repeat)))
        return 0

    info = machine()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        portal_dir = args.portal or folder / "portal"
        if not args.portal:
            started = time.perf_counter()
            generate(portal_dir, sources=args.sources, min_articles=args.min_articles,
                     max_articles=args.max_articles, seed=args.seed)
            print(f"generated the portal in {time.perf_counter() - started:.1f}s: {portal_dir}",
                  file=sys.stderr)
        summary = load_manifest(portal_dir)["summary"]
        crawl_dir = folder / "crawl"
        if crawl_dir.exists():
            shutil.rmtree(crawl_dir)
        crawl_dir.mkdir()
        with BenchPortal(portal_dir, own_hosts=not args.one_host) as portal:
            config = write_config(crawl_dir, portal.configs(), args.concurrency,
                                  args.extract_workers)
            print(f"serving at {portal.url}; first crawl…", file=sys.stderr)
            first = crawl("first", crawl_dir, config, portal, args.profile, args.timeout, args.py_spy,
                          args.crawl_command)
            if first["exit_code"] != 0:
                raise SystemExit(f"the first crawl exited {first['exit_code']}; see "
                                 f"{crawl_dir / 'first.log'}")
            print(f"first crawl: {first['wall_s']:.1f}s, exit {first['exit_code']}; second crawl…",
                  file=sys.stderr)
            second = crawl("second", crawl_dir, config, portal, False, args.timeout, args.py_spy,
                           args.crawl_command)
            base = portal.url
        ceiling = None
        if not args.skip_alone:
            print("extraction alone…", file=sys.stderr)
            ceiling = alone(crawl_dir, portal_dir, base, args.repeat, args.timeout)
        info["load_average_end"] = os.getloadavg()
        figures = summarise(first, second, ceiling, summary)
        print_table(figures, summary, first, second, ceiling, info)
        if args.profile:
            print(f"profile of the first crawl: {crawl_dir / 'first.prof'}")
        for label, run in (("first", first), ("second", second)):
            samples = crawl_dir / f"{label}.py-spy.txt"
            if not (args.py_spy and samples.exists()):
                continue
            print(f"\nwhere the {label} crawl's {run['cpu_s']:.1f} CPU-s went (py-spy, {samples}):")
            pages = max(1, figures["first_article_pages_fetched"])
            breakdown = stage_breakdown(samples)
            for name, share, _ in breakdown:
                per_page = f"{share * run['cpu_s'] / pages * 1000:6.2f} ms/page" if label == "first" else ""
                print(f"  {name:<50} {100 * share:5.1f} %  {share * run['cpu_s']:6.1f} s {per_page}")
            figures[f"{label}_py_spy_stages"] = {name: round(share, 4) for name, share, _ in breakdown}
        if args.json:
            for run in (first, second):
                run["rss_samples"] = run["rss_samples"][::4]
            if ceiling:
                ceiling.pop("rss_samples", None)
            args.json.write_text(json.dumps({"machine": info, "portal": summary, "figures": figures,
                                             "first": first, "second": second, "alone": ceiling},
                                            indent=1, default=str), "utf-8")
        return 0 if first["exit_code"] == 0 and second["exit_code"] == 0 else 1
    finally:
        if args.keep or args.dir or args.profile or args.py_spy:  # the profiles live in it
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
