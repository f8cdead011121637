"""One worker against two on the generated portal (issue 13): the cluster's cost per article.

Generates a portal (benchmarks/portal_gen.py; each source on its own loopback address), serves it
from this process, starts a private PostgreSQL (tests/postgres.py) and, per cluster run, a private
``redis-server`` (tests/redis_server.py), all on 127.0.0.1, and crawls the portal once per mode,
each mode in fresh folders with a fresh database:

- ``embedded``: the default, SQLite, ``newswatch crawl --format json`` (one round of every source);
- ``embedded-run``: SQLite, ``newswatch run`` (the daemon and its service) until every source's first
  round ended;
- ``pg``: ``database.url`` on PostgreSQL, no cluster, ``newswatch crawl``;
- ``cluster1``: PostgreSQL + Redis, one ``run --role scheduler`` and one ``run --role worker``;
- ``cluster2``: the same with two workers. Every process has its own folder and its own copy of
  the config (as if on its own machine).

A ``run`` mode stops (SIGTERM) once every source has a finished first round (``crawl_runs``) and the
portal has served every article page. Measured per mode: wall time (start of the processes to
done), CPU-seconds per role (each process with all its descendants: the daemon, its crawl
service, the forkserver and the extraction workers; utime + stime and reaped children's, from
/proc, sampled every 0.5 s and read last just before the stop), the PostgreSQL server's CPU (the
postmaster, its reaped backends and its live ones: the difference across the mode) and
redis-server's, articles stored, article pages fetched and how many of them more than once
(counted at the portal), and load averages at start and end.

    python benchmarks/cluster_benchmark.py              # 10 sources x 40-60 articles of 51 KB
    python benchmarks/cluster_benchmark.py --sources 30 --min-articles 100 --max-articles 160
    python benchmarks/cluster_benchmark.py --modes embedded,cluster1 --lean --json out.json

Figures and method: benchmarks/README.md, "Cluster: one worker against two (issue 13)".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from portal_gen import BenchPortal, generate, load_manifest  # noqa: E402
from service_benchmark import _pss, _stat, tree  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MODES = ("embedded", "embedded-run", "pg", "cluster1", "cluster2")


def cpu_of(pid: int) -> float:
    """CPU seconds of a process, with its reaped children's."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def tree_cpu(pid: int) -> float:
    return sum(cpu_of(p) for p in tree(pid))


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- servers ------------------------------------------------------------------------------------


class Postgres:
    """tests/postgres.py's private server; its CPU (postmaster and every backend, live or reaped)."""

    def __init__(self) -> None:
        from tests.postgres import PostgresServer

        self.server = PostgresServer().start()

    def pid(self) -> int:
        return int((self.server.folder / "data" / "postmaster.pid").read_text().split()[0])

    def cpu(self) -> float:
        return tree_cpu(self.pid())

    def url(self) -> str:
        return self.server.create_database()

    def stop(self) -> None:
        self.server.stop()


class Redis:
    def __init__(self, folder: Path) -> None:
        from tests.redis_server import RedisServer

        folder.mkdir(parents=True, exist_ok=True)
        self.server = RedisServer(folder)
        self.server.start()
        self.url = self.server.url

    def cpu(self) -> float:
        assert self.server.process is not None
        return cpu_of(self.server.process.pid)

    def commands(self) -> dict[str, int]:
        """Calls per Redis command since the server started (INFO commandstats)."""
        import redis

        stats = redis.Redis.from_url(self.url).info("commandstats")
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    def stop(self) -> None:
        self.server.stop()


# -- configs and stores -------------------------------------------------------------------------


def write_config(folder: Path, sources: list[dict[str, Any]], database: str, redis: str | None,
                 every: str | None, args: argparse.Namespace) -> Path:
    def value(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else json.dumps(v, ensure_ascii=False)

    folder.mkdir(parents=True, exist_ok=True)
    crawl: dict[str, Any] = {"download_delay": 0, "concurrency_per_domain": args.concurrency,
                             "max_articles_per_round": 1_000_000, "obey_robots": True, "timeout": 60,
                             "retries": 1, "cache_dir": "httpcache"}
    if args.extract_workers is not None:
        crawl["extract_workers"] = args.extract_workers
    lines = ["[database]", f"url = {json.dumps(database)}", "", "[crawl]"]
    lines += [f"{k} = {value(v)}" for k, v in crawl.items()]
    lines += ["", "[digest]", 'outbox = "outbox"']
    if redis:
        lines += ["", "[cluster]", f"redis = {json.dumps(redis)}"]
    for source in sources:
        entry = dict(source, every=every) if every else source
        lines += ["", "[[sources]]"] + [f"{k} = {value(v)}" for k, v in entry.items()]
    path = folder / "newswatch.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def query(database: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the store (SQLite file or PostgreSQL); none while its tables do not exist yet."""
    try:
        if database.startswith("sqlite"):
            path = database.split("///", 1)[1]
            if not Path(path).exists():
                return []
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as db:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]
    except Exception as exc:  # the tables appear with the first migration
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return []
        raise


