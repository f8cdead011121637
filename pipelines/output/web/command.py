"""`newswatch web`: the web view in the foreground, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal

import click

from crawler.cli import ConfigProblem, cli, load, open_store


@cli.command()
@click.option("--host", default=None,
              help="Address to listen on [default: web.host, else 127.0.0.1]; any other than "
                   "loopback needs $NEWSWATCH_WEB_PASSWORD or web.trust_proxy_auth = true.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port [default: web.port, else 8080; 0: any free port].")
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the web view: read, search and judge matches in a browser."""
    from pipelines.output.web.serve import WebProblem, prepare

    config = load(ctx)
    store = open_store(config)
    try:
        served = prepare(config, store, host, port)
    except WebProblem as exc:
        raise ConfigProblem(str(exc)) from None
    click.echo(f"newswatch web view at {served.url} (Ctrl-C stops it)", err=True)
    # uvicorn shuts down on SIGTERM, then raises it again for the handler it found: make that
    # one a clean exit 0, as `run` does, rather than death by signal.
    signal.signal(signal.SIGTERM, _stopped)
    try:
        served.run()
    finally:
        store.close()


def _stopped(_signum: int, _frame: object) -> None:
    raise SystemExit(0)
