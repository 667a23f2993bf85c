"""The spider's decisions about the pages a thread page leads to and the portal (spiders.extras),
one callback at a time, on the discuz-x-features snapshot's saved pages
(tests/fixtures/discuz-x-features); tests/test_features_crawl.py runs them through Scrapy."""

import asyncio
from pathlib import Path

import pytest
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler

from pipelines.store import open_archive, save_in_one_transaction
from scraper.models import CommentsRead, FetchedPage
from spiders.discuz import DiscuzSpider

FOLDER = Path(__file__).parent / "fixtures" / "discuz-x-features" / "v1"
BASE = "http://127.0.0.1:8082/"


def spider(db_path: Path, **arguments) -> DiscuzSpider:
    crawler = get_crawler(DiscuzSpider, {"ARCHIVE_DB": str(db_path)})
    return DiscuzSpider.from_crawler(crawler, url=BASE + "forum.php", **arguments)


def answer(request: Request) -> TextResponse:
    """The snapshot's file for the request (its name: the path, "@" and the query, ".html")."""
    name = request.url.removeprefix(BASE).replace("?", "@", 1)
    name = name if name.endswith(".html") else name + ".html"
    content_type = "text/xml; charset=utf-8" if "inajax=1" in name else "text/html; charset=utf-8"
    body = (FOLDER / name).read_bytes()
    return TextResponse(request.url, status=200, headers={"Content-Type": content_type}, body=body, request=request)


def outputs(request: Request) -> list:
    async def collect():
        return [output async for output in request.callback(answer(request), **request.cb_kwargs)]

    return asyncio.run(collect())


def thread_request(the_spider: DiscuzSpider, tid: int) -> Request:
    return the_spider._thread_request(f"{BASE}thread-{tid}-1-1.html", "127.0.0.1:8082", tid, 1)


def requests_of(items: list) -> list[Request]:
    return [item for item in items if isinstance(item, Request)]


def test_a_post_with_more_comments_is_read_page_after_page_then_said_complete(tmp_path):
    the_spider = spider(tmp_path / "a.db")
    followups = requests_of(outputs(thread_request(the_spider, 6)))
    (more,) = [r for r in followups if "commentmore" in r.url]
    assert (more.meta["asked_as"], more.cb_kwargs["pid"], more.cb_kwargs["page"]) == ("commentmore", 57, 2)
    items = outputs(more)
    (page_3,) = requests_of(items)
    assert page_3.cb_kwargs["page"] == 3 and not [i for i in items if isinstance(i, CommentsRead)]
    (read,) = [item for item in outputs(page_3) if isinstance(item, CommentsRead)]
    assert (read.tid, read.pid, len(read.keys), len(set(read.keys))) == (6, 57, 12, 12)


def test_a_post_s_comments_read_by_different_workers_are_still_said_complete(tmp_path):
    """In a distributed crawl each commentmore page may be read by another worker: what was
    read so far travels with the requests, so the last worker says it whole."""
    (more,) = [r for r in requests_of(outputs(thread_request(spider(tmp_path / "a.db"), 6))) if "commentmore" in r.url]
    (page_3,) = requests_of(outputs(Request(more.url, callback=spider(tmp_path / "b.db").parse_commentmore,
                                            cb_kwargs=more.cb_kwargs, meta=more.meta)))
    last = spider(tmp_path / "c.db")
    (read,) = [item for item in outputs(Request(page_3.url, callback=last.parse_commentmore, cb_kwargs=page_3.cb_kwargs))
               if isinstance(item, CommentsRead)]
    assert (read.pid, len(read.keys), len(set(read.keys))) == (57, 12, 12)


def test_a_comment_page_asked_again_alone_reads_on_and_says_nothing_complete(tmp_path):
    the_spider = spider(tmp_path / "a.db")
    url = BASE + "forum.php?mod=misc&action=commentmore&tid=6&pid=57&page=2&inajax=1&ajaxtarget=comment_57"
    retried = the_spider._retry_request(url, "127.0.0.1:8082")
    (page_3,) = requests_of(outputs(retried))
    assert page_3.cb_kwargs["page"] == 3
    assert not [item for item in outputs(page_3) if isinstance(item, CommentsRead)]


