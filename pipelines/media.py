"""The media store: the files of the pages the crawl reads (the images in posts, image and file
attachments, the images in portal articles), downloaded once each into a content-addressed
folder beside the archive.

Built on Scrapy's media pipeline machinery (``scrapy.pipelines.media.MediaPipeline``): the
requests come from the items the spider yields and go through the engine, so they share the
site's politeness (DOWNLOAD_DELAY, AutoThrottle, concurrency per host) and its downloader
middlewares (the allow-list of spiders.site_policy: files come only from the site and
ARCHIVE_ALLOWED_HOSTS; the size cap). Where it differs from ``FilesPipeline``, and why:

- **Keyed by content and by Discuz aid, not by the URL's SHA-1.** Discuz's attachment links
  carry a hash and a time that change on every view (``aidencode``), so a URL key downloads the
  same file again each time. An attachment is asked for once per aid (an image attachment by
  its static ``data/attachment/…`` file, which also leaves the site's download counter alone);
  an image once per URL; and the bytes are stored once under their SHA-256 whatever the URL.
- **Once across runs.** What the archive already recorded (attachments.file_status,
  post_images.status, portal_images.status) is not asked for again, so a re-crawl of an
  unchanged forum makes no media request; what an interrupted run saw but did not finish
  (attachments and images archived without a status) is asked for when the next run opens,
  and a download in pieces goes on from where it stopped.
- **In pieces, not whole.** Scrapy's download handlers hand a response over whole, and
  FilesPipeline holds the file in memory (twice). The store asks for a file in pieces with
  ``Range`` requests and writes each to disk as it comes (pipelines.media_pieces), so memory
  stays flat however large the file; a server that ignores Range sends the file whole, which
  is then held once, capped by ``download_maxsize`` (a file over the cap is cancelled by its
  announced length before any body arrives, and recorded ``too_large``).
- **Not a file is not stored.** An HTML answer instead of the file (no permission, a login
  form, a paid attachment, a missing one) is recorded with its status (scraper.media_answers).
- **One writer.** This runs in the crawl's process; its rows (pipelines.media_records) go
  through the archive pipeline like the spider's items, so the archive keeps one writer.

On with ``-a media=images|attachments|all`` or the setting ``ARCHIVE_MEDIA``; off, it raises
NotConfigured. ``ARCHIVE_MEDIA_DIR``: the store (default: ``<ARCHIVE_DB>.media``).
``ARCHIVE_MEDIA_MAXSIZE``: the cap per file in bytes (default 50 MB). ``ARCHIVE_MEDIA_PIECE``:
the bytes asked for at a time (default 8 MB).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.pipelines.media import MediaPipeline
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from pipelines.media_pieces import (
    FIRST_PIECE,
    PIECE,
    WANTED,
    PieceError,
    PieceStopper,
    ask_piece,
    content_range,
    piece_of,
)
from pipelines.media_records import (
    AttachmentFile,
    MediaFile,
    PortalImageFile,
    PostImageFile,
)
from pipelines.media_store import (
    MediaStore,
    default_root,
    key_hash,
    resumable_name,
    stored_path,
)
from pipelines.refusals import Refused, refusal_of
from scraper.cookies import cookie_header
from scraper.dates import utc_now_iso
from scraper.kinds import PageKind
from scraper.media_answers import STORED, is_ui_image, refused_answer
from scraper.models import FetchedPage

logger = logging.getLogger(__name__)

MAXSIZE = 50 * 1024 * 1024
# Statuses asked again by the next run: the network's failures; every other answer stays.
RETRIED = ("network", "error", "http_error", "robots")
MODES = {"images": {"images"}, "attachments": {"attachments"}, "all": {"images", "attachments"}}
KEY = "archive_media_key"  # request.meta: the file's key (("aid", site, aid), ("image", site, pid, url) …)
WHAT = {"aid": "attachments", "image": "post images", "portal_image": "portal images"}


def media_mode(value: str | None) -> set[str]:
    """What ``media=`` / ARCHIVE_MEDIA asks the media store for; "" or off: nothing."""
    value = (value or "").strip().lower()
    if value in ("", "0", "off", "none", "false"):
        return set()
    if value not in MODES:
        raise ValueError(f"media={value!r}: use images, attachments or all")
    return MODES[value]


class ArchiveMedia(MediaPipeline):
    def __init__(self, *, crawler, kinds: set[str], root: Path, maxsize: int, archive: str):
        super().__init__(crawler=crawler)
        self.allow_redirects = True  # a redirect to a CDN is followed; SitePolicy vets its host
        self._handle_statuses(True)
        self.kinds = kinds
        self.store = MediaStore(root)
        self.maxsize = maxsize
        self.archive = archive
        self.piece = PIECE  # bytes asked for at a time (pipelines.media_pieces)
        self.done: set[tuple] = set()  # ("aid", site, aid) / ("image", site, pid, url) with an answer
        self.failures: dict[str, tuple[str, str]] = {}  # URL -> (status, message) of a failed download
        self.targets: dict[int, list[tuple]] = {}  # id(item) -> what each of its requests is for
        self.known: set[str] = set()  # sha256 of the files recorded in media
        self.resuming: set[asyncio.Future] = set()
        self.answers: Counter[tuple[str, str]] = Counter()  # (what, status) -> files, for the closing summary

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        kinds = media_mode(getattr(crawler.spider, "media", None) or settings.get("ARCHIVE_MEDIA"))
        if not kinds:
            raise NotConfigured  # no message: Scrapy would log one as a warning on every crawl
        archive = settings.get("ARCHIVE_DB", "archive.db")
        root = Path(settings.get("ARCHIVE_MEDIA_DIR") or default_root(archive))
        pipeline = cls(crawler=crawler, kinds=kinds, root=root, maxsize=settings.getint("ARCHIVE_MEDIA_MAXSIZE", MAXSIZE), archive=archive)
        pipeline.piece = settings.getint("ARCHIVE_MEDIA_PIECE", PIECE)
        pipeline.stopper = PieceStopper(crawler)
        crawler.signals.connect(pipeline.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(pipeline.spider_idle, signal=signals.spider_idle)
        return pipeline

    def open_spider(self, spider=None) -> None:
        super().open_spider()
        if not hasattr(self.crawler, "archive_store"):  # set by ArchivePipeline, which opens first
            raise RuntimeError("the media store needs pipelines.archive.ArchivePipeline before it in ITEM_PIPELINES")
        self.resume = self._read_archive()
        wanted = {key_hash(key) for leftovers in self.resume for key, _, _ in leftovers.wants}
        if left := self.store.clean_parts(wanted):
            logger.info("media: removed %d half-written files an interrupted run left", left)

    def spider_opened(self, spider) -> None:
        """Ask for what an earlier run saw and did not finish, beside the crawl's own requests."""
        if self.resume:
            logger.info("media: %d files an earlier run saw are asked for", sum(len(left.wants) for left in self.resume))
            self.resuming = {asyncio.ensure_future(self.process_item(leftovers)) for leftovers in self.resume}

    def spider_idle(self, spider) -> None:
        """The leftovers are no item of the crawl's: keep it open until their records are handed
        to the archive (between a download and its write to disk, the engine sees nothing to do)."""
        self.resuming = {task for task in self.resuming if not task.done()}
        if self.resuming:
            raise DontCloseSpider

    # -- what to download -------------------------------------------------------------------

    def get_media_requests(self, item: Any, info) -> list[Request]:
        wants = item.wants if isinstance(item, Leftovers) else list(self._wants(item))
        requests, targets = [], []
        for key, url, html_expected in wants:
            request = self._request(url, html_expected)
            request.meta[KEY] = key  # what names its download in pieces (media_store.resumable_name)
            requests.append(request)
            targets.append((key, url))
        self.targets[id(item)] = targets
        return requests

    def _wants(self, item: Any):
        """(key, url, whether the file may be HTML) for each file of a page not asked for yet:
        a thread page's attachments and post images, a portal article page's images."""
        if not isinstance(item, FetchedPage):
            return
        if item.thread is not None:
            yield from self._thread_wants(item.thread)
        article = item.portal_article
        if article is not None and "images" in self.kinds:
            yield from self._image_wants(("portal_image", article.site, article.aid), article.images)

    def _thread_wants(self, thread):
        """An attachment with no link to ask is recorded at once with the page's reason."""
        if "attachments" in self.kinds and thread.extras is not None:
            for a in thread.extras.attachments:
                key = ("aid", a.site, a.aid)
                if key in self.done:
                    continue
                self.done.add(key)
                url = a.image_url if a.is_image and a.image_url else a.url
                if url is None:
                    why = "paid" if a.price else "denied"
                    said = a.denied or f"price {a.price} {a.price_credit or ''}".strip()
                    self._emit(AttachmentFile(a.site, a.aid, why, utc_now_iso(), message=said))
                    self.answers[(WHAT["aid"], why)] += 1
                    continue
                yield key, url, (a.filename or "").lower().endswith((".htm", ".html"))
        if "images" in self.kinds:
            for post in thread.posts:
                yield from self._image_wants(("image", thread.site, post.pid), post.images)

    def _image_wants(self, owner: tuple, urls):
        """The images of a post (("image", site, pid)) or of a portal article (("portal_image",
        site, aid)), each once; Discuz's own interface images are no one's content."""
        for url in urls or ():
            key = (*owner, url)
            if key not in self.done and not is_ui_image(url):
                self.done.add(key)
                yield key, url, False

    def _request(self, url: str, html_expected: bool = False, start: int | None = 0) -> Request:
        """The request for a file's piece at ``start`` (None: the whole file). Its cap is the
        file's: a server that ignores the Range sends the whole file, which is then kept whole."""
        cookies = getattr(self.crawler.spider, "cookies", None)
        request = Request(
            url,
            headers=cookie_header(cookies, url),
            meta={"download_maxsize": self.maxsize, "download_warnsize": self.maxsize, "archive_media_html": html_expected},
            dont_filter=True,
        )
        if start is None:
            return request
        # The first answer stays in memory until the file is done (MediaPipeline's call to
        # media_downloaded holds it), so the first piece is small: most images fit in it whole.
        return ask_piece(request, start, self.piece if start else min(self.piece, FIRST_PIECE))

    def media_to_download(self, request, info, *, item=None):
        return None  # what is stored already was left out by get_media_requests

    def file_path(self, request, response=None, info=None, *, item=None) -> str:
        """Unused by this store: a file's name is its content's hash, known once it is downloaded."""
        raise NotImplementedError("the media store names files by their SHA-256 (pipelines.media_store)")

    # -- what came back ---------------------------------------------------------------------

    async def media_downloaded(self, response, request, info, *, item=None) -> dict[str, Any]:
        html_expected = request.meta.get("archive_media_html", False)
        if response.status == 416:  # an empty file has no byte 0 to give: asked again whole
            response = await self._download(self._request(response.url, html_expected, start=None))
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or None
        span = content_range(response.headers) if response.status == 206 else None
        first = piece_of(response, 0) if span else response.body
        if refused := refused_answer(first, content_type, 200 if span else response.status, html_expected=html_expected):
            return {"status": refused[0], "message": refused[1], "url": response.url}
        if span and span[2] is not None and span[2] > self.maxsize:
            return {"status": "too_large", "message": f"{span[2]} bytes, over ARCHIVE_MEDIA_MAXSIZE", "url": response.url}
        if span:
            sha256, size = await self._in_pieces(response, html_expected, request.meta.get(KEY))
        else:  # the server ignored the Range: the whole file came (under the cap)
            sha256, size, _ = await maybe_deferred_to_future(deferToThread(self.store.put, response.body))
        self.crawler.stats.inc_value("archive/media/stored_bytes", size)
        return {"status": STORED, "sha256": sha256, "size": size, "content_type": content_type, "url": response.url}

    async def _in_pieces(self, response, html_expected: bool, key: tuple | None) -> tuple[str, int]:
        """The file whose first piece ``response`` is, piece after piece, into the store. A
        download stopped half way (the network, the run's end) is kept, and the next run's
        goes on from where it stopped when the file's first piece and size are the same."""
        url, total = response.url, content_range(response.headers)[2]
        resume_as = resumable_name(key, total) if key and total else None
        part = await maybe_deferred_to_future(deferToThread(self.store.part, resume_as))
        try:
            body = piece_of(response, 0)
            if part.size > len(body) and await maybe_deferred_to_future(deferToThread(part.starts_with, body)):
                logger.info("media: %s goes on from byte %d, where an earlier run stopped", url, part.size)
                self.crawler.stats.inc_value("archive/media/resumed")
            else:
                if part.size:  # another version of the file: start over
                    await maybe_deferred_to_future(deferToThread(part.restart))
                await self._write(part, body)
            while part.size < total if total is not None else len(body) == response.request.meta.get(WANTED):
                if part.size > self.maxsize:  # a total the server did not tell
                    raise Refused(PageKind.TOO_LARGE, f"over ARCHIVE_MEDIA_MAXSIZE after {part.size} bytes")
                # The piece is on disk: let it go before the next comes. Scrapy's download
                # machinery (its Deferreds, a stopped download's Failure) holds a response in
                # reference cycles, which only the cycle collector frees: left to its own
                # pace, pieces pile up. Its young generations are enough, and cheap.
                response = body = None
                gc.collect(1)
                response = await self._download(self._request(url, html_expected, start=part.size))
                body = piece_of(response, part.size)
                await self._write(part, body)
            sha256, size, _ = await maybe_deferred_to_future(deferToThread(part.finish))
            return sha256, size
        except BaseException as error:
            if isinstance(error, Refused) or getattr(error, "changed", False):
                part.abort()  # too large, or another file now: nothing to go on with
            else:
                part.stop()
            raise

    async def _write(self, part, body: bytes) -> None:
        await maybe_deferred_to_future(deferToThread(part.write, body))
        self.crawler.stats.inc_value("archive/media/pieces")

    async def _download(self, request: Request):
        """A request through the engine, as MediaPipeline makes a file's first."""
        self._modify_media_request(request)
        return await self.crawler.engine.download_async(request)

    def media_failed(self, failure: Failure, request, info) -> None:
        refusal = refusal_of(failure)
        status, message = (refusal.kind, refusal.message) if refusal else ("network", str(failure.value))
        if isinstance(failure.value, PieceError):
            status = "error"  # asked again by the next run
        if isinstance(failure.value, IgnoreRequest) and "robots.txt" in message:
            status = "robots"  # Discuz's stock robots.txt disallows /*?mod=attachment*
        self.failures[request.url] = (str(status), message)
        # robots.txt refuses files by the dozen on a stock Discuz: said once, at the end (close_spider)
        level = logging.DEBUG if status == "robots" else logging.WARNING
        logger.log(level, "media: %s not downloaded (%s): %s", request.url, status, message)

    def item_completed(self, results, item, info) -> Any:
        stamp = utc_now_iso()
        for (key, url), (ok, value) in zip(self.targets.pop(id(item), []), results):
            if ok and isinstance(value, dict):
                answer = value
            elif ok:  # media_failed said why
                status, message = self.failures.get(url, ("network", "failed"))
                answer = {"status": status, "message": message}
            else:
                answer = {"status": "error", "message": str(value.value)}
            self._record(key, answer, stamp)
        return item

    def _record(self, key: tuple, answer: dict[str, Any], stamp: str) -> None:
        status, sha256 = answer["status"], answer.get("sha256")
        self.crawler.stats.inc_value(f"archive/media/{status}")
        self.answers[(WHAT[key[0]], status)] += 1
        if sha256 and sha256 not in self.known:
            self.known.add(sha256)
            self._emit(MediaFile(sha256, answer["size"], answer.get("content_type"), answer["url"], stamp))
        if key[0] == "aid":
            path = stored_path(sha256) if sha256 else None
            self._emit(AttachmentFile(key[1], key[2], status, stamp, sha256, path, answer.get("message")))
        else:
            record = PostImageFile if key[0] == "image" else PortalImageFile
            self._emit(record(key[1], key[2], key[3], status, stamp, sha256, answer.get("message")))

    def close_spider(self, spider=None) -> None:
        """What the run's files came to, in a line or two at the end of the log."""
        statuses: Counter[str] = Counter()
        for (_, status), n in self.answers.items():
            statuses[status] += n
        stored = statuses.pop(STORED, 0)
        if stored or statuses:
            said = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
            logger.info("media: %d files stored%s", stored, f"; not stored: {said}" if said else "")
        if robots := {what: n for (what, status), n in sorted(self.answers.items()) if status == "robots"}:
            logger.warning(
                "media: %d files not downloaded (%s): the site's robots.txt forbids them (Discuz's own robots.txt"
                " disallows its attachment links, forum.php?mod=attachment). With the owner's consent, -s"
                " ROBOTSTXT_OBEY=False fetches them; the next run asks for them again.",
                sum(robots.values()), ", ".join(f"{n} {what}" for what, n in robots.items()),
            )  # fmt: skip

    def _emit(self, record: Any) -> None:
        """Hand a record to the archive pipeline: the archive's one writer stores it."""
        self.crawler.archive_store(record)

    # -- what the archive holds -------------------------------------------------------------

    def _read_archive(self) -> list[Leftovers]:
        """Mark what the archive has an answer for as done; return what it saw without one
        (an interrupted run's, or an archive crawled before the store was on) to ask for."""
        if not Path(self.archive).is_file():
            return []
        conn = sqlite3.connect(f"{Path(self.archive).resolve().as_uri()}?mode=ro", uri=True)
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        wants: list[tuple] = []
        try:
            if "attachments" in self.kinds and "attachments" in tables:
                for site, aid, status, url, image_url, is_image, filename, price, denied in conn.execute(
                    "SELECT site, aid, file_status, url, image_url, is_image, filename, price, denied FROM attachments"
                    " WHERE gone_since IS NULL"
                ):
                    key = ("aid", site, aid)
                    if status is not None and status not in RETRIED:
                        self.done.add(key)
                    elif (link := image_url if is_image and image_url else url) is not None:
                        self.done.add(key)
                        wants.append((key, link, (filename or "").lower().endswith((".htm", ".html"))))
            if "images" in self.kinds:
                wants += self._unanswered_images(conn, tables, "image", "post_images", "pid", ("articles", "comments"))
                wants += self._unanswered_images(conn, tables, "portal_image", "portal_images", "aid", ("portal_article_pages",))
            if "media" in tables:
                self.known = {sha256 for (sha256,) in conn.execute("SELECT sha256 FROM media")}
        finally:
            conn.close()
        return [Leftovers(wants[start : start + 100]) for start in range(0, len(wants), 100)]

    def _unanswered_images(self, conn, tables: set[str], kind: str, answers: str, owner: str, sources: tuple[str, ...]) -> list[tuple]:
        """Mark the images ``answers`` has an answer for as done; return the wants of those the
        ``sources`` (tables with an ``images`` JSON list per ``owner``) show without one."""
        if answers not in tables:
            return []
        retried = ", ".join(f"'{status}'" for status in RETRIED)
        conn.execute(f"CREATE TEMP TABLE answered_{answers} AS SELECT site, {owner} AS owner, url FROM {answers}"
                     f" WHERE status IS NOT NULL AND status NOT IN ({retried})")  # fmt: skip
        for site, owner_id, url in conn.execute(f"SELECT site, owner, url FROM answered_{answers}"):
            self.done.add((kind, site, owner_id, url))
        wants = []
        for table in (source for source in sources if source in tables):
            for site, owner_id, url in conn.execute(
                f"SELECT t.site, t.{owner}, j.value FROM {table} AS t, json_each(t.images) AS j"
                f" WHERE t.{owner} IS NOT NULL AND t.images LIKE '[%' AND NOT EXISTS (SELECT 1 FROM answered_{answers} AS a"
                f" WHERE a.site = t.site AND a.owner = t.{owner} AND a.url = j.value)"
            ):
                key = (kind, site, owner_id, url)
                if key not in self.done and not is_ui_image(url):
                    self.done.add(key)
                    wants.append((key, url, False))
        return wants


class Leftovers:
    """Files an earlier run saw and did not finish, asked for as one item's media."""

    def __init__(self, wants: list[tuple]):
        self.wants = wants
