"""The crawl service's one spider (news.py) and the readers of each kind of source index."""
