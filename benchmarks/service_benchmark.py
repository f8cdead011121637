"""The crawl service at scale (issue 12): a thousand feeds, the daemon, a restart, few descriptors.

Every part serves its own portal of small RSS feeds from a child process on loopback addresses
(by default one address per feed, 127.0.1.1 onwards, so each feed is its own site: its own download
slot, robots.txt and connection, as a thousand real sites would be; ``--hosts 1`` puts them all on
127.0.0.1). Each feed has a few items pointing at small article pages, ETag and Last-Modified, and
answers conditional requests with 304. The server logs every request (time, feed, kind, status).

    python benchmarks/service_benchmark.py feeds     # 1,000 unchanged feeds, one round; and d792b82
    python benchmarks/service_benchmark.py daemon    # the daemon, 1,000 sources every 1m, 6 minutes
    python benchmarks/service_benchmark.py memory    # the daemon every 5m, PSS every 30 s (30 minutes)
    python benchmarks/service_benchmark.py restart   # 1,000 overdue sources after a restart
    python benchmarks/service_benchmark.py nofile    # crawl and daemon under a 1,024 open-file limit
    python benchmarks/service_benchmark.py first     # CPU per stored article vs trafilatura, 51 and 16 KB
    python benchmarks/service_benchmark.py serve     # serve the feeds until Ctrl-C (to look at them)

Each part prints its figures (and the load average at its start and end), and writes them as JSON
with ``--json FILE``. Work happens in a temporary folder, deleted afterwards unless ``--keep`` (or
``--dir``). Crawls run as ``python -m scheduler`` with this checkout first on PYTHONPATH. CPU is the
CPU time of the command and all its descendants (extraction workers included), read from /proc
(utime, stime and the reaped children's), and from wait4 where the command ends; the feed server's
CPU is reported apart. Figures and method: benchmarks/README.md, "Crawl service (issue 12)".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OLD_COMMIT = "d792b82"
FD_ERRORS = re.compile(r"Too many open files|EMFILE|Errno 24", re.IGNORECASE)


# -- the feed portal (runs in its own process) --------------------------------------------------

_WORD_TEXT = ("policy market research budget council minister agency report growth data network energy city "
              "court health school science trade export industry bank price vote election board plan "
              "project study survey law rule tax fund bond index share rate loan union strike transport "
              "rail port water climate storm harvest museum festival league season coach player team "
              "striker goal match final record launch satellite robot chip software model cloud privacy "
              "security breach patent startup investor merger profit loss revenue quarter forecast analyst "
              "official spokesperson committee hearing bill amendment senate assembly mayor governor "
              "province district village harbour airport bridge tunnel road hospital clinic vaccine trial "
              "patient doctor nurse teacher student campus library ")
WORDS = tuple(_WORD_TEXT.split())


def host_address(index: int) -> str:
    """The loopback address of the index-th site: 127.0.1.1, 127.0.1.2, … (254 per third octet)."""
    return f"127.0.{1 + index // 254}.{1 + index % 254}"


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(9, 18))]
    return " ".join(words).capitalize() + "."


class FeedPortal:
    """`sources` RSS feeds of `items` items each over `hosts` loopback addresses, one port."""

    def __init__(self, sources: int, hosts: int, items: int, article_bytes: int, seed: int) -> None:
        self.sources, self.hosts, self.items = sources, max(1, min(hosts, sources)), items
        self.article_bytes, self.seed = article_bytes, seed
        self.modified = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
        self.pages: dict[tuple[int, str], tuple[bytes, str, str]] = {}  # (feed, name): body, type, etag

    def address(self, source: int) -> str:
        return "127.0.0.1" if self.hosts == 1 else host_address(source % self.hosts)

    def feed_url(self, source: int, port: int) -> str:
        return f"http://{self.address(source)}:{port}/s{source}/feed.xml"

    def build(self, port: int) -> None:
        for source in range(self.sources):
            base = f"http://{self.address(source)}:{port}/s{source}"
            items = []
            for item in range(self.items):
                rng = random.Random(self.seed * 1_000_003 + source * 1009 + item)
                title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize()
                paragraphs: list[str] = []
                while sum(map(len, paragraphs)) < self.article_bytes * 0.7:
                    paragraphs.append(" ".join(_sentence(rng) for _ in range(rng.randint(3, 6))))
                published = self.modified - timedelta(hours=item + 1, minutes=source % 60)
                body = _article_html(base, source, item, title, paragraphs, published)
                self._add(source, f"a{item}.html", body, "text/html; charset=utf-8")
                items.append(f"<item><title>{title}</title><link>{base}/a{item}.html</link>"
                             f"<guid isPermaLink=\"false\">s{source}-{item}</guid>"
                             f"<description>{paragraphs[0][:150]}</description>"
                             f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate></item>")
            feed = (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                    f"<title>Feed {source}</title><link>{base}/</link><description>Site {source}"
                    f"</description><language>en</language>\n" + "\n".join(items)
                    + "\n</channel></rss>\n")
            self._add(source, "feed.xml", feed, "application/rss+xml; charset=utf-8")
        self._add(-1, "robots.txt", "User-agent: *\nDisallow: /private/\nAllow: /\n",
                  "text/plain; charset=utf-8")

    def _add(self, source: int, name: str, text: str, content_type: str) -> None:
        body = text.encode("utf-8")
        self.pages[(source, name)] = (body, content_type, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')

    def route(self, target: str) -> tuple[int, str, str]:
        """(feed number or -1, page name, kind) of a request target."""
        path = target.split("?", 1)[0]
        if path == "/robots.txt":
            return -1, "robots.txt", "robots"
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0][:1] == "s" and parts[0][1:].isdigit():
            kind = "feed" if parts[1] == "feed.xml" else "article"
            return int(parts[0][1:]), parts[1], kind
        return -1, path, "other"


def _article_html(base: str, source: int, item: int, title: str, paragraphs: list[str],
                  published: datetime) -> str:
    nav = "".join(f'<li><a href="{base}/section/{n}">{w}</a></li>'
                  for n, w in enumerate(WORDS[source % 40: source % 40 + 12]))
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title} - Site '
            f'{source}</title><link rel="canonical" href="{base}/a{item}.html">'
            f'<meta property="article:published_time" content="{published.isoformat()}"></head>\n'
            f'<body><header><a href="{base}/">Site {source}</a><nav><ul>{nav}</ul></nav></header>\n'
            f"<main><article><h1>{title}</h1><p class=\"byline\">By Staff, "
            f'<time datetime="{published.isoformat()}">{published:%d %B %Y}</time></p>\n'
            f"{body}\n</article></main><footer>© Site {source}</footer></body></html>\n")


async def _serve_portal(portal: FeedPortal, hits_path: Path, keepalive: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    hits: list[str] = []
    reasons = {200: "OK", 304: "Not Modified", 404: "Not Found"}
    last_modified = format_datetime(portal.modified, usegmt=True)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), keepalive)
                except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        ConnectionError):
                    break
                lines = head.decode("latin-1").split("\r\n")
                request = lines[0].split(" ")
                if len(request) < 3:
                    break
                headers = {}
                for line in lines[1:]:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                source, name, kind = portal.route(request[1])
                page = portal.pages.get((source if kind != "robots" else -1, name))
                status = 404 if page is None else 200
                if page is not None:
                    tag = headers.get("if-none-match")
                    since = headers.get("if-modified-since")
                    if tag is not None:
                        tags = {t.strip().removeprefix("W/") for t in tag.split(",")}
                        status = 304 if page[2] in tags else 200
                    elif since:
                        with contextlib.suppress(TypeError, ValueError):
                            status = 304 if portal.modified <= parsedate_to_datetime(since) else 200
                out = [f"HTTP/1.1 {status} {reasons[status]}", "Server: newswatch-bench-feeds",
                       f"Date: {format_datetime(datetime.now(UTC), usegmt=True)}"]
                payload = b"not found" if page is None else page[0]
                if page is not None:
                    out += [f"ETag: {page[2]}", f"Last-Modified: {last_modified}",
                            "Cache-Control: public, max-age=0, must-revalidate"]
                if status == 304:
                    payload = b""
                else:
                    out += [f"Content-Type: {page[1] if page else 'text/plain'}",
                            f"Content-Length: {len(payload)}"]
                data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
                writer.write(data + payload if request[0] != "HEAD" else data)
                hits.append(f"{time.time():.3f} {source} {kind} {status}\n")
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    port = 0
    servers: list[asyncio.Server] = []
    addresses = sorted({portal.address(s) for s in range(portal.sources)})
    for attempt in range(20):
        try:
            for address in addresses:
                server = await asyncio.start_server(handle, address, port, backlog=1024,
                                                    reuse_address=True)
                servers.append(server)
                port = port or server.sockets[0].getsockname()[1]
            break
        except OSError:
            for server in servers:
                server.close()
            servers, port = [], 0
            if attempt == 19:
                raise
    portal.build(port)
    with hits_path.open("a", encoding="ascii") as log:
        print(json.dumps({"port": port, "pid": os.getpid(), "addresses": len(addresses),
                          "urls": [portal.feed_url(s, port) for s in range(portal.sources)]}), flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if hits:
                taken = hits[:]
                del hits[:len(taken)]
                log.write("".join(taken))
                log.flush()
    for server in servers:
        server.close()


def serve_main(args: argparse.Namespace) -> int:
    portal = FeedPortal(args.sources, args.hosts, args.items, args.article_bytes, args.seed)
    asyncio.run(_serve_portal(portal, Path(args.hits), args.keepalive))
    return 0


class PortalProcess:
    """The feed portal in a child process: its feed URLs, its request log, its CPU time."""

    def __init__(self, folder: Path, args: argparse.Namespace) -> None:
        self.hits_path = folder / "server-hits.log"
        self.log = (folder / "server.log").open("wb")
        command = [sys.executable, str(Path(__file__).resolve()), "_serve", "--sources", str(args.sources),
                   "--hosts", str(args.hosts), "--items", str(args.items), "--article-bytes",
                   str(args.article_bytes), "--seed", str(args.seed), "--hits", str(self.hits_path),
                   "--keepalive", str(args.keepalive)]
        self.child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log,
                                      start_new_session=True, preexec_fn=_raise_nofile)
        assert self.child.stdout is not None
        line = self.child.stdout.readline()
        if not line:
            self.stop()
            raise SystemExit(f"the feed server did not start; see {folder / 'server.log'}")
        info = json.loads(line)
        self.port, self.urls, self.addresses = info["port"], info["urls"], info["addresses"]

    def cpu(self) -> float:
        return _proc_cpu(self.child.pid)

    def hits(self, since: float = 0.0, until: float = float("inf")) -> list[tuple[float, int, str, int]]:
        time.sleep(0.7)  # the server writes its log every 0.5 s
        rows = []
        with contextlib.suppress(OSError):
            for line in self.hits_path.read_text("ascii").splitlines():
                at, source, kind, status = line.split()
                if since <= float(at) <= until:
                    rows.append((float(at), int(source), kind, int(status)))
        return rows

    def stop(self) -> None:
        if self.child.poll() is None:
            with contextlib.suppress(OSError):
                self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(self.child.pid)
                self.child.wait(10)
        self.log.close()


def _raise_nofile() -> None:
    """The server holds a listening socket per site and a connection per client: lift its limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def summarise_hits(hits: list[tuple[float, int, str, int]]) -> dict[str, Any]:
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for _, _, kind, status in hits:
        kinds[kind][str(status)] += 1
    return {kind: dict(sorted(counts.items())) for kind, counts in sorted(kinds.items())}


