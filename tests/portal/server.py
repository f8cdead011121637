"""A local news portal on 127.0.0.1 for end-to-end tests: serves tests/portal/pages/ over HTTP.

Standard library only. One `ThreadingHTTPServer` runs in a daemon thread; every request is logged
so tests can assert what a crawl fetched (and what it must not have fetched). See README.md for
the URL map.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from types import TracebackType

logger = logging.getLogger(__name__)

PAGES_DIR = Path(__file__).parent / "pages"
_CHUNK = 64 * 1024
_NOT_FOUND = (
    b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>404 Not Found</title></head>"
    b"<body><h1>404 Not Found</h1><p>No such page on the fixture portal.</p></body></html>\n"
)
_SERVER_ERROR = (
    b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>500 Internal Server Error</title>"
    b"</head><body><h1>500 Internal Server Error</h1></body></html>\n"
)


@dataclass
class RequestRecord:
    """One request the portal received.

    `status` is None while no response has been sent (a request still hanging on /fault/slow.xml,
    or one dropped by stop()). `bytes_sent` counts body bytes actually written, so a client that
    gives up on the 12 MB page shows fewer than the full size. Header names are lower-cased.
    """

    method: str
    path: str
    headers: dict[str, str]
    time: float
    status: int | None = None
    bytes_sent: int = 0
    duration: float | None = None


@dataclass
class PortalState:
    """Knobs a test may turn with Portal.set_state(); defaults are what a fresh portal serves."""

    feed_changed: bool = False  # /kr/rss.xml gains /kr/article/1007, with a new ETag
    etag_bug: bool = False  # /kr/rss.xml gains the item but keeps the old ETag/Last-Modified
    slow_delay: float = 30.0  # seconds /fault/slow.xml waits before answering
    flaky_failures: int = 1  # how many 500s /fault/flaky.xml serves before its 200s


@dataclass
class _Resource:
    url: str
    kind: str
    status: int
    content_type: str
    body: bytes
    ignore_query: bool
    behavior: str | None
    etag: str | None
    last_modified: str | None


@dataclass
class Reply:
    """What a test's own route answers (see Portal.route)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


_Reply = Reply
# A test's route: called with the requested path (query included) and the lower-cased headers.
Handler = Callable[[str, dict[str, str]], Reply]


