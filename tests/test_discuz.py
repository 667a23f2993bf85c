"""The pure parser on real Discuz pages from six sites and four markup generations."""

from datetime import datetime, timezone

import pytest

from scraper.thread import parse_thread_page
from scraper.problems import PageProblem
from scraper.noise import looks_like_noise

# When the sample forum's v2 pages were saved (URLS.tsv fetch time), for relative dates.
V2_FETCHED = datetime.fromtimestamp(1795723252, timezone.utc)
X35 = "http://127.0.0.1:8080/"


def parse(fixture_bytes, name, url, **kwargs):
    return parse_thread_page(fixture_bytes(f"discuz/{name}"), url, **kwargs)


def assert_clean(page):
    for post in page.posts:
        assert not looks_like_noise(post.content_text), (post.pid, post.content_text)
        assert "jammer" not in post.content_html and "display:none" not in post.content_html


def test_x35_desktop_robot_view_page1(fixture_bytes):
    page = parse(fixture_bytes, "x35-robot-thread-1-p1.html", X35 + "forum.php?mod=viewthread&tid=1&page=1")
    assert (page.tid, page.page, page.page_count) == (1, 1, 6)
    assert page.title == "如何当好办公室主任"
    assert (page.fid, page.forum_name) == (2, "公文写作")
    assert page.generator == "Discuz! X3.5"
    assert page.site == "127.0.0.1:8080"
    assert page.replies == 52 and page.views > 1700
    assert [p.pid for p in page.posts] == list(range(1, 11))
    # robots get no floor numbers: they come from the position on page 1
    assert [p.floor for p in page.posts] == list(range(1, 11))
    article = page.article
    assert article.pid == 1 and article.author == "见习秘书" and article.author_uid == 2
    assert article.posted_at == "2013-02-18T22:17:00+08:00"
    assert article.content_text.startswith("如何当好办公室主任、如何提高办公室服务水平?我谈三点个人看法。\n\n一、主次分明")
    assert len(page.comments) == 9 and page.comments[0].author == "zhangwei"
    assert_clean(page)


def test_robot_page2_floors_from_position_and_hidden_flag(fixture_bytes):
    page = parse(fixture_bytes, "x35-robot-thread-1-p2.html", X35 + "forum.php?mod=viewthread&tid=1&page=2")
    assert page.article is None and len(page.comments) == 10
    assert [p.floor for p in page.posts] == list(range(11, 21))
    # pid 16 was deleted, so pids 11..21 hold floors 11..20
    assert [p.pid for p in page.posts] == [11, 12, 13, 14, 15, 17, 18, 19, 20, 21]
    hidden = page.posts[0]
    assert hidden.hidden and hidden.flags == ["hidden"]
    assert "很多朋友问完整版讲稿" in hidden.content_text and "回复后可见。" in hidden.content_text
    quoting = page.posts[2]
    assert (quoting.quote_pid, quoting.quote_author) == (12, "小王同学")
    assert quoting.content_text.startswith("> 小王同学 发表于 2013-4-9 14:52\n> 楼主是老秘书了吧")
    assert quoting.content_text.endswith("一样一样的，我们那儿也是。")
    assert_clean(page)


def test_touch_template(fixture_bytes):
    page = parse(fixture_bytes, "x35-touch-thread-16-p2.html", X35 + "forum.php?mod=viewthread&tid=16&page=2")
    assert (page.tid, page.page, page.page_count, page.title) == (16, 2, 8, "办公室工作“三个服务”的体会")
    assert (page.fid, page.forum_name) == (3, "职场交流")
    assert [p.pid for p in page.posts] == list(range(166, 176))
    assert [p.floor for p in page.posts] == list(range(11, 21))
    assert page.posts[0].author == "见习秘书" and page.posts[0].content_text == "前排围观，大佬们都在。"
    assert_clean(page)