def store_figures(database: str) -> dict[str, Any]:
    runs = query(database, "SELECT r.status, COUNT(*) FROM crawl_runs r GROUP BY r.status")
    urls = query(database, "SELECT COUNT(*), COUNT(DISTINCT url) FROM articles")
    return {"articles": urls[0][0], "distinct_urls": urls[0][1], "runs": dict(runs),
            "stories": query(database, "SELECT COUNT(*) FROM stories")[0][0]}


def first_rounds_done(database: str, names: set[str]) -> bool:
    rows = query(database, "SELECT s.name FROM crawl_runs r JOIN sources s ON s.id = r.source_id "
                           "WHERE r.status <> 'running'")
    return names <= {name for (name,) in rows}


# -- one mode -----------------------------------------------------------------------------------


def run_crawl(config: Path, folder: Path, timeout: float) -> dict[str, Any]:
    """`newswatch crawl` to its end: wall, and CPU by wait4 and by /proc samples of its tree."""
    started = time.perf_counter()
    with (folder / "crawl.json").open("wb") as out, (folder / "crawl.log").open("wb") as err:
        child = subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "crawl",
                                  "--format", "json"], cwd=folder, stdout=out, stderr=err,
                                 env=env())
        sampled, peak, usage, status = 0.0, 0, None, 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            pids = tree(child.pid)
            sampled = max(sampled, sum(cpu_of(p) for p in pids))
            peak = max(peak, sum(_pss(p) for p in pids))
            if time.perf_counter() - started > timeout:
                child.kill()
            time.sleep(0.25)
    wall = time.perf_counter() - started
    waited = usage.ru_utime + usage.ru_stime if usage else 0.0
    return {"exit_code": os.waitstatus_to_exitcode(status), "wall_s": wall,
            "cpu": {"crawl": max(waited, sampled)}, "peak_pss_mb": peak / 2**20}


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT)
    out.pop("NEWSWATCH_CONFIG", None)
    return out