class Portal:
    """The running fixture portal. Build it with start_portal()."""

    def __init__(self, root: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = root or PAGES_DIR
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._state = PortalState()
        self._flaky_served = 0
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._huge: bytes | None = None
        self._server = _Server((host, port), _Handler)
        self._server.portal = self
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        # The same server under another host name: a second "site" for cross-site tests.
        self.other_url = f"http://localhost:{bound_port}"
        self._extra: dict[str, Handler] = {}
        self._routes, self._variants = _load(self.root, self.url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"portal-{bound_port}", daemon=True,
        )
        self._stopped = False

    def start(self) -> Portal:
        self._thread.start()
        return self

    def url_for(self, path: str) -> str:
        """Absolute URL of a portal path, e.g. url_for("/kr/rss.xml")."""
        return self.url + path

    # -- request log -----------------------------------------------------------------------

    def requests(self) -> list[RequestRecord]:
        """Every request served so far (copies), oldest first."""
        with self._lock:
            return [replace(r, headers=dict(r.headers)) for r in self._log]

    def count(self, path_prefix: str = "", status: int | None = None) -> int:
        """How many logged requests have a path starting with `path_prefix` (and this status)."""
        with self._lock:
            return sum(
                1 for r in self._log
                if r.path.startswith(path_prefix) and (status is None or r.status == status)
            )

    def reset(self) -> None:
        """Clear the request log (state knobs are kept; see reset_state)."""
        with self._lock:
            self._log.clear()

    # -- state knobs -----------------------------------------------------------------------

    @property
    def state(self) -> PortalState:
        with self._lock:
            return replace(self._state)

    def set_state(self, **knobs: Any) -> None:
        """Turn knobs of PortalState, e.g. set_state(feed_changed=True, slow_delay=2)."""
        names = {f.name: f.type for f in fields(PortalState)}
        unknown = sorted(set(knobs) - set(names))
        if unknown:
            raise TypeError(f"unknown portal knob(s) {unknown}; known: {sorted(names)}")
        with self._lock:
            self._state = replace(self._state, **knobs)
            if "flaky_failures" in knobs:
                self._flaky_served = 0

    def reset_state(self) -> None:
        """Back to a fresh portal's behaviour: default knobs, flaky feed failing again, no test routes."""
        with self._lock:
            self._state = PortalState()
            self._flaky_served = 0
            self._extra.clear()

    # -- a test's own pages ----------------------------------------------------------------

    def serve(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
              status: int = 200, headers: dict[str, str] | None = None) -> str:
        """Serve `body` at `path` (exactly; query ignored) until reset_state(); returns its URL.

        `{base}` and `{other}` in the body become `url` and `other_url`, as in the fixture files.
        """
        raw = body.encode("utf-8") if isinstance(body, str) else body
        raw = raw.replace(b"{base}", self.url.encode()).replace(b"{other}", self.other_url.encode())
        reply = Reply(status, raw, {"Content-Type": content_type, **(headers or {})})
        return self.route(path, lambda _path, _headers: reply)

    def route(self, path: str, handler: Handler) -> str:
        """Answer requests for `path` (query ignored) with `handler`; returns the path's URL."""
        with self._lock:
            self._extra[path] = handler
        return self.url_for(path)

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving. Returns promptly even while a request hangs on /fault/slow.xml."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        # Idle keep-alive connections would otherwise keep their handler threads blocked
        # in readline() until the client goes away.
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _route(self, target: str) -> _Resource | None:
        split = urlsplit(target)
        full = split.path + (f"?{split.query}" if split.query else "")
        resource = self._routes.get(full)
        if resource is None and split.query:
            resource = self._routes.get(split.path)
            if resource is not None and not resource.ignore_query:
                resource = None
        return resource

    def _respond(self, target: str, headers: dict[str, str]) -> _Reply:
        with self._lock:
            handler = self._extra.get(urlsplit(target).path)
        if handler is not None:
            return handler(target, headers)
        resource = self._route(target)
        if resource is None:
            return _Reply(404, _NOT_FOUND, {"Content-Type": "text/html; charset=utf-8"})
        state = self.state
        if resource.behavior == "changing-feed" and (state.feed_changed or state.etag_bug):
            changed = self._variants[resource.url + "#changed"]
            # The bug being modelled: the server keeps the old validators after the content
            # changed, so a client that trusts its cached ETag never sees the new item.
            validators = resource if state.etag_bug else changed
            resource = replace(changed, etag=validators.etag,
                               last_modified=validators.last_modified)
        elif resource.behavior == "flaky":
            with self._lock:
                failing = self._flaky_served < state.flaky_failures
                self._flaky_served += failing
            if failing:
                return _Reply(500, _SERVER_ERROR, {"Content-Type": "text/html; charset=utf-8"})
        elif resource.behavior == "slow":
            if self._stopping.wait(state.slow_delay):
                return _Reply(0, drop=True)
        elif resource.behavior == "huge":
            resource = replace(resource, body=self._huge_body())

        reply_headers = {"Content-Type": resource.content_type}
        if resource.etag and resource.last_modified:
            reply_headers["ETag"] = resource.etag
            reply_headers["Last-Modified"] = resource.last_modified
            reply_headers["Cache-Control"] = "public, max-age=0, must-revalidate"
            if resource.status == 200 and _not_modified(headers, resource):
                return _Reply(304, b"", reply_headers)
        return _Reply(resource.status, resource.body, reply_headers)

    def _huge_body(self) -> bytes:
        with self._lock:
            if self._huge is None:
                from tests.portal.sitegen.faults import huge_article

                self._huge = huge_article().replace(b"{base}", self.url.encode("ascii"))
            return self._huge


def _not_modified(headers: dict[str, str], resource: _Resource) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or (resource.etag or "") in tags
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since and resource.last_modified:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return _as_aware(parsedate_to_datetime(resource.last_modified)) <= _as_aware(since)
    return False


def _as_aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _load(root: Path, base: str) -> tuple[dict[str, _Resource], dict[str, _Resource]]:
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(
            f"{manifest_path} is missing: run `python -m tests.portal.build_pages`"
        )
    routes: dict[str, _Resource] = {}
    variants: dict[str, _Resource] = {}
    for entry in json.loads(manifest_path.read_text("utf-8")):
        body = b""
        if entry["file"]:
            body = (root / entry["file"]).read_bytes().replace(b"{base}", base.encode("ascii"))
        etag = None
        if entry["last_modified"]:
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        resource = _Resource(
            url=entry["url"], kind=entry["kind"], status=entry["status"],
            content_type=entry["content_type"], body=body, ignore_query=entry["ignore_query"],
            behavior=entry["behavior"], etag=etag, last_modified=entry["last_modified"],
        )
        (variants if "#" in entry["url"] else routes)[entry["url"]] = resource
    return routes, variants


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Never join handler threads on close: one may be sleeping in /fault/slow.xml.
    block_on_close = False
    portal: Portal


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "newswatch-portal/1.0"
    sys_version = ""
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.portal._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.portal._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("portal: " + format, *args)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_POST(self) -> None:
        record = self._start_record()
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._send(record, _Reply(405, b"", {"Allow": "GET, HEAD"}), send_body=False)

    def _start_record(self) -> RequestRecord:
        record = RequestRecord(
            method=self.command, path=self.path, time=time.time(),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        self.server.portal._record(record)
        return record

    def _serve(self, send_body: bool) -> None:
        record = self._start_record()
        reply = self.server.portal._respond(self.path, record.headers)
        if reply.drop:
            self.close_connection = True
            record.duration = time.time() - record.time
            return
        self._send(record, reply, send_body)

    def _send(self, record: RequestRecord, reply: _Reply, send_body: bool) -> None:
        record.status = reply.status
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status != 304:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if send_body and reply.status != 304:
                view = memoryview(reply.body)
                for start in range(0, len(view), _CHUNK):
                    self.wfile.write(view[start:start + _CHUNK])
                    record.bytes_sent += len(view[start:start + _CHUNK])
        except OSError:
            # The client hung up mid-body (a crawler enforcing its size limit does this).
            self.close_connection = True
        finally:
            record.duration = time.time() - record.time


def start_portal(root: Path | None = None) -> Portal:
    """Start the portal on 127.0.0.1 with a free port; stop() it, or use it as a context manager.

    `root` defaults to tests/portal/pages/ (it must hold the manifest.json the generator writes).
    """
    return Portal(root).start()
