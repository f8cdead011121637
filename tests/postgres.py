"""A private PostgreSQL server for the tests: initdb into a temporary folder, started on a free port.

Never one assumed to be there: each test process (each xdist worker) starts its own on first use,
from Debian's binaries (on PATH or under /usr/lib/postgresql/*/bin), and stops it when the session
ends. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
(`runuser`), its folder owned by that user. Durability is off (fsync, full-page writes): a crash
loses only a test database, and every commit is cheaper.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "postgres"  # Debian's package creates it; the server runs as it when we are root
_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": "200",  # a daemon test holds a few pools at once
    "log_min_messages": "warning",
}


class PostgresUnavailable(Exception):
    """No server could be started here; the message says why and what to install."""


def find_binaries() -> Path:
    """The folder holding initdb and pg_ctl: from PATH, else the newest Debian version's."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda path: [int(n) for n in re.findall(r"\d+", path.parent.name)])
    for folder in reversed(versions):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable("no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin; "
                              "install PostgreSQL (apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One private server; create_database() hands out fresh, empty databases on it."""

    def __init__(self) -> None:
        self.bin = find_binaries()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root, and PostgreSQL refuses to: there is no {SERVER_USER!r} "
                    "user to run it as (Debian's postgresql package creates one)") from None
            self.as_user = ["runuser", "-u", SERVER_USER, "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="newswatch-pg-"))
        self.port = 0
        self._names = itertools.count(1)
        self._started = False

    def _run(self, *command: str, timeout: float = 60) -> None:
        result = subprocess.run([*self.as_user, *command], capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{Path(command[0]).name} failed ({result.returncode}): "
                                      f"{(result.stderr or result.stdout).strip()}\n{tail}".strip())

    def start(self) -> PostgresServer:
        if self.as_user:
            shutil.chown(self.folder, SERVER_USER)
        data = self.folder / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        for attempt in range(3):  # another process may take the free port before the server does
            self.port = _free_port()
            try:
                self.resume()
                break
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        self._started = True
        return self

    def resume(self) -> None:
        """Start the server on its port (again, after `halt`)."""
        options = " ".join(f"-c {key}={value}" for key, value in
                           {**_SETTINGS, "port": self.port,
                            "unix_socket_directories": self.folder}.items())
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-l",
                  str(self.folder / "server.log"), "-o", options, "-w", "-t", "60", "start")

    def halt(self) -> None:
        """Stop the server, keeping its data: an outage, until `resume`."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w",
                  "stop")

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m",
                          "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)  # type: ignore[arg-type]

    def create_database(self, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); returns its SQLAlchemy URL.

        FILE_COPY copies the template's files, where PostgreSQL 15's default writes every block
        of it to the WAL: with fsync off, the copy is the cheaper of the two.
        """
        name = f"nw_{next(self._names)}"
        source = template or "template1"
        # A template may have no other session open; a test's leftover pool does not count.
        self._admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{source}' AND pid <> pg_backend_pid()",
                    f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY')
        return self.url(name)

    def copy_database(self, url: str) -> str:
        """A new database with what the database at `url` (on this server) holds now."""
        return self.create_database(template=url.rsplit("/", 1)[1])
