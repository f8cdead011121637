"""Reading at 1M stored articles: `matches --search`, a `matches --since 30d` page and
`digest --preview`, each in a fresh process, with wall time and peak memory, on SQLite and
PostgreSQL.

For each engine, a fresh database gets a year of news (reading_data.py: 1M articles of 2-4 KB,
Korean and English, in stories across 40 sources, ~15% matched to one of three topics, a sent
digest a day of that day's 50 best stories) by bulk Core inserts at schema 0003; migration
0004 then builds the search index over the stored rows (timed: what an upgrade costs). Then
each command runs three times, each in a fresh process under a small wrapper that reaps it with
wait4 for its own peak RSS (a child forked from a big process would inherit its high-water
mark). "query" is the same command's second run inside one process (CliRunner): the time of the
query and the rendering without Python's start and imports. "before" runs the query functions
of the revision given by --before (pipelines/storage/queries.py as it was) the way the commands
did, one fresh process each.

PostgreSQL 15 runs in a temporary cluster (initdb with a UTF-8 locale, which pg_trgm needs to see
Hangul as letters), started and stopped by this script, as the postgres user when run as root.

    python benchmarks/reading.py                              # both engines, 1M rows
    python benchmarks/reading.py --engine sqlite --rows 100000 --skip-before
    python benchmarks/reading.py --dir /tmp/rd --keep          # keep the databases, then
    python benchmarks/reading.py --dir /tmp/rd --reuse         # measure them again
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
RUNS = 3
WRAPPER = r"""
import json, os, subprocess, sys, tempfile, time
with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    started = time.perf_counter()
    child = subprocess.Popen(sys.argv[2:], stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    out.seek(0)
    err.seek(0)
    json.dump({"code": os.waitstatus_to_exitcode(status), "wall": wall,
               "rss_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime,
               "stdout": out.read().decode(errors="replace")[-400000:],
               "stderr": err.read().decode(errors="replace")[-3000:]}, open(sys.argv[1], "w"))
"""
# The second run of a command in one process: the query and rendering, not Python's start.
IN_PROCESS = r"""
import json, sys, time
from click.testing import CliRunner
from scheduler import cli
args = sys.argv[1:]
times = []
for _ in range(2):
    started = time.perf_counter()
    result = CliRunner().invoke(cli, args, obj={})
    times.append(time.perf_counter() - started)
    if result.exit_code:
        raise SystemExit(result.output)
print(json.dumps(times))
"""
# The query functions as they were: the whole matched set loaded, folded in Python.
BEFORE = r"""
import importlib.util, json, resource, sys, time
from datetime import UTC, datetime, timedelta
from sqlalchemy import select
source, url, what, arg = sys.argv[1:5]
spec = importlib.util.spec_from_loader("old_queries", loader=None)
old = importlib.util.module_from_spec(spec)
exec(compile(open(source, encoding="utf-8").read(), "old_queries.py", "exec"), old.__dict__)
from pipelines.storage.models import DigestItem
from pipelines.storage.store import Store
store = Store(url)
started = time.perf_counter()
with store.session() as session:
    if what == "digest":
        taken = {(r.story_id, r.topic)
                 for r in session.execute(select(DigestItem.story_id, DigestItem.topic))}
        rows = [r for r in old.story_matches(session, unsent_only=True)
                if (r.story_id, r.topic) not in taken]
        rows.sort(key=lambda r: (-r.score, r.first_seen))
    else:
        since = datetime.now(UTC) - timedelta(days=int(arg if what == "since" else 7))
        rows = old.story_matches(session, since=since, search=arg if what == "search" else None)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(rows),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(command: list[str], folder: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run `command` under the wait4 wrapper; its wall time, CPU time, peak RSS and output."""
    out = folder / "measure.json"
    subprocess.run([sys.executable, "-S", "-c", WRAPPER, str(out), *command], check=True, env=env,
                   cwd=folder)
    result = json.loads(out.read_text())
    if result["code"] != 0:
        raise SystemExit(f"{' '.join(command)} exited {result['code']}:\n{result['stderr']}")
    return result


@contextlib.contextmanager
def postgres(folder: Path) -> Iterator[str]:
    """A temporary PostgreSQL 15 cluster in `folder`; yields its URL, stops it at the end."""
    data = folder / "pgdata"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder.mkdir(parents=True, exist_ok=True)
    if as_postgres:
        shutil.chown(folder, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fresh = not data.exists()
    if fresh:
        subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust",
                        "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"], check=True,
                       stdout=subprocess.DEVNULL)
    # fsync off only speeds up the load; nothing measured writes.
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB "
               "-c maintenance_work_mem=1GB -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_wal_size=8GB -c autovacuum=off")
    subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l",
                    str(folder / "server.log"), "-o", options, "-w", "start"], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        if fresh:
            subprocess.run([*as_postgres, str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p",
                            str(port), "-U", "postgres", "newswatch"], check=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/newswatch"
    finally:
        subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], check=False, stdout=subprocess.DEVNULL)


def write_config(folder: Path, url: str) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from reading_data import source_names  # SQLAlchemy stays out of this process

    lines = ["[database]", f'url = "{url}"', ""]
    for name, lang in source_names():
        lines += ["[[sources]]", f'name = "{name}"', f'feed = "https://{name}.example/rss"',
                  f'language = "{lang}"', ""]
    path = folder / "newswatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_engine(engine: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    report: dict[str, Any] = {"engine": engine, "rows": args.rows}
    with contextlib.ExitStack() as stack:
        if engine == "sqlite":
            url = f"sqlite:///{folder / 'newswatch.db'}"
        else:
            url = stack.enter_context(postgres(folder / "pg"))
        config = write_config(folder, url)
        if args.reuse:
            print(f"[{engine}] measuring the database kept in {folder}", flush=True)
            report["commands"] = _commands(config, args, folder, env)
            return report
        print(f"[{engine}] generating {args.rows:,} articles at schema 0003 …", flush=True)
        generated = measure([sys.executable, str(ROOT / "benchmarks" / "reading_data.py"), url,
                             str(args.rows), str(args.seed)], folder, env)
        report["generate"] = {"wall": generated["wall"], "rss_mb": generated["rss_mb"],
                              **json.loads(generated["stdout"].splitlines()[-1])}
        report["size_before"] = _sizes(url, env)
        print(f"[{engine}] migration 0004 (search index over the stored articles) …", flush=True)
        migrated = measure([sys.executable, "-c", "import sys; from pipelines.storage.store "
                            "import Store; Store(sys.argv[1]).migrate()", url], folder, env)
        report["migrate"] = {"wall": migrated["wall"], "rss_mb": migrated["rss_mb"],
                             "log": migrated["stderr"].strip()[-500:]}
        if engine == "postgresql":
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import sys; from sqlalchemy import create_engine;"
                            "e = create_engine(sys.argv[1], isolation_level='AUTOCOMMIT');"
                            "e.connect().exec_driver_sql('VACUUM ANALYZE')", url], check=True, env=env)
            report["vacuum_analyze"] = time.perf_counter() - started
        report["size_after"] = _sizes(url, env)
        report["commands"] = _commands(config, args, folder, env)
        if not args.skip_before:
            report["before"] = _before(url, args, folder, env)
    return report


def _commands(config: Path, args: argparse.Namespace, folder: Path,
              env: dict[str, str]) -> dict[str, Any]:
    cases = {"start-up (matches --help)": ["matches", "--help"],
             "matches --since 30d (a page)": ["matches", "--since", "30d"],
             "digest --preview": ["digest", "--preview"]}
    for word in args.words:
        # A page of results, as the table shows (JSON without --limit streams every match).
        cases[f"matches --search {word}"] = ["matches", "--search", word, "--format", "json",
                                             "--limit", "50"]
        cases[f"matches --search {word} --since 365d"] = [
            "matches", "--search", word, "--since", "365d", "--format", "json", "--limit", "50"]
    results = {}
    for name, command in cases.items():
        full = [sys.executable, "-m", "scheduler", "--config", str(config), *command]
        runs = [measure(full, folder, env) for _ in range(RUNS)]
        warm = json.loads(subprocess.run(
            [sys.executable, "-c", IN_PROCESS, "--config", str(config), *command], check=True,
            env=env, capture_output=True, text=True, cwd=folder).stdout)
        out = runs[-1]["stdout"]
        results[name] = {
            "wall": [round(r["wall"], 3) for r in runs], "rss_mb": max(r["rss_mb"] for r in runs),
            "cpu": [round(r["cpu"], 3) for r in runs], "query": round(warm[1], 3),
            "rows": len(json.loads(out)) if "--format" in command and out.strip() else None,
            "stderr": runs[-1]["stderr"].strip()[-300:], "tail": out.strip().splitlines()[-1:]}
        print(f"  {name}: {results[name]['wall']} s, {results[name]['rss_mb']:.0f} MB, "
              f"query {results[name]['query']} s", flush=True)
    return results


def _before(url: str, args: argparse.Namespace, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    source = folder / "old_queries.py"
    source.write_text(subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{args.before}:pipelines/storage/queries.py"],
        check=True, capture_output=True, text=True).stdout, encoding="utf-8")
    results = {}
    for name, what, arg in [("matches --since 30d", "since", "30"),
                            ("digest --preview (choosing)", "digest", "-"),
                            (f"matches --search {args.words[0]}", "search", args.words[0])]:
        done = measure([sys.executable, "-c", BEFORE, str(source), url, what, arg], folder, env)
        results[name] = {**json.loads(done["stdout"]), "wall": done["wall"],
                         "rss_mb": done["rss_mb"]}
        print(f"  before: {name}: {results[name]['seconds']:.1f} s, {done['rss_mb']:.0f} MB",
              flush=True)
    return results


def _sizes(url: str, env: dict[str, str]) -> dict[str, Any]:
    """Bytes on disk: the whole database, and on PostgreSQL the trigram indexes (SQLite's FTS5
    index is the growth of the file in migration 0004: dbstat would read all of it)."""
    code = r"""
import json, sys
from sqlalchemy import create_engine
engine = create_engine(sys.argv[1])
with engine.connect() as c:
    if engine.dialect.name == "sqlite":
        size = c.exec_driver_sql("SELECT page_count * page_size "
                                 "FROM pragma_page_count(), pragma_page_size()").scalar()
        index = None
    else:
        size = c.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        index = c.exec_driver_sql(
            "SELECT sum(pg_relation_size(oid)) FROM pg_class "
            "WHERE relname IN ('ix_articles_title_trgm', 'ix_articles_text_trgm')").scalar()
print(json.dumps({"database_gb": float(size) / 1e9, "search_index_gb": index and float(index) / 1e9}))
"""
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                          env=env)
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-300:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    # From common to none, in the generated texts: 반도체 39 %, semiconductor 7 %, 리벨리온 6 %,
    # 국회 3.5 % (2 characters: no trigram), vaccine 2.5 % (one in forty: where a first walk of
    # 2,000 matches comes up short of a page of 50), NYU in none.
    parser.add_argument("--words", nargs="+",
                        default=["리벨리온", "semiconductor", "반도체", "국회", "vaccine", "NYU"],
                        help="search words, each for the default week and with --since 365d")
    parser.add_argument("--before", default="e1486fa",
                        help="the revision whose queries.py 'before' runs (default: the one before "
                             "reading scaled)")
    parser.add_argument("--skip-before", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="work here (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the folder and the databases")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the databases a --keep run left in --dir, generating nothing")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    if args.reuse and not args.dir:
        parser.error("--reuse needs the --dir of a run made with --keep")
    args.keep = args.keep or args.reuse
    folder = args.dir or Path(tempfile.mkdtemp(prefix="nw-reading-"))
    folder.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(),
               "load_average": os.getloadavg(), "platform": platform.platform()}
    print(json.dumps(machine), flush=True)
    reports = []
    try:
        for engine in (("sqlite", "postgresql") if args.engine == "both" else (args.engine,)):
            started = time.perf_counter()
            sub = folder / engine
            sub.mkdir(exist_ok=True)
            report = run_engine(engine, args, sub)
            report["seconds"] = time.perf_counter() - started
            report["load_average_after"] = os.getloadavg()
            reports.append(report)
            print(json.dumps(report, ensure_ascii=False, indent=1, default=str), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "engines": reports},
                                        ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
