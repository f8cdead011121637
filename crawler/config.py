"""The newswatch.toml model: validated once, where it enters, with errors that name the fix."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG = "newswatch.toml"
SOURCE_KINDS = ("feed", "sitemap", "listing")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class ConfigError(Exception):
    """A config file that cannot be used; the message names the field and the fix."""


def parse_duration(value: str | int | float, *, minimum: timedelta | None = None) -> timedelta:
    """Read `15m`, `2h`, `1d`; a bare number is seconds (so TOML integers work)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        delta = timedelta(seconds=value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        delta = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        raise ValueError(f"{value!r} is not a duration; write a number and a unit, e.g. 15m, 2h, 1d")
    if minimum is not None and delta < minimum:
        raise ValueError(f"{value!r} is too short; the minimum is {int(minimum.total_seconds())}s")
    return delta


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB)\s*$", re.IGNORECASE)


def parse_size(value: Any) -> int:
    """`500MB`, `1.5GB` in bytes (powers of 1024); at least 100MB."""
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a size; write a number and a unit in quotes, e.g. "
                         'max_memory = "1GB" (KB, MB or GB)')
    size = int(float(match.group(1)) * 1024 ** ("KMG".index(match.group(2)[0].upper()) + 1))
    if size < 100 * 2**20:
        raise ValueError(f"{value!r} is too small for a crawl service; give it at least 100MB")
    return size


def _duration_text(value: Any, key: str, minimum: timedelta) -> str:
    """A config duration: a string with a unit. A bare number could be seconds or minutes."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write a number and a unit in quotes, "
                         f'e.g. {key} = "30m" (s, m, h or d)')
    parse_duration(value, minimum=minimum)
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http(s) URL; only http:// and https:// can be crawled")
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host name")
    return value.strip()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatabaseConfig(_Model):
    url: str = "sqlite:///newswatch.db"


class CrawlConfig(_Model):
    """Politeness and limits shared by every source."""

    user_agent: str = "newswatch/0.1 (news monitor)"
    obey_robots: bool = True
    timeout: float = Field(30.0, gt=0, le=600)
    retries: int = Field(2, ge=0, le=10)
    max_page_bytes: int = Field(5_000_000, ge=10_000)
    concurrency_per_domain: int = Field(2, ge=1, le=16)
    download_delay: float = Field(0.5, ge=0)
    max_articles_per_round: int = Field(200, ge=1)
    max_requests_per_round: int = Field(1000, ge=10)
    revalidate_every: str = "1d"
    cache_dir: str = ".newswatch/httpcache"
    round_timeout: str = "20m"
    parallel_rounds: int = Field(16, ge=1, le=256)
    concurrency: int = Field(16, ge=1, le=256)
    extract_workers: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 4), ge=0, le=32)
    stop_grace_seconds: float = Field(30.0, ge=0, le=3600)
    max_memory: str = "1GB"
    heartbeat_timeout: str = "60s"
    backoff_after: int = Field(3, ge=1)

    @field_validator("max_memory", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> str:
        parse_size(value)
        return str(value)

    @field_validator("revalidate_every", "round_timeout", "heartbeat_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any, info: ValidationInfo) -> str:
        return _duration_text(value, info.field_name, timedelta(seconds=10))


class SourceConfig(_Model):
    """One portal endpoint; exactly one of feed, sitemap or listing."""

    name: str = Field(min_length=1, max_length=200)
    feed: str | None = None
    sitemap: str | None = None
    listing: str | None = None
    links: str | None = None
    next: str | None = None
    max_pages: int | None = Field(None, ge=1, le=100)
    every: str = "auto"
    every_min: str = "5m"
    every_max: str = "6h"
    language: str | None = Field(None, pattern=r"^[a-z]{2}$")
    enabled: bool = True
    allowed_domains: list[str] = Field(default_factory=list)

    @field_validator("feed", "sitemap", "listing")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value)

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: Any) -> str:
        if value == "auto":
            return value
        return _duration_text(value, "every", timedelta(minutes=1))

    @field_validator("every_min", "every_max", mode="before")
    @classmethod
    def _bound(cls, value: Any, info: ValidationInfo) -> str:
        return _duration_text(value, info.field_name, timedelta(minutes=1))

    @model_validator(mode="after")
    def _one_kind(self) -> SourceConfig:
        given = [kind for kind in SOURCE_KINDS if getattr(self, kind)]
        if len(given) != 1:
            found = " and ".join(given) if given else "none"
            raise ValueError(f"set exactly one of feed, sitemap, listing (found {found})")
        if self.listing and not self.links:
            raise ValueError("a listing source needs `links`, the CSS selector of its article links")
        if not self.listing and (self.links or self.next or self.max_pages):
            raise ValueError("`links`, `next` and `max_pages` only apply to a listing source")
        low, high = self.interval_bounds
        if low > high:
            raise ValueError(f"every_min ({self.every_min}) is longer than every_max ({self.every_max})")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in SOURCE_KINDS if getattr(self, kind))

    @property
    def url(self) -> str:
        return str(getattr(self, self.kind))

    @property
    def adaptive(self) -> bool:
        """`every = "auto"`: the interval follows the source's rhythm (crawler/timing.py)."""
        return self.every == "auto"

    @property
    def interval(self) -> timedelta:
        """A fixed `every`; for "auto", the shortest it may become (`every_min`)."""
        return self.interval_bounds[0] if self.adaptive else parse_duration(self.every)

    @property
    def interval_bounds(self) -> tuple[timedelta, timedelta]:
        return parse_duration(self.every_min), parse_duration(self.every_max)

    @property
    def pages(self) -> int:
        """How many listing pages to read: `max_pages`, else 1 without `next` and 3 with it."""
        if self.max_pages:
            return self.max_pages
        return 3 if self.next else 1


