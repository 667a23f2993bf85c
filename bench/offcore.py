"""Prototype (bench only, not the project's code): the ``discuz`` spider with reading and
storing moved off the reactor's core, to measure what that design buys on two cores.

One worker process (bench/offcore_worker.py) decodes and parses every page and is the
archive's only writer (batches of ARCHIVE_BATCH_SIZE). The crawl's process downloads, and
runs the spider's own walk logic unchanged: each callback first awaits the worker's reading
of its page (the reactor keeps downloading meanwhile), then the spider's callback runs on
the result as if it had parsed the page itself. The pipeline forwards the other items
(ThreadSynced, ForumWalked, network failures) to the worker, in order, so the worker writes
everything in the order the spider produced it.

    scrapy runspider bench/offcore.py -a url=http://127.0.0.1:8081/forum.php -s ARCHIVE_DB=x.db ...
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from bench import offcore_worker as worker
from pipelines.sqlite import ArchivePipeline
from spiders.discuz import DiscuzSpider, _fetched_page

STORED = "_offcore_stored"


class OffcorePipeline(ArchivePipeline):
    """ArchivePipeline's lock and crawl record, with the writing done by the worker."""

    pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = super().from_crawler(crawler)
        crawler.offcore = pipeline
        return pipeline

    def open_spider(self) -> None:
        super().open_spider()  # lock, schema, the crawls row
        self.pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=worker.init,
            initargs=(str(self.target), self.batch_size, self.crawler.settings.get("DISCUZ_UTC_OFFSET") or None),
        )

    def _count(self, counts: dict) -> None:
        for key, value in counts.items():
            self.stats.inc_value(key, value)

    async def read(self, fetched, body: bytes, **kwargs):
        answer, bug, counts = await asyncio.wrap_future(self.pool.submit(worker.read, fetched, body, kwargs))
        self._count(counts)
        return answer, bug

    def process_item(self, item):
        if getattr(item, STORED, False):
            return item
        loop = asyncio.get_running_loop()
        future = self.pool.submit(worker.store, [item])
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(self._count, f.result()))
        return item

    def close_spider(self) -> None:
        if self.pool is not None:
            self._count(self.pool.submit(worker.flush).result())
            self.pool.shutdown()
            self.pool = None
        super().close_spider()


class OffcoreSpider(DiscuzSpider):
    name = "discuz_offcore"
    custom_settings = {"ITEM_PIPELINES": {OffcorePipeline: 300}}

    async def _read_off_core(self, response, asked_as: str, tid=None, **kwargs) -> None:
        fetched = _fetched_page(response, asked_as, tid=tid)
        if self.keep_raw_pages:
            fetched.body = response.body
        response.meta["offcore"] = await self.crawler.offcore.read(fetched, response.body, **kwargs)

    def _parse(self, fetched, response, task=None, **kwargs):
        """The spider's _parse, on what the worker read (and already stored)."""
        answer, bug = response.meta.pop("offcore")
        for name in ("kind", "error", "charset", "declared_charset", fetched.asked_as):
            setattr(fetched, name, getattr(answer, name))
        setattr(fetched, STORED, True)
        if fetched.declared_charset:
            self.logger.warning("%s declares %s but its bytes are %s", response.url, fetched.declared_charset, fetched.charset)
        result = getattr(fetched, fetched.asked_as)
        if result is not None:
            return result
        if bug is not None:
            self.logger.error("Could not parse %s: %s", response.url, bug)
        else:
            self.logger.warning("%s: %s (%s)", response.url, fetched.error, fetched.kind)
        self.crawler.stats.inc_value(f"archive/problems/{fetched.kind}")
        if task is not None and fetched.kind != "missing":
            task.failed = True
        yield fetched
        return None

    async def parse_index(self, response):
        await self._read_off_core(response, "index")
        for output in super().parse_index(response):
            yield output

    async def parse_forum(self, response, fid: int, page: int):
        await self._read_off_core(response, "forum")
        for output in super().parse_forum(response, fid, page):
            yield output

    async def parse_thread(self, response, tid: int, page: int, posts_per_page: int | None):
        await self._read_off_core(response, "thread", tid=tid, posts_per_page=posts_per_page)
        for output in super().parse_thread(response, tid, page, posts_per_page):
            yield output
