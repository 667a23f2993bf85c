"""``scrapy crawl`` with an exit status that tells cron and systemd whether the run worked.

Scrapy's own crawl exits 0 whenever the spider started, even when nothing could be
archived or the run was interrupted. This is the same command, plus: exit status 1 when a
crawl's outcome (``archive/outcome``, set by the archive pipeline) is failed or interrupted;
exit status 2, with one line on stderr, when a spider argument is wrong (a spider's
``check_arguments``): before anything is opened or fetched.
"""

import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.spiderloader import get_spider_loader

UNSUCCESSFUL = {"failed", "interrupted"}


class Command(ScrapyCrawlCommand):
    def process_options(self, args, opts):
        """Before the crawler process starts (and logs anything), the spider's arguments."""
        super().process_options(args, opts)
        if args and not self._arguments_ok(args[0], opts.spargs):
            sys.exit(2)

    def run(self, args, opts):
        crawlers = []
        create_crawler = self.crawler_process.create_crawler

        def create_and_remember(*a, **kw):
            crawler = create_crawler(*a, **kw)
            crawlers.append(crawler)
            return crawler

        self.crawler_process.create_crawler = create_and_remember
        super().run(args, opts)
        outcomes = [crawler.stats.get_value("archive/outcome") for crawler in crawlers if crawler.stats]
        if any(outcome in UNSUCCESSFUL for outcome in outcomes):
            self.exitcode = 1

    def _arguments_ok(self, name: str, arguments: dict) -> bool:
        try:
            spider = get_spider_loader(self.settings).load(name)
        except KeyError:
            return True  # Scrapy's own message follows
        check = getattr(spider, "check_arguments", None)
        try:
            if check is not None:
                check(arguments)
        except ValueError as error:
            print(f"scrapy crawl {name}: {error}", file=sys.stderr)
            return False
        return True