class DigestConfig(_Model):
    """The daily mail: when, to whom, and how (SMTP, or .eml files in the outbox)."""

    at: str = "07:30"
    timezone: str = "Asia/Seoul"
    to: list[str] = Field(default_factory=list)
    from_: str = Field("newswatch@localhost", alias="from")
    smtp: str | None = None
    # A CA bundle (PEM) to trust for the SMTP server's certificate, besides the system's.
    smtp_cafile: str | None = None
    smtp_timeout: float = Field(30.0, gt=0, le=600)
    outbox: str = "outbox"
    send_empty: bool = False
    max_items: int = Field(50, ge=1)
    subject_prefix: str = Field("[newswatch]", max_length=60)

    @field_validator("at", mode="before")
    @classmethod
    def _time_of_day(cls, value: Any) -> str:
        match = _TIME.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(f"{value!r} is not a time of day; write it as 24-hour HH:MM in quotes, "
                             'e.g. at = "07:30" (half past seven in the morning) or at = "18:00"')
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @field_validator("to", "from_")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        # A bare `local@domain` check: enough to catch typos, without guessing at RFC 5322.
        for address in [value] if isinstance(value, str) else value:
            local, at, domain = address.rpartition("@")
            if not (at and local and domain) or any(c in address for c in " <>,;\r\n"):
                raise ValueError(f"{address!r} is not an email address; write name@example.org")
        return value

    @field_validator("subject_prefix")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("the subject prefix must be one line")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Asia/Seoul") from None
        return value

    @field_validator("smtp")
    @classmethod
    def _smtp(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError(
                f"{value!r} is not an SMTP URL; write smtp://user@host:587 (STARTTLS) or "
                "smtps://user@host:465 (TLS); the password comes from $NEWSWATCH_SMTP_PASSWORD"
            )
        if parts.password:
            raise ValueError("put no password in the config; set $NEWSWATCH_SMTP_PASSWORD instead")
        return value

    @model_validator(mode="after")
    def _smtp_needs_recipients(self) -> DigestConfig:
        if self.smtp and not self.to:
            raise ValueError(
                "smtp is set but `to` is empty; add to = [\"you@example.org\"], or remove smtp "
                "to write .eml files to the outbox"
            )
        return self


class DedupeConfig(_Model):
    near_duplicate_threshold: float = Field(0.33, gt=0, lt=1)
    window_days: int = Field(30, ge=1)


class ClusterConfig(_Model):
    """Several machines on one Redis (work in progress) and one PostgreSQL (everything stored)."""

    redis: str

    @field_validator("redis")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise ValueError(f"{value!r} is not a Redis URL; write redis://host:6379/0 "
                             "(the password, if any, as redis://:PASSWORD@host:6379/0)")
        return value


class WebConfig(_Model):
    """The web view (pipelines/output/web): where it listens, and where digests point readers."""

    # Where digest items link to; None: the digest carries no web links.
    base_url: str | None = None
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=0, le=65535)
    # A reverse proxy in front authenticates every request: the web view then asks no password.
    trust_proxy_auth: bool = False
    # How long a digest's signed "not relevant" link works.
    link_days: int = Field(30, ge=1, le=365)

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL; write the address readers open, "
                             'e.g. base_url = "https://news.example.org"')
        return value.strip().rstrip("/")