def test_the_full_ratings_list_only_where_the_page_shows_the_latest_raters(tmp_path):
    the_spider = spider(tmp_path / "a.db")
    asked = [r.url for r in requests_of(outputs(thread_request(the_spider, 1))) if "viewratings" in r.url]
    assert asked == [BASE + "forum.php?mod=misc&action=viewratings&tid=1&pid=1"]
    assert not [r for r in requests_of(outputs(thread_request(the_spider, 2))) if "viewratings" in r.url]


def test_profiles_only_when_asked_and_once_per_member(tmp_path):
    assert not [r for r in requests_of(outputs(thread_request(spider(tmp_path / "a.db"), 6))) if "home.php" in r.url]
    the_spider = spider(tmp_path / "b.db", user_profiles="1")
    profiles = [r for r in requests_of(outputs(thread_request(the_spider, 6))) if "home.php" in r.url]
    assert profiles and all(r.meta["asked_as"] == "profile" and r.url.endswith("&do=profile") for r in profiles)
    again = [r for r in requests_of(outputs(thread_request(the_spider, 1))) if "home.php" in r.url]
    assert not {r.url for r in again} & {r.url for r in profiles}


def test_an_archived_article_is_not_read_again_unless_refresh_all(tmp_path):
    db_path = tmp_path / "a.db"
    the_spider = spider(db_path)
    listing = Request(BASE + "portal.php?mod=list&catid=1", callback=the_spider.parse_portal_list)
    first = [r.url for r in requests_of(outputs(listing)) if "article-" in r.url or "mod=view" in r.url]
    assert first
    pages, queue = [], [Request(url, callback=the_spider.parse_portal_article) for url in first]
    while queue:
        for item in outputs(queue.pop()):
            if isinstance(item, FetchedPage):
                pages.append(item)
            elif isinstance(item, Request) and item.callback == the_spider.parse_portal_article:
                queue.append(item)
    assert len(pages) == 2  # catid 1 lists aid 1, of two pages
    save_in_one_transaction(open_archive(db_path), pages)
    for arguments, expected in (({}, []), ({"refresh": "all"}, first)):
        later = spider(db_path, **arguments)
        later._archived_articles["127.0.0.1:8082"] = later.state.portal_articles_read("127.0.0.1:8082")
        listing = Request(BASE + "portal.php?mod=list&catid=1", callback=later.parse_portal_list)
        assert [r.url for r in requests_of(outputs(listing)) if r.callback == later.parse_portal_article] == expected


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_user_profiles_takes_yes_or_no(tmp_path, value):
    with pytest.raises(ValueError, match="user_profiles"):
        spider(tmp_path / "a.db", user_profiles=value)


def test_a_portal_page_given_as_the_seed_is_read_from_there(tmp_path):
    """An article (any of its pages) reads its other pages and its comments; a category list
    walks on from that list; portal.php probes the portal as a site's index does."""
    crawler = get_crawler(DiscuzSpider, {"ARCHIVE_DB": str(tmp_path / "a.db")})
    seeds = [BASE + "article-1-2.html", BASE + "portal.php?mod=list&catid=2", BASE + "portal.php"]
    the_spider = DiscuzSpider.from_crawler(crawler, url=" ".join(seeds))

    async def started():
        return [request async for request in the_spider.start()]

    article, listing, index = asyncio.run(started())
    assert [(r.url, r.meta["asked_as"]) for r in (article, listing, index)] == [
        (seeds[0], "portal_article"), (seeds[1], "portal_list"), (seeds[2], "portal_list")]
    assert (listing.cb_kwargs, index.cb_kwargs) == ({}, {"probe": True})
    followed = {(r.url, r.meta["asked_as"]) for r in requests_of(outputs(article))}
    assert followed == {(BASE + "article-1-1.html", "portal_article"),
                        (BASE + "portal.php?mod=comment&id=1&idtype=aid", "portal_comments")}
    assert [r.url for r in requests_of(outputs(listing)) if r.callback == the_spider.parse_portal_article]