# -- processes: CPU, memory and descriptors from /proc ------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _proc_cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of a process, with those of its reaped children."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += _children(current)
    return out


def _pss(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def tree_usage(pid: int) -> dict[str, Any]:
    """CPU (with reaped children's), PSS and open descriptors of a process tree, and of its parts."""
    pids = tree(pid)
    cpu = sum(_proc_cpu(p) for p in pids)
    pss = {p: _pss(p) for p in pids}
    return {"cpu": cpu, "pss": sum(pss.values()), "fds": max((_fds(p) for p in pids), default=0),
            "pids": pids, "pss_by_pid": pss}


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _kill_tree(pids: list[int]) -> None:
    """SIGKILL these processes (descendants of this benchmark), each by its id."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _nofile(limit: int | None) -> Any:
    if limit is None:
        return None

    def set_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return set_limit


def run_watched(command: list[str], folder: Path, label: str, env: dict[str, str], timeout: float,
                nofile: int | None = None, interval: float = 0.2) -> dict[str, Any]:
    """Run a command to its end, sampling its process tree; wall, CPU, peak PSS and descriptors."""
    started, load = time.perf_counter(), os.getloadavg()
    with (folder / f"{label}.out").open("wb") as out, (folder / f"{label}.err").open("wb") as err:
        child = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=err,
                                 start_new_session=True, preexec_fn=_nofile(nofile))
        peak_pss, peak_fds, cpu, pids, usage, status = 0, 0, 0.0, [child.pid], None, 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            sample = tree_usage(child.pid)
            peak_pss, peak_fds = max(peak_pss, sample["pss"]), max(peak_fds, sample["fds"])
            cpu, pids = max(cpu, sample["cpu"]), sample["pids"]
            if time.perf_counter() - started > timeout:
                _kill_tree(pids)
            time.sleep(interval)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        _kill_tree(pids[1:])  # workers outliving their crawl: none expected
    waited = usage.ru_utime + usage.ru_stime if usage else 0.0
    return {"exit_code": child.returncode, "wall_s": wall, "cpu_s": max(cpu, waited),
            "cpu_wait4_s": waited, "cpu_sampled_s": cpu, "peak_pss_mb": peak_pss / 2**20,
            "peak_fds": peak_fds, "load_start": load, "load_end": os.getloadavg(),
            "timed_out": wall > timeout}


class Watched:
    """A long-running command (the daemon) sampled every `interval` seconds in a thread."""

    def __init__(self, command: list[str], folder: Path, label: str, env: dict[str, str],
                 interval: float, nofile: int | None = None) -> None:
        self.err = (folder / f"{label}.err").open("wb")
        self.out = (folder / f"{label}.out").open("wb")
        self.child = subprocess.Popen(command, cwd=folder, env=env, stdout=self.out, stderr=self.err,
                                      start_new_session=True, preexec_fn=_nofile(nofile))
        self.started = time.time()
        self.samples: list[dict[str, Any]] = []
        self.known: set[int] = {self.child.pid}
        self.interval = interval
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.is_set() and self.child.poll() is None:
            self.samples.append(self.sample())
            self.done.wait(self.interval)

    def sample(self) -> dict[str, Any]:
        usage = tree_usage(self.child.pid)
        self.known.update(usage["pids"])
        service = [p for p in usage["pids"] if "crawler.service" in _cmdline(p)]
        service_tree = tree(service[0]) if service else []
        return {"t": time.time(), "cpu": usage["cpu"], "pss": usage["pss"], "fds": usage["fds"],
                "daemon_cpu": _proc_cpu(self.child.pid, children=False),
                "service_cpu": sum(_proc_cpu(p) for p in service_tree),
                "daemon_pss": usage["pss_by_pid"].get(self.child.pid, 0),
                "service_pss": sum(usage["pss_by_pid"].get(p, 0) for p in service_tree),
                "service_fds": _fds(service[0]) if service else 0,
                "service_pid": service[0] if service else None, "processes": len(usage["pids"])}

    def cpu_now(self) -> float:
        return tree_usage(self.child.pid)["cpu"]

    def stop(self, grace: float = 60.0) -> dict[str, Any]:
        """SIGTERM, wait for the daemon (it lets its service finish), kill what is left."""
        last = self.sample()
        self.done.set()
        self.thread.join(10)
        if self.child.poll() is None:
            with contextlib.suppress(OSError):
                self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(grace)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait(10)
        alive = [p for p in self.known if p != self.child.pid and _stat(p) is not None
                 and "python" in _cmdline(p)]
        _kill_tree(alive)
        self.err.close()
        self.out.close()
        return {"exit_code": self.child.returncode, "left_running": len(alive), "last": last}


# -- configs, stores, checkouts -----------------------------------------------------------------


def write_config(folder: Path, urls: list[str], args: argparse.Namespace, every: str | None,
                 old: bool = False) -> Path:
    crawl = {"download_delay": 0, "concurrency_per_domain": args.per_domain,
             "concurrency": args.concurrency, "parallel_rounds": args.parallel,
             "obey_robots": not args.no_robots, "timeout": 30, "retries": 1, "cache_dir": "httpcache"}
    if old:  # d792b82 knows no crawl.concurrency, and at most 32 parallel rounds (processes)
        del crawl["concurrency"]
        crawl["parallel_rounds"] = min(args.parallel, 32)
    if args.extract_workers is not None:
        crawl["extract_workers"] = args.extract_workers
    url = getattr(args, "database_url", None) or "sqlite:///newswatch.db"
    lines = ["[database]", f"url = {json.dumps(url)}", "", "[crawl]"]
    lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else json.dumps(v)}" for k, v in crawl.items()]
    lines += ["", "[digest]", 'outbox = "outbox"']
    for n, url in enumerate(urls):
        lines += ["", "[[sources]]", f'name = "{source_name(n)}"', f'feed = "{url}"', 'language = "en"']
        if every:
            lines.append(f'every = "{every}"')
    path = folder / "newswatch.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def source_name(n: int) -> str:
    return f"feed-{n:04d}"


def env_for(tree_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree_path)
    env.pop("NEWSWATCH_CONFIG", None)
    return env


def newswatch(config: Path, *words: str) -> list[str]:
    return [sys.executable, "-m", "scheduler", "--config", str(config), *words]


def _utc(value: str | datetime | None) -> float | None:
    """A stored UTC time (text from SQLite, a naive datetime from PostgreSQL) as a timestamp."""
    if not value:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC).timestamp()


def connect(folder: Path) -> Any:
    """A DB-API connection to the store the config in `folder` names: its newswatch.db, or a
    PostgreSQL database (service_stored.py --url)."""
    url = tomllib.loads((folder / "newswatch.toml").read_text("utf-8"))["database"]["url"]
    if url.startswith("postgresql"):
        import psycopg

        return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    return sqlite3.connect(folder / "newswatch.db", timeout=30)


def runs(folder: Path, since: float = 0.0, until: float = float("inf")) -> list[dict[str, Any]]:
    """crawl_runs started in [since, until], with their source's name."""
    with contextlib.closing(connect(folder)) as db:
        rows = db.execute("select s.name, r.started_at, r.finished_at, r.status, r.error, r.requests, "
                          "r.new_articles from crawl_runs r join sources s on s.id = r.source_id").fetchall()
    out = []
    for name, started, finished, status, error, requests, new in rows:
        at = _utc(started)
        if at is not None and since <= at <= until:
            out.append({"source": name, "started": at, "finished": _utc(finished), "status": status,
                        "error": error, "requests": requests, "new": new})
    return out


def articles_stored(folder: Path) -> int:
    with contextlib.closing(connect(folder)) as db:
        return db.execute("select count(*) from articles").fetchone()[0]


def parse_rounds(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(path.read_text("utf-8") or "[]")
    except (OSError, ValueError):
        return []


def statuses(rounds: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(r.get("status", "?") for r in rounds))


class OldCheckout:
    """A worktree of the per-process code (d792b82), made if missing and removed if made here."""

    def __init__(self, path: Path, commit: str) -> None:
        self.path, self.commit, self.made = path, commit, False

    def __enter__(self) -> Path:
        if not (self.path / "scheduler.py").exists():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(self.path),
                            self.commit], check=True, capture_output=True)
            self.made = True
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self.made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(self.path)],
                           check=False, capture_output=True)


