"""One spider class per kind of source index; each instance crawls one configured source."""

from crawler.spiders.feed import FeedSpider
from crawler.spiders.listing import ListingSpider
from crawler.spiders.sitemap import SitemapSpider

SPIDERS = {"feed": FeedSpider, "sitemap": SitemapSpider, "listing": ListingSpider}

__all__ = ["SPIDERS", "FeedSpider", "ListingSpider", "SitemapSpider"]
