"""Markup the common X3 desktop layout does not have (issue 21), each class on a real page:
image attachments known only by their address, and the rest as the corpus finds them."""

from scraper.thread import parse_thread_page


def parse(fixture_bytes, name, url, **kwargs):
    return parse_thread_page(fixture_bytes(f"discuz/{name}"), url, **kwargs)


def test_image_attachments_known_only_by_their_address(fixture_bytes):
    """X2.5 lists images with no aid attribute, no aimg_ id, no file=: the aid is in the src
    alone (forum.php?mod=attachment&aid=base64 of "aid|hash|time|uid|tid")."""
    page = parse(fixture_bytes, "x25-utf8-bagdax-uyghur-rtl-thread-p1of5.html", "http://bbs.bagdax.cn/thread4460.html")
    attachments = page.extras.attachments
    assert [a.aid for a in attachments] == [1770, 1771, 1772, 1773, 1774]
    assert {a.pid for a in attachments} == {page.posts[1].pid}
    first = attachments[0]
    assert first.is_image and first.filename == "سالار مىللىتى"
    assert first.url == first.image_url == (
        "http://bbs.bagdax.cn/media/forum.php?mod=attachment&aid=MTc3MHxkYzAzMWIyM3wxMzgyODUwNDg5fDB8NDQ2MA%3D%3D&noupdate=yes"
    )
    assert first.denied is None  # shown, not refused


def test_guide_lists_and_custom_rewrite_urls_are_seeds(tmp_path):
    """The "latest threads" list many users start from, and forums and threads in a site's own
    rewrite form, are crawled from their own URLs (they were refused: not a Discuz URL)."""
    import asyncio

    from scrapy.utils.test import get_crawler

    from spiders.discuz import DiscuzSpider

    seeds = "http://x.cn/forum.php?mod=guide&view=hot http://x.cn/f45-1 http://x.cn/t123-1-1"
    crawler = get_crawler(DiscuzSpider, {"ARCHIVE_DB": str(tmp_path / "archive.db")})
    spider = DiscuzSpider.from_crawler(crawler, url=seeds)

    async def first_requests():
        return [request async for request in spider.start()]

    requests = asyncio.run(first_requests())
    asked = {(r.callback.__name__, tuple(sorted(r.cb_kwargs.items()))) for r in requests}
    assert ("parse_guide", (("page", 1),)) in asked
    assert ("parse_forum", (("fid", 45), ("page", 1))) in asked
    assert any(name == "parse_thread" and dict(kwargs)["tid"] == 123 for name, kwargs in asked)
    assert not crawler.stats.get_value("archive/skipped_seeds")


def test_a_thread_in_a_mirrors_own_url_form_is_crawled_from_it(tmp_path, fixture_bytes):
    """The bagdax archive names its threads thread4460.html and thread4460-2.html: the seed is
    read as thread 4460, its posts and attachments archived, its page 2 asked in that form."""
    import asyncio

    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from spiders.discuz import DiscuzSpider

    seed = "http://bbs.bagdax.cn/thread4460.html"
    crawler = get_crawler(DiscuzSpider, {"ARCHIVE_DB": str(tmp_path / "archive.db")})
    spider = DiscuzSpider.from_crawler(crawler, url=seed)

    async def crawl_seed():
        [request] = [r async for r in spider.start()]
        body = fixture_bytes("discuz/x25-utf8-bagdax-uyghur-rtl-thread-p1of5.html")
        response = HtmlResponse(seed, body=body, headers={"Content-Type": "text/html; charset=utf-8"}, request=request)
        return request, [output async for output in request.callback(response, **request.cb_kwargs)]

    request, outputs = asyncio.run(crawl_seed())
    assert (request.callback.__name__, request.cb_kwargs["tid"], request.cb_kwargs["page"]) == ("parse_thread", 4460, 1)
    page = outputs[0].thread
    assert (page.tid, page.page_count, len(page.posts)) == (4460, 5, 10)
    assert [a.aid for a in page.extras.attachments] == [1770, 1771, 1772, 1773, 1774]
    asked = {r.url: r.cb_kwargs["page"] for r in outputs[1:] if getattr(r, "callback", None) == spider.parse_thread}
    assert asked["http://bbs.bagdax.cn/thread4460-2.html"] == 2


def test_only_page_one_of_a_thread_read_newest_first_numbers_its_replies_one_below():
    """forum_viewthread.php counts the floors of a thread read newest first from its page's
    start; on page 1 the first post ("#" alone) takes a number, so the replies there show one
    below their floors, and on later pages (no first post) each shows its own. mcbbs' page 1,
    and the same replies served as a later page (its first post taken out)."""
    from pathlib import Path

    from lxml import html

    body = (Path(__file__).parent / "corpus/pages/x34-utf8-mcbbs-thread-p1.html").read_bytes()
    first = parse_thread_page(body, "https://www.mcbbs.net/thread-857907-1-1.html")
    assert [post.floor for post in first.posts] == [1, 5, 4, 3, 2]  # 地板 板凳 沙发 楼主 shown
    root = html.document_fromstring(body)
    for post in root.xpath("//div[@id='post_14205395']"):
        post.getparent().remove(post)
    later = parse_thread_page(html.tostring(root, encoding="utf-8"), "https://www.mcbbs.net/thread-857907-2-1.html")
    assert [(post.pid, post.floor) for post in later.posts] == [(14206714, 4), (14206675, 3), (14206663, 2), (14206658, 1)]
