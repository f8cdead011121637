"""The web view at size: the matches page and a search with 100k stored articles on SQLite.

A fresh SQLite database gets a year of news from reading_data.py (100k articles by default,
about 15% matching a topic), migrated to the newest schema (the search index included); then
`newswatch web` serves it on 127.0.0.1 and each page is fetched over HTTP, as a browser would,
several times after one warm-up. Prints the machine and, per page, the median, p95 and worst
wall time of the whole request (server, template and transfer); the target is < 200 ms.

    python benchmarks/web_benchmark.py                 # 100k articles, about 2 minutes
    python benchmarks/web_benchmark.py --rows 20000 --repeat 5   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

TARGET_MS = 200.0


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path(
        "/proc/cpuinfo").exists() else platform.processor()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "system": platform.platform(), "load_1min": load}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(folder: Path, url: str, port: int) -> Path:
    from reading_data import source_names

    lines = ["[database]", f'url = "{url}"', "", "[web]", f"port = {port}", ""]
    for name, lang in source_names():
        lines += ["[[sources]]", f'name = "{name}"', f'feed = "https://{name}.example/rss"',
                  f'language = "{lang}"', ""]
    path = folder / "newswatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _fetch(url: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
        status = response.status
    return (time.perf_counter() - started) * 1000, status, len(body)


def _pages(article_id: int) -> dict[str, str]:
    return {
        "matches (default: 7 days)": "/matches",
        "matches, a year": "/matches?since=365d",
        "matches, a year, page 20": "/matches?since=365d&page=20",
        "matches, one source and topic": "/matches?since=365d&source=ko-03&topic=ai-research-policy",
        "search 반도체 (Korean), 30 days": "/matches?since=30d&search=%EB%B0%98%EB%8F%84%EC%B2%B4",
        "search semiconductor, a year": "/matches?since=365d&search=semiconductor",
        "search 국회, 7 days": "/matches?search=%EA%B5%AD%ED%9A%8C",
        "/api/matches, 30 days, 50 rows": "/api/matches?since=30d&limit=50",
        "an article": f"/articles/{article_id}",
        "sources (with 28-day charts)": "/sources",
        "digests": "/digests",
    }


def run(rows: int, repeat: int, folder: Path, seed: int) -> dict[str, Any]:
    from reading_data import generate

    from pipelines.storage.store import Store

    url = f"sqlite:///{folder / 'newswatch.db'}"
    report: dict[str, Any] = {"machine": machine(), "rows": rows, "repeat": repeat}
    if not (folder / "newswatch.db").exists():
        print(f"generating {rows:,} articles …", flush=True)
        started = time.perf_counter()
        report["generated"] = generate(url, rows, datetime.now(UTC), seed,
                                       progress=lambda line: print(line, flush=True))
        store = Store(url)
        store.migrate()  # 0004 builds the search index over the stored rows, 0005 the digest bodies
        store.engine.dispose()
        report["generate_seconds"] = round(time.perf_counter() - started, 1)
    port = _free_port()
    config = _config(folder, url, port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_WEB_")}
    server = subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "web"],
                              cwd=folder, env={**env, "PYTHONPATH": str(ROOT)},
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                _fetch(f"{base}/static/web.css")
                break
            except OSError:
                time.sleep(0.1)
        with urllib.request.urlopen(f"{base}/api/matches?since=30d&limit=1", timeout=60) as response:
            article_id = json.loads(response.read())[0]["id"]
        report["pages"] = {}
        for name, path in _pages(article_id).items():
            _fetch(base + path)  # warm: the first read of a page's rows comes from the disk
            times, size = [], 0
            for _ in range(repeat):
                took, status, size = _fetch(base + path)
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")
                times.append(took)
            times.sort()
            figures = {"median_ms": round(statistics.median(times), 1),
                       "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
                       "max_ms": round(times[-1], 1), "bytes": size}
            report["pages"][name] = figures
            verdict = "ok" if figures["median_ms"] < TARGET_MS else "SLOW"
            print(f"{name:<36} median {figures['median_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f}"
                  f"  max {figures['max_ms']:7.1f}  {size / 1024:6.1f} KB  {verdict}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="keep (and reuse) the database here")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    print(json.dumps(machine(), ensure_ascii=False), flush=True)
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        report = run(args.rows, args.repeat, args.dir, args.seed)
    else:
        with tempfile.TemporaryDirectory(prefix="newswatch-web-bench-") as folder:
            report = run(args.rows, args.repeat, Path(folder), args.seed)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    slow = [name for name, f in report["pages"].items() if f["median_ms"] >= TARGET_MS]
    print(f"{len(report['pages']) - len(slow)} of {len(report['pages'])} pages under "
          f"{TARGET_MS:.0f} ms at the median" + (f"; slow: {', '.join(slow)}" if slow else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
