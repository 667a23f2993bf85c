"""``scrapy crawl`` with an exit status that tells cron and systemd whether the run worked.

Scrapy's own crawl exits 0 whenever the spider started, even when nothing could be
archived or the run was interrupted. This is the same command, plus: exit status 1 when a
crawl's outcome (``archive/outcome``, set by the archive pipeline) is failed or interrupted.
"""

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

UNSUCCESSFUL = {"failed", "interrupted"}


class Command(ScrapyCrawlCommand):
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