def run_daemons(roles: list[tuple[str, Path, str | None]], database: str, names: set[str],
                portal: BenchPortal, articles: int, timeout: float, py_spy: bool = False
                ) -> dict[str, Any]:
    """Start `newswatch run [--role R]` per (label, config, role); stop them when the work is done."""
    started = time.perf_counter()
    children: dict[str, subprocess.Popen[bytes]] = {}
    spies: list[subprocess.Popen[bytes]] = []
    logs = []
    for label, config, role in roles:
        log = (config.parent / f"{label}.log").open("wb")
        logs.append(log)
        command = [sys.executable, "-m", "scheduler", "--config", str(config), "run"]
        if role:
            command += ["--role", role]
        children[label] = subprocess.Popen(command, cwd=config.parent, stdout=log,
                                           stderr=subprocess.STDOUT, env=env())
        if py_spy:
            spies.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                 str(children[label].pid), "--subprocesses", "--rate", "50", "--format", "raw",
                 "--output", str(config.parent / f"{label}.py-spy.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    cpu: dict[str, float] = dict.fromkeys(children, 0.0)
    service_cpu: dict[str, float] = dict.fromkeys(children, 0.0)
    peak: dict[str, int] = dict.fromkeys(children, 0)
    done_at = None
    while time.perf_counter() - started < timeout:
        for label, child in children.items():
            pids = tree(child.pid)
            cpu[label] = max(cpu[label], sum(cpu_of(p) for p in pids))
            service_cpu[label] = max(service_cpu[label], sum(cpu_of(p) for p in pids[1:]))
            peak[label] = max(peak[label], sum(_pss(p) for p in pids))
        if any(child.poll() is not None for child in children.values()):
            break
        served = {h.path for h in portal.hits() if h.kind == "article"}
        if len(served) >= articles and first_rounds_done(database, names):
            done_at = time.perf_counter() - started
            break
        time.sleep(0.5)
    for label, child in children.items():  # the last reading before the stop
        pids = tree(child.pid)
        cpu[label] = max(cpu[label], sum(cpu_of(p) for p in pids))
        service_cpu[label] = max(service_cpu[label], sum(cpu_of(p) for p in pids[1:]))
    wall = time.perf_counter() - started
    # The rounds as the store had them when the work was done, before the stop touches them.
    runs_at_done = dict(query(database, "SELECT status, COUNT(*) FROM crawl_runs GROUP BY status"))
    for child in children.values():
        with contextlib.suppress(OSError):
            child.send_signal(signal.SIGTERM)
    codes = {}
    for label, child in children.items():
        try:
            codes[label] = child.wait(90)
        except subprocess.TimeoutExpired:
            child.kill()
            codes[label] = child.wait(10)
    for log in logs:
        log.close()
    for spy in spies:
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
    return {"exit_codes": codes, "wall_s": wall, "done": done_at is not None, "cpu": cpu,
            "runs_at_done": runs_at_done, "stop_s": time.perf_counter() - started - wall,
            "service_cpu": service_cpu, "peak_pss_mb": {k: v / 2**20 for k, v in peak.items()}}


def run_mode(mode: str, folder: Path, portal: BenchPortal, pg: Postgres | None, expected: int,
             args: argparse.Namespace) -> dict[str, Any]:
    folder.mkdir(parents=True)
    sources = portal.configs()
    names = {s["name"] for s in sources}
    database = "sqlite:///" + str(folder / "newswatch.db")
    if mode in ("pg", "cluster1", "cluster2"):
        assert pg is not None
        database = pg.url()
    redis = Redis(folder / "redis") if mode.startswith("cluster") else None
    portal.reset()
    pg_before = pg.cpu() if pg else 0.0
    redis_before = redis.cpu() if redis else 0.0
    load_start = load()
    try:
        if mode in ("embedded", "pg"):
            config = write_config(folder, sources, database, None, None, args)
            result = run_crawl(config, folder, args.timeout)
        else:
            every = "1h"  # one round per source within the run
            if mode == "embedded-run":
                roles = [("all", write_config(folder, sources, database, None, every, args), None)]
            else:
                assert redis is not None
                workers = 1 if mode == "cluster1" else 2
                roles = [("scheduler", write_config(folder / "scheduler", sources, database, redis.url,
                                                    every, args), "scheduler")]
                roles += [(f"worker-{n}", write_config(folder / f"worker-{n}", sources, database,
                                                       redis.url, every, args), "worker")
                          for n in range(1, workers + 1)]
            result = run_daemons(roles, database, names, portal, args.articles, args.timeout,
                                 args.py_spy)
        result["load_start"], result["load_end"] = load_start, load()
        result["postgres_cpu"] = (pg.cpu() - pg_before) if pg and mode != "embedded" and \
            mode != "embedded-run" else 0.0
        result["redis_cpu"] = (redis.cpu() - redis_before) if redis else 0.0
        if redis:
            result["redis_commands"] = dict(sorted(redis.commands().items(), key=lambda kv: -kv[1]))
    finally:
        if redis:
            redis.stop()
    hits = [h for h in portal.hits() if h.kind == "article"]
    counts = Counter(h.path for h in hits)
    result["article_requests"] = len(hits)
    result["article_pages"] = len(counts)
    result["fetched_twice"] = sum(1 for c in counts.values() if c > 1)
    result["article_200"] = sum(1 for h in hits if h.status == 200)
    result["server"] = portal.summary()
    result["store"] = store_figures(database)
    stored = result["store"]["articles"]
    result["stored_as_expected"] = expected == 0 or stored == expected
    total = sum(result["cpu"].values())
    result["cpu_total"] = total
    result["cpu_all"] = total + result["postgres_cpu"] + result["redis_cpu"]
    result["cpu_ms_per_article"] = 1000 * total / max(1, stored)
    result["cpu_ms_per_article_all"] = 1000 * result["cpu_all"] / max(1, stored)
    return result


# -- report -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024**2, 1),
            "python": platform.python_version(), "commit": commit}


def stored_of(r: dict[str, Any]) -> int:
    return max(1, r["store"]["articles"])