class Config(_Model):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    topics: list[dict[str, Any]] = Field(default_factory=list)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    dedupe: DedupeConfig = Field(default_factory=DedupeConfig)
    cluster: ClusterConfig | None = None
    web: WebConfig | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("topics")
    @classmethod
    def _topics_valid(cls, topics: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Checked here, not first inside a crawl: a typo in a topic is a config error."""
        from pipelines.scoring.topics import resolve_topics

        resolve_topics(topics or None)
        return topics

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        seen: dict[str, int] = {}
        for index, source in enumerate(sources):
            if source.name in seen:
                raise ValueError(
                    f'sources[{seen[source.name]}] and sources[{index}] are both named '
                    f'"{source.name}"; give each source its own name'
                )
            seen[source.name] = index
        return sources

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} (sources: {known})")

    def path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path anchored at the config's folder."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            return prefix + str(self.path(url[len(prefix) :]))
        return url


def find_config(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config`, else `$NEWSWATCH_CONFIG`, else `./newswatch.toml`."""
    return Path(explicit or os.environ.get("NEWSWATCH_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str]) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; write one with `newswatch init`, or pass --config FILE"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = parse_config(data, source=str(path), base_dir=path.resolve().parent)
    problem = database_problem(config)
    if problem:
        raise ConfigError(f"{path}: invalid config\n  database.url: {problem}")
    if config.cluster and config.database.url.startswith("sqlite"):
        raise ConfigError(f"{path}: invalid config\n  cluster: the machines of a cluster share one "
                          "database: set database.url to postgresql+psycopg://user@host/dbname")
    return config


def database_problem(config: Config) -> str | None:
    """What is wrong with database.url before anything opens it: a plain path, an unknown kind
    of database, or an SQLite file in a folder that does not exist (it is not created: a typo
    would silently start an empty database elsewhere) or cannot be written."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    value = config.database.url
    example = ('write sqlite:///newswatch.db (a file beside the config) or '
               'postgresql+psycopg://user@host/dbname')
    try:
        url = make_url(value)
        url.get_dialect()
    except NoSuchModuleError:  # a subclass of ArgumentError: first
        return f"{value!r}: unknown kind of database {value.split(':')[0]!r}; {example}"
    except ArgumentError:
        return f"{value!r} is not a database URL; {example}"
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    path = Path(config.database_url.removeprefix("sqlite:///"))
    folder = path.parent
    if not folder.is_dir():
        return (f"the folder {folder} does not exist; create it (mkdir -p {folder}) or point "
                "database.url at a file in an existing folder")
    if path.exists() and not path.is_file():
        return f"{path} is not a file; point database.url at a database file"
    if not os.access(path if path.exists() else folder, os.W_OK):
        return f"{path if path.exists() else folder} is not writable by this user; fix its permissions"
    return None


def parse_config(data: dict[str, Any], source: str = "config", base_dir: Path | None = None) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            "\n".join([f"{source}: invalid config"] + [_describe(e, data) for e in exc.errors()])
        ) from None
    config.base_dir = base_dir or Path.cwd()
    return config


def _describe(error: Any, data: dict[str, Any]) -> str:
    """One error as `sources[2] "name".field: what is wrong`, with a suggestion for typos."""
    loc = list(error["loc"])
    where = _location(loc, data)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(allowed)}"
        return f"  {where}: unknown key{hint}"
    if error["type"] == "missing":
        return f"  {where}: required, but missing"
    return f"  {where}: {message}"


def _location(loc: list[Any], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for step in loc:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            if isinstance(node, dict) and "name" in node:
                parts[-1] += f' "{node["name"]}"'
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _allowed_keys(loc: list[Any]) -> list[str]:
    model: type[BaseModel] = Config
    for step in loc:
        if isinstance(step, int):
            continue
        field = model.model_fields.get(str(step))
        annotation = getattr(field, "annotation", None)
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return sorted(f.alias or name for name, f in model.model_fields.items() if name != "base_dir")
