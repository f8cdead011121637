"""Scrapy settings built from the validated config: the one place components read configuration from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.config import parse_duration

if TYPE_CHECKING:
    from crawler.config import Config

ITEM_PIPELINES = {
    "pipelines.stages.clean.CleanPipeline": 100,
    "pipelines.stages.dedupe.DedupePipeline": 200,
    "pipelines.stages.classify.ClassifyPipeline": 300,
    "pipelines.stages.store.StorePipeline": 400,
}
_UNUSED_EXTENSIONS = {"scrapy.extensions.remote_control.RemoteControl",
                      "scrapy.extensions.logstats.LogStats"}


def build_settings(config: Config, **overrides: Any) -> dict[str, Any]:
    """Polite defaults plus the `NEWSWATCH_*` values the spiders and pipelines need."""
    from scrapy.settings import default_settings  # here: reading commands need no Scrapy

    crawl = config.crawl
    settings: dict[str, Any] = {
        "BOT_NAME": "newswatch",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": "newswatch",
        # One polite stream per site: AutoThrottle adapts the delay to how fast the site answers.
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": max(crawl.max_page_bytes // 2, 1),
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retries,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        # Downloaded pages waiting for an extraction worker: at most this much before the engine
        # stops asking for more (with extraction off the reactor thread, downloads race ahead of
        # the workers: 960 MB at Scrapy's 5 MB with one crawler per source).
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 2_000_000,
        # Scrapy handles each response's output with this many asyncio tasks, however little it
        # yields: an article page yields one item, and at the default 100 the tasks of the pages
        # waiting for a worker took 75 MB (tracemalloc, 30 sources; benchmarks/profile_crawl.md).
        "CONCURRENT_ITEMS": 1,
        # MetaRefreshMiddleware decodes every page to look for <meta http-equiv=refresh> and keeps
        # the text; news articles do not redirect that way (benchmarks/profile_crawl.md, R2).
        "METAREFRESH_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # Scrapy parses a generator callback's source to warn of a `return value` in it, again for
        # every request (its cache is keyed by the bound method, new on each request): 14 % of
        # the service's CPU for an unchanged poll. Our callbacks are known and tested.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "STATS_DUMP": False,
        "LOGSTATS_INTERVAL": 0,
        # Conditional GET for feeds, sitemaps and listings (article requests opt out with
        # dont_cache): the cache keeps the validators, and the policy adds a daily unconditional fetch.
        "HTTPCACHE_ENABLED": True,
        "HTTPCACHE_POLICY": "crawler.cache_policy.RevalidatingPolicy",
        "HTTPCACHE_STORAGE": "scrapy.extensions.httpcache.FilesystemCacheStorage",
        "HTTPCACHE_DIR": str(config.path(crawl.cache_dir).resolve()),
        "HTTPCACHE_GZIP": True,
        "NEWSWATCH_REVALIDATE_SECONDS": parse_duration(crawl.revalidate_every).total_seconds(),
        "NEWSWATCH_MAX_FRESH_SECONDS": 300,
        "ITEM_PIPELINES": ITEM_PIPELINES,
        # Every source's round has its own gate (crawler/limits.py): its sites, its request limit,
        # its deadline. Scrapy's offsite filter knows one spider's domains, and drops a request
        # at scheduling without telling its errback.
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "crawler.limits.RoundGate": 50,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.ExpiringRobotsTxt": 100,
        },
        # Articles are deduplicated against the store, and a feed is requested again every poll:
        # Scrapy's in-memory request filter would grow for ever and drop the next poll.
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "DOWNLOAD_HANDLERS": {"http": "crawler.http.ShortKeepAliveHandler",
                              "https": "crawler.http.ShortKeepAliveHandler"},
        "LOG_FORMATTER": "crawler.logformat.NewsLogFormatter",
        # Scrapy's own extensions but two: RemoteControl (off) would still be imported, with
        # aiohttp's web server, 0.09 s a start; LogStats counts for one crawler, while a round
        # counts for its source. Left out of the base list, not set to None in EXTENSIONS: Scrapy
        # imports every key of EXTENSIONS to match it with the base, even one set to None.
        "EXTENSIONS_BASE": {path: order for path, order in default_settings.EXTENSIONS_BASE.items()
                            if path not in _UNUSED_EXTENSIONS},
    }
    if config.cluster is not None:
        # One request queue for every worker of the cluster (crawler/queue.py, scrapy-redis).
        settings.update({"SCHEDULER": "crawler.queue.SharedQueue", "REDIS_URL": config.cluster.redis,
                         "SCHEDULER_QUEUE_KEY": "newswatch:requests"})
    settings.update(overrides)
    return settings