def test_code_block_lines_and_edit_note(fixture_bytes):
    page = parse(fixture_bytes, "x35-robot-thread-26-p1.html", X35 + "thread-26-1-1.html")
    code = page.article.content_text
    assert "import re\nfrom pathlib import Path\n" in code
    assert "复制代码" not in code
    page2 = parse(fixture_bytes, "x35-robot-thread-26-p2.html", X35 + "thread-26-2-1.html")
    edited = next(p for p in page2.posts if p.pid == 308)
    assert (edited.edited_by, edited.edited_at) == ("文字匠", "2026-11-27T03:55:00+08:00")
    assert edited.content_text == "每次看都有新收获。\n\n（编辑补充：已在 Python 3.12 下测试通过。）"
    assert "本帖最后由" not in edited.content_html


def test_relative_dates_resolve_from_span_title(fixture_bytes):
    page = parse(
        fixture_bytes, "x35-robot-thread-16-p2.html", X35 + "thread-16-2-1.html", fetched_at=V2_FETCHED
    )
    assert all(p.posted_at and p.posted_at.endswith("+08:00") for p in page.posts)


@pytest.mark.parametrize(
    "name, tid, pages, posts, first_author, sentence",
    [
        ("x34-utf8-talkop-thread-p1of10.html", 107596, 10, 10, "鹰目", "本帖内容为独立汉化作品"),
        ("x34-utf8-talkop-thread-p1of12.html", 109750, 12, 10, "鹰目", None),
        ("x34-utf8-talkop-thread-p1of8.html", 116000, 8, 10, "鹰目", None),
        ("x34-utf8-talkop-thread-p1of6.html", 112530, 6, 10, "TalkOP情报员", None),
        ("x34-utf8-talkop-thread-edited-notice-p1of9.html", 108081, 9, 10, "TalkOP情报员", None),
        ("x34-utf8-talkop-thread-credit-locked-p1of10.html", 117429, 10, 10, "鹰目", "禁止任何形式转载"),
        ("x34-utf8-talkop-thread-attach-images-p1of8.html", 108869, 8, 10, "鹰目", None),
    ],
)
def test_talkop_x34_pages(fixture_bytes, name, tid, pages, posts, first_author, sentence):
    page = parse(fixture_bytes, name, f"http://bbs.talkop.com/thread-{tid}-1-1.html")
    assert (page.tid, page.page, page.page_count, len(page.posts)) == (tid, 1, pages, posts)
    assert page.title.startswith("【TalkOP汉化】海贼王资料集生命卡ONE PIECE图鉴")
    assert (page.fid, page.forum_name, page.generator) == (49, "TalkOP汉化区", "Discuz! X3.4")
    assert page.article.author == first_author and page.article.floor == 1
    assert [p.floor for p in page.posts] == list(range(1, 11))
    # the guest prompt inside the message is Discuz's UI, not the post
    assert "马上注册" not in page.article.content_text
    if sentence:
        assert sentence in page.article.content_text
    assert_clean(page)


def test_lazy_images_get_their_real_src(fixture_bytes):
    page = parse(fixture_bytes, "x34-utf8-talkop-thread-attach-images-p1of8.html", "http://bbs.talkop.com/thread-108869-1-1.html")
    images = page.article.images
    assert "http://bbsimg.talkop.com/forum/201811/01/220444z2zf8xf3xcxztjcc.jpg" in images
    assert not any("none.gif" in src for src in images)
    assert 'src="http://bbsimg.talkop.com/forum/201811/01/220444z2zf8xf3xcxztjcc.jpg"' in page.article.content_html
    assert any("mod=attachment" in url for url in page.article.attachments)
    assert "onclick" not in page.article.content_html and "<script" not in page.article.content_html


def test_edit_notes_in_two_languages(fixture_bytes):
    page = parse(fixture_bytes, "x34-utf8-talkop-thread-edited-notice-p1of9.html", "http://bbs.talkop.com/thread-108081-1-1.html")
    edited = [p for p in page.posts if p.edited_by]
    assert [(p.floor, p.edited_by, p.edited_at) for p in edited] == [
        (3, "凫火鸟", "2018-10-04T19:28:00+08:00"),
        (5, "安知晓", "2018-10-04T22:12:00+08:00"),
    ]
    uyghur = parse(fixture_bytes, "x25-utf8-bagdax-uyghur-rtl-thread-replyhidden-p1of37.html", "http://bbs.bagdax.cn/thread13734.html")
    first = uyghur.article
    assert (first.edited_by, first.edited_at) == ("ohuztigin", "2013-12-02T09:04:00+08:00")
    assert first.hidden  # reply-to-view block, with its notice in Uyghur


