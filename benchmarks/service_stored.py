"""The crawl service over a store of 1M articles (issue 12): unchanged polls, memory, start-up.

Copies a big SQLite store (made by reading.py --keep or reading_data.py: synthetic sources and
articles) or uses a big PostgreSQL store in place (``--url``), points a config at it with a few
real feeds served by service_benchmark.py's feed portal (each feed its own loopback site;
every = "1m"), and measures, all on 127.0.0.1:

1. a first ``newswatch crawl`` that settles the feeds (and migrates the store if it must: timed);
2. unchanged rounds with ``newswatch crawl`` (one process: start-up included) and one unchanged
   source alone (``crawl --source``: what one poll costs with a process's start-up and exit);
3. the crawl service itself (``python -m crawler.service CONFIG``, as the daemon starts it):
   the time and CPU from its start to its ``ready`` event, to its first heartbeat (5 s after its
   engine started) and to the end of a first poll; then batches of polls of every feed sent on its
   stdin, the service's CPU per poll (its process tree, from /proc) and its PSS;
4. the daemon (``newswatch run``) for a few minutes: polls that happened (``crawl_runs``), CPU per
   poll of the daemon process and of its service, PSS of both.

    python benchmarks/service_stored.py --db /work/rd/sqlite/newswatch.db --dir /tmp/stored
    python benchmarks/service_stored.py --db DB --sources 20 --batches 5 --daemon-minutes 3
    python benchmarks/service_stored.py --url postgresql+psycopg://…/reading --dir /tmp/stored

Figures: benchmarks/README.md, "Crawl service at 1M stored articles (issue 12)".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import os  # noqa: E402

from service_benchmark import (  # noqa: E402
    PortalProcess,
    Watched,
    _proc_cpu,
    _pss,
    connect,
    crawl_round,
    env_for,
    load_text,
    machine,
    newswatch,
    runs,
    source_name,
    tree,
    write_config,
)


def tree_cpu(pid: int) -> float:
    return sum(_proc_cpu(p) for p in tree(pid))


def tree_pss_mb(pid: int) -> float:
    return sum(_pss(p) for p in tree(pid)) / 2**20


def copy_store(source: Path, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            subprocess.run(["cp", "--reflink=auto", f"{source}{suffix}",
                            str(folder / f"newswatch.db{suffix}")], check=True)
    return {"copy_s": time.perf_counter() - started,
            "bytes": (folder / "newswatch.db").stat().st_size, **describe(folder)}


def describe(folder: Path) -> dict[str, Any]:
    """How many articles and sources the store holds, and its schema revision."""
    with contextlib.closing(connect(folder)) as db:
        return {"articles": db.execute("select count(*) from articles").fetchone()[0],
                "sources": db.execute("select count(*) from sources").fetchone()[0],
                "revision": db.execute("select version_num from alembic_version").fetchone()[0]}


def migrate(folder: Path, url: str) -> dict[str, Any]:
    """Store.migrate() in a fresh process (what the first newswatch command would do): wall, CPU."""
    load_start, started = os.getloadavg(), time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", "import sys; from pipelines.storage.store import "
                              "Store; Store(sys.argv[1]).migrate()", url],
                             cwd=folder, env=env_for(ROOT))
    _, status, usage = os.wait4(child.pid, 0)
    return {"exit_code": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - started,
            "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "revision": describe(folder)["revision"], "load": [load_start, os.getloadavg()]}


class Service:
    """`python -m crawler.service CONFIG`: polls in on stdin, events out on stdout, timed."""

    def __init__(self, config: Path, folder: Path) -> None:
        self.err = (folder / "service.err").open("wb")
        self.started = time.perf_counter()
        self.child = subprocess.Popen([sys.executable, "-m", "crawler.service", str(config)],
                                      cwd=folder, env=env_for(ROOT), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1)
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            with contextlib.suppress(ValueError):
                self.events.put((time.perf_counter() - self.started, json.loads(line)))

    def wait_for(self, kind: str, timeout: float, count: int = 1) -> list[tuple[float, dict[str, Any]]]:
        found = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                at, event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(f"the service sent no {kind!r} event within {timeout:.0f}s") from None
            if event.get("event") == kind:
                found.append((at, event))
        return found

    def poll(self, name: str) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write(json.dumps({"poll": name}) + "\n")
        self.child.stdin.flush()

    def cpu(self) -> float:
        return tree_cpu(self.child.pid)

    def pss_mb(self) -> float:
        return tree_pss_mb(self.child.pid)

    def stop(self) -> int:
        assert self.child.stdin is not None
        self.child.stdin.close()  # its end stops the service
        try:
            code = self.child.wait(120)
        except subprocess.TimeoutExpired:
            self.child.kill()
            code = self.child.wait(10)
        self.err.close()
        return code


def part_service(config: Path, folder: Path, names: list[str], batches: int) -> dict[str, Any]:
    load_start = os.getloadavg()
    service = Service(config, folder)
    ready_at, _ = service.wait_for("ready", 300)[0]
    cpu_ready, pss_ready = service.cpu(), service.pss_mb()
    beat_at, _ = service.wait_for("heartbeat", 120)[0]
    cpu_beat = service.cpu()
    # The first poll after start: robots.txt and connections are new to this process.
    sent = time.perf_counter() - service.started
    service.poll(names[0])
    first_done, first = service.wait_for("round", 120)[0]
    cpu_first = service.cpu()
    out: dict[str, Any] = {
        "ready_s": ready_at, "cpu_at_ready_s": cpu_ready, "pss_at_ready_mb": pss_ready,
        "first_heartbeat_s": beat_at, "cpu_at_first_heartbeat_s": cpu_beat,
        "first_poll_sent_s": sent, "first_poll_done_s": first_done,
        "first_poll_cpu_ms": 1000 * (cpu_first - cpu_beat), "first_poll_status": first.get("status"),
        "batches": [],
    }
    for _ in range(batches):
        cpu0, started = service.cpu(), time.perf_counter()
        for name in names:
            service.poll(name)
        rounds = service.wait_for("round", 300, count=len(names))
        took, cpu1 = time.perf_counter() - started, service.cpu()
        out["batches"].append({
            "polls": len(names), "wall_s": took, "cpu_s": cpu1 - cpu0,
            "cpu_ms_per_poll": 1000 * (cpu1 - cpu0) / len(names), "pss_mb": service.pss_mb(),
            "statuses": sorted({r.get("status", "?") for _, r in rounds}),
            "new_articles": sum(r.get("new_articles", 0) for _, r in rounds),
        })
        time.sleep(2)  # let the rounds' last writes settle between batches
    out["cpu_total_s"] = service.cpu()
    out["peak_pss_mb"] = max([pss_ready] + [b["pss_mb"] for b in out["batches"]])
    out["exit_code"] = service.stop()
    out["load"] = [load_start, os.getloadavg()]
    return out


def part_daemon(config: Path, folder: Path, polls_expected: int, minutes: float,
                warmup: float) -> dict[str, Any]:
    load_start = os.getloadavg()
    daemon = Watched(newswatch(config, "run"), folder, "daemon", env_for(ROOT), interval=5.0)
    started = daemon.started
    time.sleep(warmup)
    at_warm = daemon.sample()
    time.sleep(minutes * 60 - warmup)
    end = daemon.sample()
    stopped = daemon.stop()
    window = [r for r in runs(folder, since=started + warmup, until=end["t"])]
    polls = len(window) or 1
    samples = daemon.samples
    return {
        "minutes": minutes, "warmup_s": warmup, "polls_in_window": len(window),
        "polls_asked": polls_expected, "statuses": sorted({r["status"] for r in window}),
        "new_articles": sum(r["new"] or 0 for r in window),
        "cpu_ms_per_poll": 1000 * (end["cpu"] - at_warm["cpu"]) / polls,
        "daemon_cpu_ms_per_poll": 1000 * (end["daemon_cpu"] - at_warm["daemon_cpu"]) / polls,
        "service_cpu_ms_per_poll": 1000 * (end["service_cpu"] - at_warm["service_cpu"]) / polls,
        "cpu_total_s": end["cpu"],
        "daemon_pss_mb": [at_warm["daemon_pss"] / 2**20, end["daemon_pss"] / 2**20],
        "service_pss_mb": [at_warm["service_pss"] / 2**20, end["service_pss"] / 2**20],
        "peak_service_pss_mb": max(s["service_pss"] for s in samples) / 2**20,
        "peak_daemon_pss_mb": max(s["daemon_pss"] for s in samples) / 2**20,
        "exit_code": stopped["exit_code"], "load": [load_start, os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    store = parser.add_mutually_exclusive_group(required=True)
    store.add_argument("--db", type=Path, help="the big SQLite store to copy")
    store.add_argument("--url", dest="database_url",
                       help="a big PostgreSQL store (postgresql+psycopg://…) used in place, not "
                            "copied: the benchmark adds its feeds to it as sources")
    parser.add_argument("--dir", type=Path, help="work folder (kept); default: a temporary one")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sources", type=int, default=20, help="real feeds added to the store")
    parser.add_argument("--batches", type=int, default=5, help="batches of polls sent to the service")
    parser.add_argument("--unchanged", type=int, default=2, help="unchanged `crawl` rounds")
    parser.add_argument("--daemon-minutes", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: crawl,service,daemon")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    skip = set(args.skip.split(","))
    # service_benchmark's portal and config want these
    args.hosts, args.items, args.article_bytes, args.seed, args.keepalive = args.sources, 3, 3000, 12, 75.0
    args.per_domain, args.concurrency, args.parallel, args.no_robots = 16, 64, 64, False
    args.extract_workers, args.py_spy = None, False

    info = machine()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="newswatch-stored-"))
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"machine": info}
    try:
        portal = PortalProcess(folder, args)
        try:
            config = write_config(folder, portal.urls, args, "1m")
            if args.database_url:
                out["store"] = {"url": args.database_url, **describe(folder)}
            else:
                print("copying the store…", file=sys.stderr)
                out["store"] = copy_store(args.db, folder)
            print(f"  {out['store']}", file=sys.stderr)
            names = [source_name(n) for n in range(args.sources)]
            print("migrating the copy to the current schema (if it must)…", file=sys.stderr)
            out["migrate"] = migrate(folder, args.database_url or "sqlite:///newswatch.db")
            print(f"  {out['migrate']}", file=sys.stderr)
            print("first crawl (settles the feeds)…", file=sys.stderr)
            out["first"] = crawl_round(portal, folder, config, env_for(ROOT), "first", args)
            print(f"  {out['first']['wall_s']:.1f}s {out['first']['statuses']}", file=sys.stderr)
            if "crawl" not in skip:
                for n in range(1, args.unchanged + 1):
                    label = f"unchanged-{n}"
                    out[label] = crawl_round(portal, folder, config, env_for(ROOT), label, args)
                    print(f"  {label}: {out[label]['wall_s']:.1f}s, {out[label]['cpu_s']:.1f} CPU-s",
                          file=sys.stderr)
                out["one-source"] = crawl_round(portal, folder, config, env_for(ROOT), "one-source",
                                                args, sources=[names[0]])
            if "service" not in skip:
                print("the service alone…", file=sys.stderr)
                out["service"] = part_service(config, folder, names, args.batches)
                print(f"  {out['service']}", file=sys.stderr)
            if "daemon" not in skip:
                print(f"the daemon for {args.daemon_minutes} minutes…", file=sys.stderr)
                asked = int(args.sources * (args.daemon_minutes * 60 - args.warmup) / 60)
                out["daemon"] = part_daemon(config, folder, asked, args.daemon_minutes, args.warmup)
        finally:
            portal.stop()
        info["load_average_end"] = os.getloadavg()
        report(out)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1, default=str), "utf-8")
        return 0
    finally:
        if args.keep or args.dir:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def report(out: dict[str, Any]) -> None:
    info, store = out["machine"], out["store"]
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; Python {info['python']}; "
          f"commit {info['commit']}; load {load_text(info['load_average'])} -> "
          f"{load_text(info['load_average_end'])}")
    where = (f"{store['bytes'] / 1e9:.2f} GB, copied in {store['copy_s']:.1f}s" if "bytes" in store
             else f"used in place at {store['url']}")
    print(f"store: {store['articles']:,} articles, {store['sources']} sources, "
          f"revision {store['revision']}, {where}")
    if "migrate" in out:
        m = out["migrate"]
        print(f"migration to {m['revision']}: wall {m['wall_s']:.1f}s, CPU {m['cpu_s']:.1f}s, peak RSS "
              f"{m['peak_rss_mb']:.0f} MB, exit {m['exit_code']}, load {load_text(m['load'][0])}")
    for label in ("first", *sorted(k for k in out if k.startswith("unchanged")), "one-source"):
        if label not in out:
            continue
        r = out[label]
        print(f"{label}: wall {r['wall_s']:.1f}s, CPU {r['cpu_s']:.2f}s "
              f"({r['cpu_ms_per_poll']:.0f} ms per poll, start-up included), "
              f"peak PSS {r['peak_pss_mb']:.0f} MB, {r['statuses']}, "
              f"{r['new_articles']} new, server {r['server']}, load {load_text(r['load_start'])}")
    if "service" in out:
        s = out["service"]
        print(f"service: ready at {s['ready_s']:.2f}s ({s['cpu_at_ready_s']:.2f} CPU-s, PSS "
              f"{s['pss_at_ready_mb']:.0f} MB), first heartbeat at {s['first_heartbeat_s']:.2f}s, a first "
              f"poll sent at {s['first_poll_sent_s']:.2f}s ended at {s['first_poll_done_s']:.2f}s "
              f"({s['first_poll_cpu_ms']:.0f} ms CPU, {s['first_poll_status']})")
        for n, b in enumerate(s["batches"], 1):
            print(f"  batch {n}: {b['polls']} polls in {b['wall_s']:.2f}s, {b['cpu_ms_per_poll']:.1f} ms CPU "
                  f"per poll, PSS {b['pss_mb']:.0f} MB, {b['statuses']}, {b['new_articles']} new")
        print(f"  peak PSS {s['peak_pss_mb']:.0f} MB; exit {s['exit_code']}; load "
              f"{load_text(s['load'][0])} -> {load_text(s['load'][1])}")
    if "daemon" in out:
        d = out["daemon"]
        print(f"daemon {d['minutes']} min: {d['polls_in_window']} polls after the "
              f"{d['warmup_s']:.0f}s warm-up "
              f"(asked about {d['polls_asked']}), {d['statuses']}, {d['new_articles']} new; CPU per poll "
              f"{d['cpu_ms_per_poll']:.1f} ms (daemon {d['daemon_cpu_ms_per_poll']:.1f}, service "
              f"{d['service_cpu_ms_per_poll']:.1f}); PSS daemon {d['daemon_pss_mb'][0]:.0f} -> "
              f"{d['daemon_pss_mb'][1]:.0f} MB (peak {d['peak_daemon_pss_mb']:.0f}), service "
              f"{d['service_pss_mb'][0]:.0f} -> {d['service_pss_mb'][1]:.0f} MB (peak "
              f"{d['peak_service_pss_mb']:.0f}); exit {d['exit_code']}; load {load_text(d['load'][0])} -> "
              f"{load_text(d['load'][1])}")


if __name__ == "__main__":
    raise SystemExit(main())