# -- figures ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024**2, 1),
            "python": sys.version.split()[0], "commit": commit, "load_average": os.getloadavg(),
            "at": datetime.now(UTC).isoformat(timespec="seconds")}


def percentiles(values: list[float], qs: tuple[int, ...] = (50, 90, 99, 100)) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {f"p{q}": round(ordered[min(len(ordered) - 1, len(ordered) * q // 100)], 3) for q in qs}


def load_text(load: Any) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def report(title: str, rows: list[tuple[str, Any]]) -> None:
    print(f"\n== {title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


# -- part 1: 1,000 unchanged feeds, one round ---------------------------------------------------


def part_feeds(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    new_dir = folder / "new"
    new_dir.mkdir()
    out: dict[str, Any] = {"sources": args.sources, "hosts": args.hosts, "items": args.items}
    with contextlib.ExitStack() as stack:
        portal = PortalProcess(folder, args)
        stack.callback(portal.stop)
        config = write_config(new_dir, portal.urls, args, None)
        env = env_for(ROOT)
        print(f"feeds: {args.sources} feeds on {portal.addresses} addresses; first crawl…", file=sys.stderr)
        first = crawl_round(portal, new_dir, config, env, "first", args)
        out["first"] = first
        print(f"  first: {first['wall_s']:.1f}s, {first['articles_stored']} articles", file=sys.stderr)
        seconds = []
        for n in range(args.repeat):
            second = crawl_round(portal, new_dir, config, env, f"unchanged-{n + 1}", args)
            seconds.append(second)
            print(f"  unchanged round {n + 1}: {second['wall_s']:.1f}s, {second['cpu_ms_per_poll']:.1f} "
                  f"ms CPU per poll, load {load_text(second['load_start'])}", file=sys.stderr)
        out["unchanged"] = seconds
        # One source alone: the start-up and closing that every one-shot crawl pays (3 runs).
        out["one_source"] = [crawl_round(portal, new_dir, config, env, f"one-source-{n + 1}", args,
                                         sources=[source_name(0)]) for n in range(3)]
        if args.old_sample:
            with OldCheckout(args.old_tree, args.old_commit) as old_tree:
                out["old"] = old_per_process(portal, folder, old_tree, args)
    return out


def crawl_round(portal: PortalProcess, folder: Path, config: Path, env: dict[str, str], label: str,
                args: argparse.Namespace, sources: list[str] | None = None,
                nofile: int | None = None) -> dict[str, Any]:
    command = newswatch(config, "crawl", "--format", "json")
    for name in sources or []:
        command += ["--source", name]
    spy = folder / f"{label}.py-spy.txt"
    if getattr(args, "py_spy", False) and label.startswith("unchanged"):
        command = [str(Path(sys.executable).with_name("py-spy")), "record", "--subprocesses", "--rate", "100",
                   "--format", "raw", "--output", str(spy), "--", *command]
    server_cpu = portal.cpu()
    since = time.time()
    result = run_watched(command, folder, label, env, args.timeout, nofile=nofile)
    hits = portal.hits(since)
    rounds = parse_rounds(folder / f"{label}.out")
    polls = len(rounds) or 1
    result.update({
        "server_cpu_s": portal.cpu() - server_cpu, "server": summarise_hits(hits),
        "rounds": len(rounds), "statuses": statuses(rounds),
        "new_articles": sum(r.get("new_articles", 0) for r in rounds),
        "errors": [f"{r['source']}: {r['error']}" for r in rounds if r.get("error")][:5],
        "articles_stored": articles_stored(folder),
        "cpu_ms_per_poll": 1000 * result["cpu_s"] / polls,
        "fd_errors": fd_errors(folder / f"{label}.err"),
    })
    if spy.exists():
        result["py_spy"] = py_spy_summary(spy)
    if result["exit_code"] != 0:
        print(f"  {label}: exit {result['exit_code']}; see {folder / (label + '.err')}", file=sys.stderr)
    return result


def py_spy_summary(path: Path, top: int = 25) -> dict[str, Any]:
    """Where the CPU went, from `py-spy record --format raw`: by stage (crawl_benchmark.py's
    stages) and by the innermost frame of newswatch, Scrapy or Twisted code."""
    sys.path.insert(0, str(HERE))
    from crawl_benchmark import IDLE_LEAVES, stage_breakdown

    frames: Counter[str] = Counter()
    total = 0
    for line in path.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or stack.endswith(IDLE_LEAVES):
            continue
        total += int(count)
        parts = stack.split(";")
        mine = [f for f in parts if any(m in f for m in ("crawler/", "pipelines/", "scheduler.py"))]
        process = parts[0][:60] if parts[0].startswith("process ") else ""
        frames[f"{process} {(mine[-1] if mine else parts[-1])[:140]}"] += int(count)
    return {"samples": total,
            "stages": {name: round(share, 3) for name, share, _ in stage_breakdown(path)},
            "frames": [(name, round(n / max(total, 1), 3)) for name, n in frames.most_common(top)]}


def fd_errors(*paths: Path) -> int:
    count = 0
    for path in paths:
        with contextlib.suppress(OSError):
            count += sum(1 for line in path.read_text("utf-8", errors="replace").splitlines()
                         if FD_ERRORS.search(line))
    return count


def old_per_process(portal: PortalProcess, folder: Path, old_tree: Path, args: argparse.Namespace
                    ) -> dict[str, Any]:
    """Today's daemon: each poll its own `newswatch crawl --source NAME` process, on a sample."""
    old_dir = folder / "old"
    old_dir.mkdir()
    config = write_config(old_dir, portal.urls, args, None, old=True)
    env = env_for(old_tree)
    step = max(1, args.sources // args.old_sample)
    sample = [source_name(n) for n in range(0, args.sources, step)][:args.old_sample]
    print(f"old code ({old_tree}): first round of the {len(sample)} sampled sources…", file=sys.stderr)
    fill = crawl_round(portal, old_dir, config, env, "old-first", args, sources=sample)
    polls: list[dict[str, Any]] = []
    lock = threading.Lock()
    todo = list(sample)
    server_cpu = portal.cpu()
    since = time.time()
    load = os.getloadavg()

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                name = todo.pop(0)
            result = run_watched(newswatch(config, "crawl", "--source", name, "--format", "json"),
                                 old_dir, f"old-{name}", env, args.timeout)
            result["rounds"] = parse_rounds(old_dir / f"old-{name}.out")
            with lock:
                polls.append(result)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.old_parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = [p["cpu_s"] for p in polls]
    per_poll_cpu = sum(cpu) / len(cpu)
    statuses_seen = Counter(r.get("status") for p in polls for r in p["rounds"])
    hits = portal.hits(since)
    return {
        "commit": args.old_commit, "sample": len(sample), "parallel": args.old_parallel,
        "fill": {k: fill[k] for k in ("wall_s", "cpu_s", "statuses", "articles_stored")},
        "wall_s": wall, "cpu_s": sum(cpu), "cpu_ms_per_poll": 1000 * per_poll_cpu,
        "cpu_ms_per_poll_percentiles": percentiles([1000 * c for c in cpu]),
        "wall_per_poll_s": percentiles([p["wall_s"] for p in polls]),
        "statuses": dict(statuses_seen), "server": summarise_hits(hits),
        "server_cpu_s": portal.cpu() - server_cpu,
        "load_start": load, "load_end": os.getloadavg(),
        # 1,000 polls: the sample's pace, and the floor that CPU alone sets on every core.
        "extrapolated_wall_s": wall * args.sources / len(sample),
        "extrapolated_cpu_bound_wall_s": per_poll_cpu * args.sources / (os.cpu_count() or 1),
        "extrapolated_cpu_s": per_poll_cpu * args.sources,
    }


def print_feeds(out: dict[str, Any]) -> None:
    first = out["first"]
    rows: list[tuple[str, Any]] = [
        ("portal", f"{out['sources']} feeds x {out['items']} items on {out['hosts']} addresses"),
        ("first crawl", f"{first['wall_s']:.1f} s, CPU {first['cpu_s']:.1f} s, {first['articles_stored']} "
                        f"articles stored, statuses {first['statuses']}, peak PSS {first['peak_pss_mb']:.0f} "
                        f"MB, load {load_text(first['load_start'])}"),
    ]
    for n, second in enumerate(out["unchanged"], 1):
        rows.append((f"unchanged round {n}",
                     f"wall {second['wall_s']:.1f} s, CPU {second['cpu_s']:.1f} s = "
                     f"{second['cpu_ms_per_poll']:.1f} ms per poll; {second['statuses']}; server "
                     f"{second['server']} (server CPU {second['server_cpu_s']:.1f} s); peak PSS "
                     f"{second['peak_pss_mb']:.0f} MB, {second['peak_fds']} fds; load "
                     f"{load_text(second['load_start'])} -> {load_text(second['load_end'])}"))
    ones = out.get("one_source", [])
    if ones:
        rows.append(("one unchanged source alone", "CPU " + ", ".join(f"{r['cpu_s']:.2f}" for r in ones)
                     + " s; wall " + ", ".join(f"{r['wall_s']:.2f}" for r in ones)
                     + " s (start-up and exit)"))
    old = out.get("old")
    if old:
        rows += [
            (f"old code ({old['commit']}), {old['sample']} polls",
             f"{old['parallel']} at once: {old['wall_s']:.1f} s, CPU {old['cpu_s']:.1f} s = "
             f"{old['cpu_ms_per_poll']:.0f} ms per poll {old['cpu_ms_per_poll_percentiles']}; "
             f"{old['statuses']}; server {old['server']}; load {load_text(old['load_start'])} -> "
             f"{load_text(old['load_end'])}"),
            (f"old code, extrapolated to {out['sources']}",
             f"wall {old['extrapolated_wall_s']:.0f} s at the sample's pace "
             f"(CPU-bound floor on every core {old['extrapolated_cpu_bound_wall_s']:.0f} s), "
             f"CPU {old['extrapolated_cpu_s']:.0f} s"),
        ]
    best = min(out["unchanged"], key=lambda r: r["wall_s"])
    rows.append(("targets", f"wall < 30 s: {'PASS' if best['wall_s'] < 30 else 'FAIL'} "
                            f"({best['wall_s']:.1f} s); CPU per poll < 20 ms: "
                            f"{'PASS' if best['cpu_ms_per_poll'] < 20 else 'FAIL'} "
                            f"({best['cpu_ms_per_poll']:.1f} ms); moonshot < 10 s / < 5 ms: "
                            f"{best['wall_s'] < 10} / {best['cpu_ms_per_poll'] < 5}"))
    report("1,000 unchanged feeds, one round", rows)


# -- part 2: the daemon -------------------------------------------------------------------------


def fill_store(portal: PortalProcess, folder: Path, args: argparse.Namespace, every: str | None,
               nofile: int | None = None) -> tuple[Path, dict[str, Any]]:
    config = write_config(folder, portal.urls, args, every)
    print(f"first crawl of {args.sources} feeds to fill the store and the cache…", file=sys.stderr)
    first = crawl_round(portal, folder, config, env_for(ROOT), "first", args, nofile=nofile)
    print(f"  {first['wall_s']:.1f}s, {first['statuses']}", file=sys.stderr)
    return config, first


def part_daemon(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    interval = _seconds(args.every)
    out: dict[str, Any] = {"sources": args.sources, "every": args.every, "minutes": args.minutes,
                           "warmup_s": args.warmup, "tolerance": args.tolerance}
    with contextlib.ExitStack() as stack:
        portal = PortalProcess(folder, args)
        stack.callback(portal.stop)
        config, out["first"] = fill_store(portal, folder, args, args.every, args.nofile)
        print(f"daemon: every {args.every} for {args.minutes} min (sampled every {args.sample}s)…",
              file=sys.stderr)
        server_cpu = portal.cpu()
        daemon = Watched(newswatch(config, "run"), folder, "daemon", env_for(ROOT), args.sample,
                         nofile=args.nofile)
        stack.callback(lambda: daemon.stop() if daemon.child.poll() is None else None)
        t0 = daemon.started
        load_start = os.getloadavg()
        time.sleep(args.warmup)
        at_warm = daemon.sample()
        cpu_warm = at_warm["cpu"]
        server_warm = portal.cpu()
        t_warm = time.time()
        deadline = t0 + args.minutes * 60
        spy = None
        if args.py_spy:
            spy = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(daemon.child.pid),
                 "--subprocesses", "--nonblocking", "--rate", "50", "--format", "raw",
                 "--duration", str(int(deadline - time.time())),
                 "--output", str(folder / "daemon.py-spy.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while time.time() < deadline:
            time.sleep(min(10.0, max(0.0, deadline - time.time())))
            if daemon.child.poll() is not None:
                print(f"  the daemon exited ({daemon.child.returncode}) early", file=sys.stderr)
                break
        at_end = daemon.sample()
        cpu_end = at_end["cpu"]
        t_end = time.time()
        if spy is not None:
            try:
                spy.wait(60)
            except subprocess.TimeoutExpired:
                spy.kill()
        server_end = portal.cpu()
        load_end = os.getloadavg()
        stopped = daemon.stop()
        window = t_end - t_warm
        rounds = runs(folder, t_warm, t_end)
        finished = [r for r in runs(folder, t0, t_end + 120)
                    if r["finished"] and t_warm <= r["finished"] <= t_end]
        hits = portal.hits(t_warm, t_end)
        all_hits = portal.hits(t0, t_end)
        expected = args.sources * window / interval
        feed_hits = [h for h in hits if h[2] == "feed"]
        out.update({
            "window_s": window, "load_start": load_start, "load_end": load_end,
            "daemon_exit": stopped["exit_code"], "left_running": stopped["left_running"],
            "expected_polls": expected, "rounds_started": len(rounds), "rounds_finished": len(finished),
            "feed_requests": len(feed_hits), "server": summarise_hits(hits),
            "polls_happened": len(rounds) / expected, "feed_requests_share": len(feed_hits) / expected,
            "statuses": dict(Counter(r["status"] for r in rounds)),
            "errors": dict(Counter((r["error"] or "")[:120] for r in rounds if r["error"]).most_common(5)),
            "cpu_s": cpu_end - cpu_warm,
            "cpu_ms_per_poll": 1000 * (cpu_end - cpu_warm) / max(1, len(finished)),
            "cores_busy": (cpu_end - cpu_warm) / window,
            "daemon_cpu_ms_per_poll": 1000 * (at_end["daemon_cpu"] - at_warm["daemon_cpu"])
            / max(1, len(finished)),
            "service_cpu_ms_per_poll": 1000 * (at_end["service_cpu"] - at_warm["service_cpu"])
            / max(1, len(finished)),
            "server_cpu_s": server_end - server_warm, "server_cpu_total_s": server_end - server_cpu,
            "fd_errors": fd_errors(folder / "daemon.err"),
            "samples": [{k: v for k, v in s.items() if k != "service_pid"} for s in daemon.samples],
        })
        out["intervals"] = interval_figures(all_hits, rounds_for_gaps(folder, t0, t_end), t_warm, t_end,
                                            interval, args.tolerance, args.sources)
        out["memory"] = memory_figures(daemon.samples, t0 + args.memory_warmup, interval)
        out["service_restarts"] = _count(folder / "daemon.err", "restarting the crawl service")
        out["log_warnings"] = _warnings(folder / "daemon.err")
        if (folder / "daemon.py-spy.txt").exists():
            out["py_spy"] = py_spy_summary(folder / "daemon.py-spy.txt")
    return out


def rounds_for_gaps(folder: Path, since: float, until: float) -> dict[str, list[float]]:
    starts: dict[str, list[float]] = defaultdict(list)
    for r in runs(folder, since, until):
        starts[r["source"]].append(r["started"])
    return starts


def interval_figures(hits: list[tuple[float, int, str, int]], starts: dict[str, list[float]],
                     since: float, until: float, interval: float, tolerance: float, sources: int
                     ) -> dict[str, Any]:
    """Gaps between a source's consecutive polls that end inside [since, until]: as the feed's
    server saw them (its requests) and as the store recorded them (crawl_runs.started_at). A source
    kept its interval when every such gap is within interval x (1 +- tolerance) and it had one."""
    by_feed: dict[int, list[float]] = defaultdict(list)
    for at, source, kind, _ in hits:
        if kind == "feed":
            by_feed[source].append(at)
    out: dict[str, Any] = {"low_s": interval * (1 - tolerance), "high_s": interval * (1 + tolerance)}
    for label, series in (("server", {source_name(k): v for k, v in by_feed.items()}), ("store", starts)):
        gaps, kept = [], 0
        worst: list[tuple[float, str]] = []
        for n in range(sources):
            name = source_name(n)
            times = sorted(series.get(name, []))
            mine = [b - a for a, b in itertools.pairwise(times) if since <= b <= until]
            gaps += mine
            if mine and all(out["low_s"] <= g <= out["high_s"] for g in mine):
                kept += 1
            elif mine:
                worst.append((max(mine, key=lambda g: abs(g - interval)), name))
        out[label] = {"kept": kept, "kept_share": kept / sources, "gaps": len(gaps),
                      "gap_s": percentiles(gaps, (1, 10, 50, 90, 99, 100)),
                      "worst": sorted(worst, reverse=True)[:5]}
    return out


def memory_figures(samples: list[dict[str, Any]], after: float, interval: float) -> dict[str, Any]:
    """Daemon and service PSS after the warm-up: first, last, peak, growth; and, since memory
    rises and falls with each burst of polls, the mean and peak over the first and the last whole
    interval after the warm-up, and their growth (`cycle_*`)."""
    warm = [s for s in samples if s["t"] >= after]
    out: dict[str, Any] = {"samples": len(warm)}
    if len(warm) < 2:
        return out
    end = warm[-1]["t"]
    first_cycle = [s for s in warm if s["t"] < after + interval]
    last_cycle = [s for s in warm if s["t"] > end - interval]
    for key in ("daemon_pss", "service_pss", "pss"):
        first, last, peak = warm[0][key], warm[-1][key], max(s[key] for s in warm)
        out[key] = {"first_mb": first / 2**20, "last_mb": last / 2**20, "peak_mb": peak / 2**20,
                    "growth": (last - first) / first if first else None,
                    "peak_growth": (peak - first) / first if first else None}
        if end - after >= 2 * interval and first_cycle and last_cycle:
            mean_a = sum(s[key] for s in first_cycle) / len(first_cycle)
            mean_b = sum(s[key] for s in last_cycle) / len(last_cycle)
            peak_a, peak_b = max(s[key] for s in first_cycle), max(s[key] for s in last_cycle)
            out[key].update({"cycle_first_mean_mb": mean_a / 2**20, "cycle_last_mean_mb": mean_b / 2**20,
                             "cycle_first_peak_mb": peak_a / 2**20, "cycle_last_peak_mb": peak_b / 2**20,
                             "cycle_mean_growth": (mean_b - mean_a) / mean_a if mean_a else None,
                             "cycle_peak_growth": (peak_b - peak_a) / peak_a if peak_a else None})
    return out


def _count(path: Path, text: str) -> int:
    with contextlib.suppress(OSError):
        return path.read_text("utf-8", errors="replace").count(text)
    return 0


def _warnings(path: Path) -> dict[str, int]:
    """WARNING and ERROR lines of a log, by their text without the source name and numbers."""
    counts: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in path.read_text("utf-8", errors="replace").splitlines():
            if " WARNING " in line or " ERROR " in line or "Traceback" in line:
                text = re.sub(r"\[[^\]]*\]|\d+", "#", line.split(" ", 3)[-1])[:140]
                counts[text] += 1
    return dict(counts.most_common(8))


def _seconds(duration: str) -> float:
    number, unit = int(duration[:-1]), duration[-1]
    return number * {"s": 1, "m": 60, "h": 3600}[unit]


def print_daemon(out: dict[str, Any]) -> None:
    iv = out["intervals"]
    rows: list[tuple[str, Any]] = [
        ("setup", f"{out['sources']} sources every {out['every']}, {out['minutes']} min, figures over the "
                  f"last {out['window_s']:.0f} s (after a {out['warmup_s']:.0f} s warm-up); load "
                  f"{load_text(out['load_start'])} -> {load_text(out['load_end'])}"),
        ("polls that happened", f"{out['rounds_started']} rounds started / {out['expected_polls']:.0f} asked "
                                f"= {100 * out['polls_happened']:.1f} %; feed requests at the server "
                                f"{out['feed_requests']} = {100 * out['feed_requests_share']:.1f} %"),
        ("round statuses", f"{out['statuses']} {out['errors'] or ''}"),
        ("kept the interval", f"server: {iv['server']['kept']} sources = "
                              f"{100 * iv['server']['kept_share']:.1f} %"
                              f" (every gap in {iv['low_s']:.0f}-{iv['high_s']:.0f} s); store: "
                              f"{100 * iv['store']['kept_share']:.1f} %"),
        ("gaps between polls", f"server {iv['server']['gap_s']}; store {iv['store']['gap_s']}"),
        ("CPU per poll", f"{out['cpu_ms_per_poll']:.1f} ms ({out['cpu_s']:.1f} CPU-s over "
                         f"{out['rounds_finished']} rounds finished, {out['cores_busy']:.2f} cores busy): "
                         f"daemon process {out['daemon_cpu_ms_per_poll']:.1f} ms, service and workers "
                         f"{out['service_cpu_ms_per_poll']:.1f} ms; feed server {out['server_cpu_s']:.1f} s"),
        ("daemon", f"exit {out['daemon_exit']}, service restarts {out['service_restarts']}, "
                   f"processes left {out['left_running']}, fd errors {out['fd_errors']}"),
    ]
    memory = out["memory"]
    for key in ("daemon_pss", "service_pss"):
        if key in memory:
            m = memory[key]
            cycles = "" if "cycle_mean_growth" not in m else (
                f"; first and last whole interval: mean {m['cycle_first_mean_mb']:.0f} -> "
                f"{m['cycle_last_mean_mb']:.0f} MB ({100 * m['cycle_mean_growth']:+.1f} %), peak "
                f"{m['cycle_first_peak_mb']:.0f} -> {m['cycle_last_peak_mb']:.0f} MB "
                f"({100 * m['cycle_peak_growth']:+.1f} %)")
            rows.append((key.replace("_pss", " PSS"),
                         f"{m['first_mb']:.0f} MB after warm-up -> {m['last_mb']:.0f} MB at the end "
                         f"(peak {m['peak_mb']:.0f} MB): growth {100 * m['growth']:+.1f} %, peak "
                         f"{100 * m['peak_growth']:+.1f} %{cycles}"))
    if out["log_warnings"]:
        rows.append(("log warnings", out["log_warnings"]))
    report(f"daemon, {out['sources']} sources every {out['every']}", rows)


# -- part 3: a restart with every source overdue ------------------------------------------------


def part_restart(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"sources": args.sources, "every": args.every or "auto (every_min 5m)"}
    with contextlib.ExitStack() as stack:
        portal = PortalProcess(folder, args)
        stack.callback(portal.stop)
        config, out["first"] = fill_store(portal, folder, args, args.every)
        env = env_for(ROOT)
        before = Watched(newswatch(config, "run"), folder, "daemon-before", env, 5.0)
        time.sleep(args.before)
        out["stop_before"] = before.stop()["exit_code"]
        overdue = datetime.now(UTC) - timedelta(days=1)
        with contextlib.closing(sqlite3.connect(folder / "newswatch.db", timeout=30)) as db:
            db.execute("update sources set last_run_at = ?",
                       (overdue.replace(tzinfo=None).isoformat(" ", "microseconds"),))
            db.commit()
        print("restart with every source overdue…", file=sys.stderr)
        load_start = os.getloadavg()
        daemon = Watched(newswatch(config, "run"), folder, "daemon", env, 5.0)
        stack.callback(lambda: daemon.stop() if daemon.child.poll() is None else None)
        t0 = daemon.started
        polled: dict[str, float] = {}
        while time.time() - t0 < args.restart_timeout and daemon.child.poll() is None:
            time.sleep(5)
            for r in runs(folder, t0):
                polled.setdefault(r["source"], r["started"])
            if len(polled) >= args.sources:
                break
        t_all = time.time()
        cpu = daemon.cpu_now()
        stopped = daemon.stop()
        load_end = os.getloadavg()
        for r in runs(folder, t0):
            polled.setdefault(r["source"], r["started"])
        hits = portal.hits(t0, t_all)
        first_feed: dict[int, float] = {}
        for at, source, kind, _ in hits:
            if kind == "feed":
                first_feed.setdefault(source, at)
        delays = [at - t0 for at in polled.values()]
        log = (folder / "daemon.err").read_text("utf-8", errors="replace")
        said = re.findall(r"(\d+) sources are due: polled over the next ([\d:.]+)", log)
        out.update({
            "load_start": load_start, "load_end": load_end, "exit": stopped["exit_code"],
            "polled": len(polled), "all_polled": len(polled) >= args.sources,
            "seconds_to_all": max(delays) if len(polled) >= args.sources else None,
            "polled_after_s": percentiles(delays, (10, 50, 90, 100)),
            "server_feeds_polled": len(first_feed),
            "server_first_request_s": percentiles([at - t0 for at in first_feed.values()], (10, 50, 90, 100)),
            "daemon_said": said, "cpu_s": cpu, "server": summarise_hits(hits),
            "statuses": dict(Counter(r["status"] for r in runs(folder, t0))),
        })
    return out


def print_restart(out: dict[str, Any]) -> None:
    rows = [
        ("setup", f"{out['sources']} sources, every {out['every']}; daemon stopped, last_run_at set a day "
                  f"back, daemon started; load {load_text(out['load_start'])} -> "
                  f"{load_text(out['load_end'])}"),
        ("the daemon said", out["daemon_said"]),
        ("polled", f"{out['polled']} of {out['sources']} (feeds requested at the server: "
                   f"{out['server_feeds_polled']})"),
        ("time until all polled", f"{out['seconds_to_all']} s after the daemon started; rounds started "
                                  f"after {out['polled_after_s']} s"),
        ("statuses", out["statuses"]),
        ("CPU", f"{out['cpu_s']:.1f} s for the daemon, its service and workers"),
        ("target", "all within 5 min (300 s): "
                   + ("PASS" if (out["seconds_to_all"] or 1e9) <= 300 else "FAIL")),
    ]
    report("restart with every source overdue", rows)


# -- part 4: 1,024 open files -------------------------------------------------------------------


def part_nofile(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    limit = args.limit
    out: dict[str, Any] = {"sources": args.sources, "limit": limit}
    with contextlib.ExitStack() as stack:
        portal = PortalProcess(folder, args)
        stack.callback(portal.stop)
        config, first = fill_store(portal, folder, args, "1m", nofile=limit)
        out["first"] = first
        second = crawl_round(portal, folder, config, env_for(ROOT), "unchanged", args, nofile=limit)
        out["unchanged"] = second
        if args.daemon_minutes:
            print(f"daemon under the limit for {args.daemon_minutes} min…", file=sys.stderr)
            daemon = Watched(newswatch(config, "run"), folder, "daemon", env_for(ROOT), 2.0, nofile=limit)
            stack.callback(lambda: daemon.stop() if daemon.child.poll() is None else None)
            t0 = daemon.started
            time.sleep(args.daemon_minutes * 60)
            stopped = daemon.stop()
            rounds = runs(folder, t0)
            out["daemon"] = {
                "exit": stopped["exit_code"], "rounds": len(rounds),
                "statuses": dict(Counter(r["status"] for r in rounds)),
                "peak_service_fds": max((s["service_fds"] for s in daemon.samples), default=0),
                "peak_fds": max((s["fds"] for s in daemon.samples), default=0),
                "service_restarts": _count(folder / "daemon.err", "restarting the crawl service"),
                "fd_errors": fd_errors(folder / "daemon.err"),
                "log_warnings": _warnings(folder / "daemon.err"),
            }
        with contextlib.closing(sqlite3.connect(folder / "newswatch.db", timeout=30)) as db:
            out["runs_with_fd_error"] = db.execute(
                "select count(*) from crawl_runs where error like '%open files%' or error like '%EMFILE%' "
                "or error like '%Errno 24%'").fetchone()[0]
            out["runs"] = dict(db.execute("select status, count(*) from crawl_runs group by status")
                               .fetchall())
        out["fd_errors_in_logs"] = fd_errors(*folder.glob("*.err"))
    return out


def print_nofile(out: dict[str, Any]) -> None:
    first, second = out["first"], out["unchanged"]
    rows: list[tuple[str, Any]] = [
        ("first crawl", f"{first['wall_s']:.1f} s, exit {first['exit_code']}, {first['statuses']}, peak "
                        f"open descriptors of one process {first['peak_fds']}, load "
                        f"{load_text(first['load_start'])}"),
        ("unchanged round", f"{second['wall_s']:.1f} s, exit {second['exit_code']}, {second['statuses']}, "
                            f"peak descriptors {second['peak_fds']}"),
    ]
    if "daemon" in out:
        d = out["daemon"]
        rows.append(("daemon", f"exit {d['exit']}, {d['rounds']} rounds {d['statuses']}, peak descriptors of "
                               f"the service {d['peak_service_fds']}, service restarts "
                               f"{d['service_restarts']}"))
    rows += [("'too many open files'", f"{out['fd_errors_in_logs']} log lines, {out['runs_with_fd_error']} "
                                       f"crawl_runs.error; all runs {out['runs']}"),
             ("target", "no 'too many open files': " + ("PASS" if not out["fd_errors_in_logs"]
                                                        and not out["runs_with_fd_error"] else "FAIL"))]
    report(f"{out['sources']} sources under a {out['limit']} open-file limit", rows)


# -- part 5 and 6: a first crawl's CPU per stored article, and the second crawl -----------------


def part_first(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """crawl_benchmark.py on the 51 KB portal and on a lean one (about 16 KB pages)."""
    sys.path.insert(0, str(HERE))
    from portal_gen import generate

    out: dict[str, Any] = {}
    for label, lean in (("51KB", False), ("16KB", True)):
        if label not in args.portals:
            continue
        for n in range(args.repeat):
            portal = folder / f"portal-{label}"
            if not portal.exists():
                generate(portal, lean=lean)
            figures = folder / f"{label}-{n + 1}.json"
            command = [sys.executable, str(HERE / "crawl_benchmark.py"), "--portal", str(portal), "--dir",
                       str(folder / f"crawl-{label}-{n + 1}"), "--json", str(figures)]
            if args.extract_workers is not None:
                command += ["--extract-workers", str(args.extract_workers)]
            if args.setting:
                command += ["--crawl-command", " ".join(
                    ["{python}", str(Path(__file__).resolve()), "_crawl", "{config}"]
                    + [f"--setting {shlex.quote(kv)}" for kv in args.setting])]
            load = os.getloadavg()
            print(f"crawl_benchmark on the {label} portal, run {n + 1}…", file=sys.stderr)
            done = subprocess.run(command, env=env_for(ROOT), timeout=args.timeout, capture_output=True,
                                  text=True)
            (folder / f"{label}-{n + 1}.txt").write_text(done.stdout + done.stderr, "utf-8")
            if done.returncode != 0 or not figures.exists():
                print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
                out[f"{label}-{n + 1}"] = {"exit_code": done.returncode}
                continue
            data = json.loads(figures.read_text("utf-8"))
            out[f"{label}-{n + 1}"] = first_figures(data, load)
    return out


def first_figures(data: dict[str, Any], load: Any) -> dict[str, Any]:
    first, alone, fig = data["first"], data["alone"], data["figures"]
    stored = fig["first_articles_stored"]
    pages = alone["pages"]
    tra_cpu_page = alone["trafilatura"]["cpu_s"] / pages
    # The same with every core busy, as the crawl's are: a second view, not the target's measure.
    busy_cpu_page = alone["trafilatura_all_cores"]["cpu_s"] / pages
    crawl_cpu_article = first["cpu_s"] / stored
    return {
        "portal_kb_mean": data["portal"]["article_kb_mean"], "article_pages": pages, "stored": stored,
        "first_wall_s": first["wall_s"], "first_cpu_s": first["cpu_s"],
        "cpu_ms_per_stored_article": 1000 * crawl_cpu_article,
        "trafilatura_cpu_ms_per_page": 1000 * tra_cpu_page,
        "ratio": crawl_cpu_article / tra_cpu_page,
        "trafilatura_busy_cpu_ms_per_page": 1000 * busy_cpu_page,
        "ratio_busy": crawl_cpu_article / busy_cpu_page,
        "peak_memory_mb": fig["first_peak_rss_mb"],
        "second_wall_s": fig["second_wall_s"], "second_share": fig["second_wall_share"],
        "second_article_pages": fig["second_article_pages_fetched"],
        "second_requests": fig["second_requests"],
        "second_index_status": fig["second_index_status"],
        "load_start": load, "load_end": data["machine"].get("load_average_end"),
    }


def print_first(out: dict[str, Any]) -> None:
    rows = []
    for label, f in out.items():
        if "ratio" not in f:
            rows.append((label, f"failed: exit {f.get('exit_code')}"))
            continue
        rows.append((label, f"{f['portal_kb_mean']} KB pages: first crawl {f['first_wall_s']:.1f} s, "
                            f"{f['first_cpu_s']:.1f} CPU-s, {f['stored']} stored = "
                            f"{f['cpu_ms_per_stored_article']:.1f} ms per stored article; trafilatura alone "
                            f"{f['trafilatura_cpu_ms_per_page']:.1f} ms per page; ratio {f['ratio']:.2f} "
                            f"(target <= 2.0, moonshot 1.5); against trafilatura on every core "
                            f"({f['trafilatura_busy_cpu_ms_per_page']:.1f} ms) {f['ratio_busy']:.2f}; "
                            f"peak memory {f['peak_memory_mb']:.0f} MB; "
                            f"second crawl {f['second_wall_s']:.2f} s = {100 * f['second_share']:.1f} %, "
                            f"{f['second_article_pages']} article pages, index {f['second_index_status']}; "
                            f"load {load_text(f['load_start'])}"))
    report("first crawl: CPU per stored article vs trafilatura; second crawl", rows)


def crawl_with_settings(config_path: Path, settings: list[str]) -> int:
    """`newswatch crawl --format json` with Scrapy settings changed (to find what bounds a crawl)."""
    from crawler.config import load_config
    from crawler.logs import setup_logging
    from crawler.service import crawl_once

    setup_logging(verbose=False)
    extra = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        extra[name] = json.loads(value)
    results = crawl_once(load_config(config_path), **extra)
    print(json.dumps([r.to_json() for r in results], default=str))
    return 0


# -- main ---------------------------------------------------------------------------------------

PARTS = {"feeds": (part_feeds, print_feeds), "daemon": (part_daemon, print_daemon),
         "memory": (part_daemon, print_daemon), "restart": (part_restart, print_restart),
         "nofile": (part_nofile, print_nofile), "first": (part_first, print_first)}


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = main.add_subparsers(dest="part", required=True)

    def common(p: argparse.ArgumentParser, sources: bool = True) -> None:
        p.add_argument("--dir", type=Path, help="work folder (kept); default: a temporary one")
        p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
        p.add_argument("--json", type=Path, help="also write the figures to this file")
        p.add_argument("--timeout", type=float, default=900, help="seconds for any one crawl")
        p.add_argument("--extract-workers", type=int, help="crawl.extract_workers (default: the config's)")
        if not sources:
            return
        p.add_argument("--sources", type=int, default=1000)
        p.add_argument("--hosts", type=int, default=1000,
                       help="loopback addresses the feeds are spread over (1: all on 127.0.0.1)")
        p.add_argument("--items", type=int, default=3, help="items per feed")
        p.add_argument("--article-bytes", type=int, default=3000, help="text bytes per article page")
        p.add_argument("--seed", type=int, default=12)
        p.add_argument("--keepalive", type=float, default=75.0,
                       help="seconds the server keeps an idle connection (nginx's default)")
        p.add_argument("--per-domain", type=int, default=16, help="crawl.concurrency_per_domain")
        p.add_argument("--concurrency", type=int, default=64, help="crawl.concurrency")
        p.add_argument("--parallel", type=int, default=64, help="crawl.parallel_rounds")
        p.add_argument("--no-robots", action="store_true", help="crawl.obey_robots = false")

    feeds = sub.add_parser("feeds", help="1,000 unchanged feeds, one round; and the per-process code")
    common(feeds)
    feeds.add_argument("--repeat", type=int, default=2, help="unchanged rounds to measure")
    feeds.add_argument("--old-sample", type=int, default=50, help="polls of the old code (0: none)")
    feeds.add_argument("--old-parallel", type=int, default=2, help="old-code polls at once")
    feeds.add_argument("--old-tree", type=Path, default=Path("/work/wt-old"))
    feeds.add_argument("--old-commit", default=OLD_COMMIT)
    feeds.add_argument("--py-spy", action="store_true",
                       help="profile the unchanged rounds with py-spy (pip install py-spy); not timed")
    for name, every, minutes, sample, warmup in (("daemon", "1m", 6.0, 5.0, 60.0),
                                                 ("memory", "5m", 30.0, 30.0, 300.0)):
        p = sub.add_parser(name, help=f"the daemon, every source every {every}, {minutes:.0f} minutes")
        common(p)
        p.add_argument("--every", default=every)
        p.add_argument("--minutes", type=float, default=minutes)
        p.add_argument("--sample", type=float, default=sample, help="seconds between /proc samples")
        p.add_argument("--warmup", type=float, default=60.0,
                       help="seconds after the start left out of the poll and CPU figures")
        p.add_argument("--memory-warmup", type=float, default=warmup,
                       help="seconds after the start left out of the memory growth")
        p.add_argument("--tolerance", type=float, default=0.2,
                       help="a gap within interval x (1 +- this) keeps the interval")
        p.add_argument("--nofile", type=int, help="open-file limit of the daemon and its service")
        p.add_argument("--py-spy", action="store_true",
                       help="profile daemon and service after the warm-up (pip install py-spy)")
    restart = sub.add_parser("restart", help="a restart with every source overdue")
    common(restart)
    restart.add_argument("--every", default=None, help="every sources' interval (default: auto)")
    restart.add_argument("--before", type=float, default=30.0, help="seconds the daemon runs before")
    restart.add_argument("--restart-timeout", type=float, default=480.0)
    nofile = sub.add_parser("nofile", help="crawl and daemon under an open-file limit")
    common(nofile)
    nofile.add_argument("--limit", type=int, default=1024)
    nofile.add_argument("--daemon-minutes", type=float, default=3.0)
    first = sub.add_parser("first", help="a first crawl's CPU per stored article vs trafilatura")
    common(first, sources=False)
    first.add_argument("--portals", nargs="+", default=["51KB", "16KB"], choices=["51KB", "16KB"])
    first.add_argument("--repeat", type=int, default=1)
    first.add_argument("--setting", action="append", metavar="NAME=JSON",
                       help="crawl with this Scrapy setting changed (crawl_once's extra settings), e.g. "
                            "AUTOTHROTTLE_ENABLED=false: to find what bounds a crawl, not a figure")
    crawl = sub.add_parser("_crawl")
    crawl.add_argument("config", type=Path)
    crawl.add_argument("--setting", action="append", default=[])
    serve = sub.add_parser("serve", help="serve the feeds until Ctrl-C")
    serve_internal = sub.add_parser("_serve")
    for p in (serve, serve_internal):
        p.add_argument("--sources", type=int, default=1000)
        p.add_argument("--hosts", type=int, default=1000)
        p.add_argument("--items", type=int, default=3)
        p.add_argument("--article-bytes", type=int, default=3000)
        p.add_argument("--seed", type=int, default=12)
        p.add_argument("--keepalive", type=float, default=75.0)
        p.add_argument("--hits", default=os.devnull)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.part == "_crawl":
        return crawl_with_settings(args.config, args.setting)
    if args.part in ("_serve", "serve"):
        if args.part == "serve":
            _raise_nofile()
            print("serving; the first line below has every feed URL; Ctrl-C stops", file=sys.stderr)
        return serve_main(args)
    info = machine()
    folder = args.dir or Path(tempfile.mkdtemp(prefix=f"newswatch-{args.part}-"))
    folder.mkdir(parents=True, exist_ok=True)
    run, show = PARTS[args.part]
    old_handler = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        out = run(args, folder)
        info["load_average_end"] = os.getloadavg()
        print(f"\nmachine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; Python "
              f"{info['python']}; commit {info['commit']}; load average at start "
              f"{load_text(info['load_average'])}, at end {load_text(info['load_average_end'])}")
        show(out)
        if args.json:
            given = {k: str(v) for k, v in vars(args).items()}
            args.json.write_text(json.dumps({"machine": info, "args": given, "figures": out}, indent=1,
                                            default=str), "utf-8")
        return 0
    finally:
        signal.signal(signal.SIGTERM, old_handler)
        if args.keep or args.dir:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