def test_x25_uyghur_rtl(fixture_bytes):
    page = parse(fixture_bytes, "x25-utf8-bagdax-uyghur-rtl-thread-p1of5.html", "http://bbs.bagdax.cn/thread4460.html")
    assert (page.tid, page.page, page.page_count) == (4460, 1, 5)
    assert page.title == "تۈركىي قېرىنداش مىللەتلەر"
    assert (page.fid, page.generator, page.views, page.replies) == (23, "Discuz! X2.5", 5112, 44)
    assert page.article.author == "arsilan" and page.article.posted_at == "2011-10-14T13:48:28+08:00"
    assert len(page.posts[1].images) == 5  # the attachment list below the message
    assert page.page_urls[2] == "http://bbs.bagdax.cn/thread4460-2.html"


def test_single_post_thread_from_static_mirror(fixture_bytes):
    page = parse(fixture_bytes, "x34-utf8-bapuro-mirror-thread-single-post-a.html", "http://www.bapuro.net/thread-1-1-1.html")
    assert (page.title, page.page_count, len(page.posts), page.comments) == ("TEST，测试帖", 1, 1, [])
    assert page.article.content_text == "111111111111111" and page.article.author == "bapuro"
    empty = parse(fixture_bytes, "x34-utf8-bapuro-mirror-thread-single-post-empty-b.html", "http://www.bapuro.net/thread-3-1-1.html")
    assert empty.article.content_text == "" and empty.title == "测试测试"


def test_legacy_template_whose_meta_lies_about_its_charset(fixture_bytes):
    body = fixture_bytes("discuz/d6era-metagbk-bytesutf8-shiftcn-wayback-thread-legacy.html")
    assert b'charset=gbk' in body
    page = parse_thread_page(body, "https://shiftcn.com/bbs/read.php?tid-17017.html")
    assert page.tid == 17017 and len(page.posts) == 10
    assert [p.floor for p in page.posts] == list(range(1, 11))
    first = page.article
    assert (first.pid, first.author, first.posted_at) == (390651, "the_ghost", "2007-10-19T03:00:00+08:00")
    assert first.content_text == "---===本内容被隐藏 跟帖回复才可浏览===---"
    assert page.posts[2].content_text == "chekkit"


def test_forum_listings_are_not_thread_pages(fixture_bytes):
    with pytest.raises(PageProblem) as problem:
        parse(fixture_bytes, "x34-utf8-talkop-forumdisplay.html", "http://bbs.talkop.com/forum-49-1.html")
    assert problem.value.kind == "no_posts"


@pytest.mark.parametrize("charset", ["gbk", "gb2312", "big5"])
def test_other_encodings_decode_to_the_same_posts(fixture_bytes, charset):
    """The same real page served as a GBK, GB2312 or Big5 forum would serve it."""
    original = fixture_bytes("discuz/x35-robot-thread-16-p1.html")
    text = original.decode("utf-8").replace('<meta charset="utf-8" />', f'<meta charset="{charset}" />')
    codec = {"gbk": "gb18030", "gb2312": "gb18030", "big5": "big5hkscs"}[charset]
    body = text.encode(codec, errors="xmlcharrefreplace")
    url = X35 + "thread-16-1-1.html"
    expected = parse_thread_page(original, url)
    page = parse_thread_page(body, url)
    assert page.title == expected.title == "办公室工作“三个服务”的体会"
    assert [(p.pid, p.author, p.content_text) for p in page.posts] == [
        (p.pid, p.author, p.content_text) for p in expected.posts
    ]
    # and when only the HTTP header names the charset
    headerless = body.replace(f'<meta charset="{charset}" />'.encode(), b"")
    page = parse_thread_page(headerless, url, content_type=f"text/html; charset={charset.upper()}")
    assert page.posts[0].author == "笔杆子"
