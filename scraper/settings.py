"""Scrapy settings for discuz-archive: plain constants (this module imports nothing from Scrapy).

Polite by default: robots.txt obeyed, AutoThrottle on, at most 2 requests at a time per
site, and a user agent that names the project without the words Discuz takes for a robot
(bot, spider, crawl), which would make it hide floor numbers.
"""

BOT_NAME = "discuz-archive"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = "discuz-archive/0.1 (forum archiver; +https://pypi.org/project/Scrapy/)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
RETRY_TIMES = 3
# The crawl never leaves the site (spiders/site_policy.py): a redirect to another host is
# recorded as kind "offsite", not followed; before robots.txt (100) is asked for that host.
# Discuz's anti-CC pages (spiders/anti_cc.py) are told between the retry middleware (550),
# which would ask bit 1's 503 again at once, and HttpCompressionMiddleware (590), so that a
# gzipped challenge is read decompressed; no later middleware adds a proxy header it takes off.
# The forum's guest cookies (spiders/guest_cookies.py) come last, nearest the network: an
# answer's cookies are kept, and a request's set, around every other middleware.
# Scrapy's meta refresh in its place, reading the bytes of a page that cannot hold one
# (spiders/meta_refresh.py), not the whole page decoded.
DOWNLOADER_MIDDLEWARES = {
    "spiders.site_policy.SitePolicy": 60,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "spiders.meta_refresh.MetaRefresh": 580,
    "spiders.anti_cc.AntiCC": 585,
    "spiders.guest_cookies.GuestCookies": 910,
}
# Hosts besides the seeds' that the crawl may be sent to, comma-separated ("cdn.example.com,
# img.example.com:8080"; without a port: ports 80 and 443), e.g. a forum's attachment CDN.
ARCHIVE_ALLOWED_HOSTS = ""
# Resolves as Scrapy's caching resolver does, but no request reaches a private, loopback or
# link-local address unless a seed's host (or an allowed host) is there (spiders/addresses.py).
TWISTED_DNS_RESOLVER = "spiders.addresses.GuardedResolver"
# A Discuz page is 30-300 KB: a body over 32 MB, on the wire or once decompressed (a gzip
# bomb), is refused and recorded as kind "too_large". Scrapy's default is 1 GB.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
COOKIES_ENABLED = False  # a guest's view; member-only boards are a later feature
# The cookies the forum sets a guest (saltkey, lastrequest, visitcode, sid…), kept per site
# and sent back as a browser does (spiders/guest_cookies.py); never archived nor logged.
DISCUZ_GUEST_COOKIES = True
# Past Discuz's anti-CC defences as a browser passes them, a polite stop where a person is
# needed (spiders/anti_cc.py): after a rate-limit page a site is asked one request at a time,
# DISCUZ_SLOW_DELAY seconds apart (Discuz compares whole seconds on its own clock: the tenth
# over one absorbs the way there); a page still a challenge after DISCUZ_CHALLENGE_TRIES asks
# is recorded; after DISCUZ_CHALLENGE_STOP pages of a check only a person passes, the crawl
# stops asking the site for such pages.
DISCUZ_ANTI_CC = True
DISCUZ_SLOW_DELAY = 1.1
DISCUZ_CHALLENGE_TRIES = 5
DISCUZ_CHALLENGE_STOP = 3
# Scrapy starts this many asyncio tasks for every response's output (the limit is per
# response), whatever the output holds, and queues twice as many of its outputs before the
# callback waits; a callback here gives one page item, at most one other (the thread's or the
# walk's end) and a few requests, so more tasks only cost the crawl's CPU on every page. While
# the media store (pipelines.media) waits for a page's files, the other tasks send its requests on.
CONCURRENT_ITEMS = 4

ITEM_PIPELINES = {"pipelines.archive.ArchivePipeline": 300, "pipelines.media.ArchiveMedia": 400}
# The media store (pipelines/media.py): "images", "attachments" or "all" downloads those files
# of the threads crawled into ARCHIVE_MEDIA_DIR (default: the archive's path + ".media"), each
# once, by its SHA-256; -a media=... does the same for one crawl. Empty: off.
ARCHIVE_MEDIA = ""
ARCHIVE_MEDIA_DIR = ""
ARCHIVE_MEDIA_MAXSIZE = 50 * 1024 * 1024  # bytes a file may have; a larger one is recorded too_large

# Where the archive goes (a path; created when missing).
ARCHIVE_DB = "archive.db"
# The forum's UTC offset, e.g. "+08:00". Empty: read it from the page footer ("GMT+8"),
# else +08:00, Discuz's default.
DISCUZ_UTC_OFFSET = ""

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TELNETCONSOLE_ENABLED = False  # an unattended archiver needs no open console port
# nor Scrapy 2.19's HTTP port that runs the Python code it is sent (its token is left in a file
# under ~/.local/state, and a killed crawl leaves that file behind)
REMOTE_CONTROL_ENABLED = False
COMMANDS_MODULE = "commands"  # `scrapy crawl` whose exit status says whether the run worked
# spiders.log_levels: no log record made that no handler writes (Scrapy filters only in them).
EXTENSIONS = {
    "spiders.sample.SampleForum": 100, "spiders.progress.Progress": 500, "spiders.refusals.SizeCap": 500,
    "spiders.log_levels.LoggerLevels": 500, "spiders.timers.TimerSweep": 500,
    "spiders.collector.CollectorThreshold": 500,
}
# With no url, `scrapy crawl discuz` serves the bundled sample forum and crawls it (spiders/sample.py).
SAMPLE_FORUM_ENABLED = True
PROGRESS_INTERVAL = 15  # seconds between progress lines; 0 turns them off
TIMER_SWEEP_INTERVAL = 1  # seconds between the reactor's sweeps of cancelled timers (spiders/timers.py); 0: off
# Container objects made and not yet freed before Python's garbage collector walks the young
# ones, while a crawl runs (spiders/collector.py; CPython's own is 700); 0: Python's own.
GC_THRESHOLD = 7000
# Keep every fetched page's bytes, zstd-compressed, in the archive's raw_pages table, so
# `python -m pipelines.reparse` can rebuild the archive offline (see README for the cost).
ARCHIVE_RAW_PAGES = False
# Read pages and write the archive in a worker process, off the core Scrapy downloads on.
ARCHIVE_WORKER = True
# A distributed crawl on scrapy-redis when REDIS_URL is set (spiders/distributed.py); the
# crawl's Redis keys start with DISTRIBUTED_KEY.
ADDONS = {"spiders.distributed.Distributed": 0}
REDIS_URL = ""
DISTRIBUTED_KEY = "discuz"
SCHEDULER_IDLE_BEFORE_CLOSE = 10  # seconds a worker waits with the fleet idle before it stops
