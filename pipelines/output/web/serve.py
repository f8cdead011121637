"""Serving the web view with uvicorn: `newswatch web`, and a thread of `newswatch run`.

The listening socket is bound here, before uvicorn starts, so a taken port or a refused address
is an error in words (exit 1) and the address actually bound (port 0: any free one) is logged.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.output.web.security import PASSWORD_ENV, bind_problem

if TYPE_CHECKING:
    import uvicorn

    from crawler.config import Config
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)


class WebProblem(Exception):
    """The web view must not or cannot start; the message names the setting and the fix."""


@dataclass
class Served:
    """A running server: its address, and how to stop it."""

    url: str
    server: uvicorn.Server
    sock: socket.socket

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True


def prepare(config: Config, store: Store, host: str | None = None, port: int | None = None) -> Served:
    """The server for this config, its socket bound; raises WebProblem when it must not start."""
    import uvicorn

    from pipelines.digest.links import SECRET_ENV, secret_from_env
    from pipelines.output.web.app import build_app

    web = config.web
    host = host or (web.host if web else "127.0.0.1")
    port = port if port is not None else (web.port if web else 8080)
    password = os.environ.get(PASSWORD_ENV) or None
    trust_proxy = bool(web and web.trust_proxy_auth)
    problem = bind_problem(host, password, trust_proxy)
    if problem:
        raise WebProblem(problem)
    secret = secret_from_env()
    if web and web.base_url and secret is None:
        raise WebProblem(f"web.base_url is set, so digests carry signed links this server must "
                         f"check: set ${SECRET_ENV} to a long random string (the same for the "
                         "daemon and the web view), e.g. python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))'")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise WebProblem(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another "
                         "--port (or web.port), or stop what uses it") from None
    sock.listen(128)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]
    app = OneLineErrors(build_app(config, store, link_secret=secret, password=password))
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", server_header=False,
        proxy_headers=trust_proxy, forwarded_allow_ips="*" if trust_proxy else None))
    shown = f"[{host}]" if ":" in host else host
    return Served(f"http://{shown}:{bound}", server, sock)


@dataclass(frozen=True)
class OneLineErrors:
    """A failing request is one log line (its traceback with -v), not uvicorn's traceback: the
    reader already got a 500 page from Starlette, which re-raises so that a server can log it."""

    app: Any

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
            logger.error("%s %s failed: %s: %s", scope.get("method", ""), scope.get("path", ""),
                         type(exc).__name__, exc, exc_info=verbose)


def serve_in_thread(served: Served) -> threading.Thread:
    """Run the server beside the daemon; uvicorn leaves signals to the main thread there."""
    thread = threading.Thread(target=served.run, name="web", daemon=True)
    thread.start()
    logger.info("web view at %s", served.url)
    return thread