def print_mode(mode: str, r: dict[str, Any], base: dict[str, Any] | None) -> None:
    print(f"\n== {mode}: load {r['load_start']} -> {r['load_end']}")
    print(f"  wall {r['wall_s']:.1f} s" + ("" if r.get("done", True) else " (NOT DONE: timed out)")
          + f"; exit {r.get('exit_code', r.get('exit_codes'))}")
    for label, cpu in r["cpu"].items():
        extra = ""
        if "service_cpu" in r:
            extra = (f" (daemon process {cpu - r['service_cpu'][label]:.1f}, service and workers "
                     f"{r['service_cpu'][label]:.1f})")
        print(f"  CPU {label}: {cpu:.1f} s{extra}")
    print(f"  CPU postgres {r['postgres_cpu']:.1f} s, redis-server {r['redis_cpu']:.2f} s; "
          f"all {r['cpu_all']:.1f} s")
    s = r["store"]
    print(f"  stored {s['articles']} articles ({s['distinct_urls']} distinct URLs), {s['stories']} stories, "
          f"runs {s['runs']} (when done, before the stop: {r.get('runs_at_done', '-')}); "
          f"as expected: {r['stored_as_expected']}")
    if r.get("redis_commands"):
        calls = r["redis_commands"]
        print(f"  Redis commands: {sum(calls.values()):,} ({sum(calls.values()) / stored_of(r):.0f} per "
              f"stored article): " + ", ".join(f"{k} {v:,}" for k, v in list(calls.items())[:8]))
    if "stop_s" in r:
        print(f"  stopping took {r['stop_s']:.1f} s after SIGTERM")
    print(f"  article pages: {r['article_pages']} distinct served of {r['expected_pages']}, "
          f"{r['article_requests']} requests ({r['article_200']} answered 200), "
          f"{r['fetched_twice']} fetched more than once")
    stored = max(1, s["articles"])
    crawling = [c for label, c in r["cpu"].items() if label != "scheduler"]
    print(f"  stored articles per CPU-second of the crawling processes (crawl, daemon or workers): "
          f"{stored / sum(crawling):.1f}; of everything: {stored / r['cpu_all']:.1f}")
    print(f"  CPU per stored article: {r['cpu_ms_per_article']:.1f} ms (newswatch processes), "
          f"{r['cpu_ms_per_article_all']:.1f} ms with the servers")
    if base:
        print(f"  against embedded: +{r['cpu_ms_per_article_all'] - base['cpu_ms_per_article_all']:.1f} "
              "ms per article (all processes and servers)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--portal", type=Path, help="a portal made by portal_gen.py generate")
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--min-articles", type=int, default=40)
    parser.add_argument("--max-articles", type=int, default=60)
    parser.add_argument("--lean", action="store_true", help="pages of ~16 KB instead of ~51 KB")
    parser.add_argument("--seed", type=int, default=20240528)
    parser.add_argument("--concurrency", type=int, default=8, help="crawl.concurrency_per_domain")
    parser.add_argument("--extract-workers", type=int, help="crawl.extract_workers")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--dir", type=Path, help="work folder (kept); default a temporary one")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--py-spy", action="store_true",
                        help="sample each `run` process tree with py-spy (ROLE.py-spy.txt; adds CPU)")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")

    info = machine()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="newswatch-cluster-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    pg = None
    results: dict[str, Any] = {}
    try:
        portal_dir = args.portal or folder / "portal"
        if not args.portal:
            generate(portal_dir, sources=args.sources, min_articles=args.min_articles,
                     max_articles=args.max_articles, seed=args.seed, lean=args.lean)
        summary = load_manifest(portal_dir)["summary"]
        args.articles = summary["articles"]
        print(f"portal: {summary['sources']} sources, {summary['articles']} article pages, "
              f"{summary['article_kb_mean']} KB mean; machine {info}", file=sys.stderr)
        if any(m in ("pg", "cluster1", "cluster2") for m in modes):
            pg = Postgres()
        expected = 0
        with BenchPortal(portal_dir, own_hosts=True) as portal:
            for mode in modes:
                print(f"{mode}…", file=sys.stderr)
                mine = portal_cpu = time.process_time()
                result = run_mode(mode, folder / mode, portal, pg, expected, args)
                portal_cpu = time.process_time() - mine
                result["bench_process_cpu"] = portal_cpu  # the portal's threads and the sampling
                result["expected_pages"] = args.articles
                if mode == "embedded":
                    expected = result["store"]["articles"]
                results[mode] = result
                print_mode(mode, result, results.get("embedded") if mode != "embedded" else None)
                sys.stdout.flush()
        if args.json:
            args.json.write_text(json.dumps({"machine": info, "portal": summary, "args": vars(args),
                                             "results": results}, indent=1, default=str), "utf-8")
        return 0
    finally:
        if pg:
            pg.stop()
        if args.keep or args.dir:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
