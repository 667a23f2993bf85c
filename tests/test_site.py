"""python -m export site on the feature forum archived with ``-a media=all``: the mirror shows
every thread, post, 点评, rating, poll, tag, attachment, member and portal article; no internal
link is broken and every image is a stored file; a browser finds a thread's poll, ratings and 点评
from disk, and posts by a one- and a two-character search; nginx with the mirror's rules sends the
dynamic forms to their pages (where nginx is installed); datasette shows every page the same, and
both pass axe-core's contrast rule. A second export writes nothing it already wrote.

The features snapshot and its media fixture are served together on 127.0.0.1 (as
tests/test_media.py serves the media); the crawl runs as the forum's owner, ROBOTSTXT_OBEY off.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest
from lxml import html as lxml_html
from sqlite_utils import Database

from export.site import StaticLinks
from sample_forum.server import serve
from test_datasette import chromium, dump_dom, get, serve_datasette, status  # noqa: F401 (chromium: a fixture)
from tests.features_truth import HERE, OWNER, SAVED_AT

ROOT = Path(__file__).parent.parent
AXE = ROOT / ".ci" / "npm" / "node_modules" / "axe-core" / "axe.min.js"  # .ci/run installs it


@pytest.fixture(scope="module")
def archive(tmp_path_factory, scrapy_crawl) -> Path:
    """The features snapshot (v1) with its media fixture, crawled from its index with media=all
    and the members' profile pages (members only, on this forum)."""
    folder = tmp_path_factory.mktemp("site")
    snapshot = folder / "snapshot"
    snapshot.mkdir()
    urls = (HERE / "served-v1" / "URLS.tsv").read_text("utf-8").splitlines()
    known = {line.split("\t")[0] for line in urls}
    media = (HERE / "media" / "URLS.tsv").read_text("utf-8").splitlines()[1:]
    (snapshot / "URLS.tsv").write_text("\n".join(urls + [line for line in media if line.split("\t")[0] not in known]) + "\n", "utf-8")
    db_path = folder / "archive.db"
    with serve(str(snapshot), 0, saved_at=SAVED_AT, fallback=[HERE / "served-v1", HERE / "v1", HERE / "media"]) as forum:
        scrapy_crawl(db_path, f"url={forum.base_url}forum.php", "media=all", "user_profiles=1", settings=OWNER)
    return db_path


def export_site(db_path: Path, out: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "export", "site", "--db", str(db_path), "-o", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def mirror(archive, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mirror")
    export_site(archive, out)
    return out


def pages_of(mirror: Path, pattern: str) -> dict[str, lxml_html.HtmlElement]:
    return {path.name: lxml_html.fromstring(path.read_text("utf-8")) for path in sorted(mirror.glob(pattern))}


def text(document) -> str:
    return re.sub(r"\s+", " ", document.text_content())


def test_every_thread_post_comment_rating_poll_tag_attachment_and_article_is_in_the_mirror(archive, mirror):
    db = Database(archive)
    threads = pages_of(mirror, "thread-*-*-1.html")
    by_tid: dict[int, list] = {}
    for name, document in threads.items():
        by_tid.setdefault(int(name.split("-")[1]), []).append(document)
    assert set(by_tid) == {row[0] for row in db.execute("SELECT tid FROM articles")}
    shown = {int(post.get("data-pid")): post for documents in by_tid.values() for document in documents
             for post in document.xpath("//article[@data-pid]")}
    assert set(shown) == {row[0] for row in db.execute("SELECT pid FROM posts")}
    for pid, tid, floor in db.execute("SELECT pid, tid, floor FROM posts"):
        assert int(shown[pid].get("data-floor")) == floor
    for pid, author, comment in db.execute("SELECT pid, author, content_text FROM post_comments"):
        items = [text(li) for li in shown[pid].xpath(".//li[@class='post-comment']")]
        assert any(author in item and comment in item for item in items), (pid, comment)
    for pid, rater, credit, score, reason in db.execute("SELECT pid, rater, credit, score, reason FROM ratings"):
        rows = [[text(td).strip() for td in row.xpath("td")] for row in shown[pid].xpath(".//tr[@class='rating']")]
        assert [rater, credit, f"{score:+d}", reason or ""] in [row[:4] for row in rows], (pid, rater)
    for tid, number, option, votes in db.execute("SELECT tid, option_no, text, votes FROM poll_options"):
        rows = [[text(td).strip() for td in row.xpath("td")] for row in by_tid[tid][0].xpath("//tr[@class='poll-option']")]
        assert [f"{number}. {option}", str(votes)] in [row[:2] for row in rows]
    for tid, tag in db.execute("SELECT tid, tag FROM thread_tags"):
        assert tag in by_tid[tid][0].xpath("//p[@class='tags']//a/text()")
    for pid, filename, size in db.execute("SELECT pid, filename, size_shown FROM attachments"):
        assert any(filename in text(li) and size in text(li) for li in shown[pid].xpath(".//li[@class='attachment']"))
    for aid, title, pages in db.execute("SELECT aid, title, page_count FROM portal_articles"):
        for page in range(1, (pages or 1) + 1):
            assert title in text(lxml_html.fromstring((mirror / f"article-{aid}-{page}.html").read_text("utf-8")))
    for aid, comment in db.execute("SELECT aid, content_text FROM portal_comments"):
        assert comment in (mirror / f"article-{aid}-1.html").read_text("utf-8")
    index = (mirror / "index.html").read_text("utf-8")
    for fid, name in db.execute("SELECT fid, name FROM forums"):
        assert f'href="forum-{fid}-1.html">{name}<' in index
    pages = {path.name: path.read_text("utf-8") for path in mirror.glob("*.html")}
    assert all('<html lang="zh-CN">' in page[:100] for page in pages.values())
    # the rest reads without; a long thread's first page only sends a link to a later page's post on
    long_threads = {f"thread-{tid}-1-1.html" for (tid,) in db.execute(
        "SELECT DISTINCT tid FROM comments WHERE floor > (SELECT posts_per_page FROM sites)")}
    assert long_threads and {name for name, page in pages.items() if "<script" in page} == {"search.html", *long_threads}


def test_every_member_has_a_page_with_what_the_archive_knows_their_threads_and_replies(archive, mirror):
    """space-uid-UID.html, as Discuz names it, for everyone a post, 点评 or rating names: their
    profile as far as guests could read it, in the page's language; every thread they started;
    every reply, linked to its floor; and every post's author leads there."""
    from browse.forum import member_ids

    db, links = Database(archive), StaticLinks()
    site, size = db.execute("SELECT site, posts_per_page FROM sites").fetchone()
    uids = list(member_ids(db.conn, site))
    profiles = dict(db.execute("SELECT uid, profile_status FROM users").fetchall())
    assert set(profiles) < set(uids) and set(profiles.values()) == {"members_only"}  # uid 1 only rates and writes articles
    for uid in uids:
        documents = [lxml_html.fromstring(path.read_text("utf-8")) for path in
                     [mirror / links.member(uid)] + sorted(mirror.glob(f"space-uid-{uid}-*.html"))]
        threads = {int(tid) for document in documents for tid in document.xpath("//tr[@class='thread-row']/@data-tid")}
        assert threads == {tid for (tid,) in db.execute("SELECT tid FROM articles WHERE author_uid = ?", [uid])}, uid
        replies = {href for document in documents for href in document.xpath("//li[@class='reply']/a/@href")}
        assert replies == {links.post(tid, (floor - 1) // size + 1, pid) for tid, pid, floor in
                           db.execute("SELECT tid, pid, floor FROM comments WHERE author_uid = ?", [uid])}, uid
        status = {row.xpath("string(th)"): row.xpath("string(td)") for row in documents[0].xpath("//table[@class='profile']/tr")}
        assert status.get("资料页") == ("仅会员可见，未存档" if uid in profiles else None), (uid, status)
        assert "members_only" not in text(documents[0])
    for path in mirror.glob("thread-*.html"):
        for post in lxml_html.fromstring(path.read_text("utf-8")).xpath("//article[@data-pid]"):
            uid = db.execute("SELECT author_uid FROM posts WHERE pid = ?", [int(post.get("data-pid"))]).fetchone()[0]
            assert post.xpath("header/span[@class='author']/a/@href") == [links.member(uid)], (path.name, uid)


def test_no_internal_link_is_broken_and_every_image_is_a_stored_file(archive, mirror):
    checked = 0
    for path in mirror.glob("*.html"):
        document = lxml_html.fromstring(path.read_text("utf-8"))
        ids = set(document.xpath("//@id"))
        for element, attribute in [(e, "href") for e in document.xpath("//*[@href]")] + [(e, "src") for e in document.xpath("//*[@src]")]:
            target = urllib.parse.urlsplit(element.get(attribute))
            if target.scheme or target.netloc:
                assert attribute == "href" and element.tag == "a", (path.name, element.get(attribute))  # outside: a link, never an image
                continue
            if not target.path:
                assert target.fragment in ids, (path.name, element.get(attribute))
                continue
            file = mirror / urllib.parse.unquote(target.path)
            assert file.is_file(), (path.name, element.get(attribute))
            if target.fragment and file.suffix == ".html":
                assert f'id="{target.fragment}"' in file.read_text("utf-8"), (path.name, element.get(attribute))
            if element.tag == "img":
                assert target.path.startswith("media/") and hashlib.sha256(file.read_bytes()).hexdigest() == file.name
            checked += 1
    assert checked > 500
    stored = {row[0] for row in Database(archive).execute("SELECT sha256 FROM post_images WHERE sha256 IS NOT NULL")}
    shown = {Path(src).name for path in mirror.glob("thread-*.html")
             for src in lxml_html.fromstring(path.read_text("utf-8")).xpath("//img/@src")}
    assert stored and stored <= shown


def test_each_forum_list_page_holds_the_threads_the_forums_own_page_held(mirror):
    """Sticky first, then by last post, five a page as this forum had it: forum-F-P.html of the
    mirror lists what the saved forum-F-P.html listed, in its order, so old links find them."""
    saved = sorted((HERE / "served-v1").glob("forum-*-*.html"))
    assert len(saved) == 6
    for path in saved:
        listed = [int(tid) for tid in re.findall(r'<tbody id="(?:normal|stick)thread_(\d+)"', path.read_text("utf-8"))]
        shown = lxml_html.fromstring((mirror / path.name).read_text("utf-8")).xpath("//tr[@class='thread-row']/@data-tid")
        assert [int(tid) for tid in shown] == listed, path.name
    assert not list(mirror.glob("forum-*-3.html"))


def test_a_ratings_time_is_shown_where_the_forum_gave_one_and_no_empty_column_elsewhere(archive, mirror):
    """Discuz's thread page lists ratings without times; its full list (viewratings) has them:
    a post whose ratings came with times shows them, the others have no empty 时间 column."""
    from browse.render import date

    db = Database(archive)
    posts = {int(post.get("data-pid")): post for path in mirror.glob("thread-*.html")
             for post in lxml_html.fromstring(path.read_text("utf-8")).xpath("//article[@data-pid]")}
    timed = 0
    for pid, times in db.execute("SELECT pid, json_group_array(rated_at) FROM ratings GROUP BY pid"):
        shown = [[text(td).strip() for td in row.xpath("td")] for row in posts[pid].xpath(".//tr[@class='rating']")]
        if any(json.loads(times)):
            assert sorted(row[4] for row in shown) == sorted(date(at) for at in json.loads(times)), pid
            timed += 1
        else:
            assert {len(row) for row in shown} == {4} and "时间" not in text(posts[pid].xpath(".//table")[0]), pid
    assert timed == 1  # tid 1's first post: its rating list was read whole


def test_a_quotes_own_link_leads_to_the_quoted_post_in_the_mirror_not_to_the_dead_forum(archive, mirror):
    """Discuz links a quote's author and time to the quoted post (forum.php?mod=redirect&goto=findpost):
    in the mirror that link leads where the template's 引用 link does."""
    quotes = 0
    for path in mirror.glob("thread-*.html"):
        page = lxml_html.fromstring(path.read_text("utf-8"))
        assert not page.xpath("//a[contains(@href, 'goto=findpost')]"), path.name
        for post in page.xpath("//article[.//a[@class='quote-link']]"):
            [quote_link] = post.xpath(".//a[@class='quote-link']/@href")
            assert post.xpath(".//div[@class='message']//blockquote//a/@href")[:1] == [quote_link], path.name
            quotes += 1
    assert quotes == Database(archive).execute("SELECT count(*) FROM comments WHERE quote_pid IS NOT NULL").fetchone()[0] == 5


def test_the_dynamic_forms_have_their_redirect_rules_and_pages(mirror):
    rules = (mirror / "_redirects").read_text().splitlines()
    # Netlify takes the first rule that matches: the one that names the page first
    assert rules.index("/forum.php mod=viewthread tid=:tid page=:page /thread-:tid-:page-1.html 301") < rules.index(
        "/forum.php mod=viewthread tid=:tid /thread-:tid-1-1.html 301")
    assert "/forum.php mod=redirect ptid=:ptid /thread-:ptid-1-1.html 301" in rules
    assert "return 301 /thread-$arg_tid-$page-1.html" in (mirror / "nginx-redirects.conf").read_text()
    assert "thread-" in (mirror / "forum.php").read_text() and (mirror / "viewthread.php").is_file()


NGINX_CONF = """daemon off;
{user}
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/client; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        include {root}/nginx-redirects.conf;
    }}
}}
"""


def test_nginx_with_the_mirrors_rules_sends_the_dynamic_forms_to_their_pages(mirror, tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user="user root root;" if os.geteuid() == 0 else "", work=tmp_path, port=port, root=mirror))
    server = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        for asked, page in [("/forum.php?mod=viewthread&tid=4", "/thread-4-1-1.html"), ("/viewthread.php?tid=8", "/thread-8-1-1.html"),
                            ("/forum.php?mod=viewthread&tid=1&extra=page%3D1&page=3", "/thread-1-3-1.html"),
                            ("/viewthread.php?tid=1&page=2", "/thread-1-2-1.html"),
                            ("/forum.php?mod=redirect&goto=findpost&ptid=2&pid=30", "/thread-2-1-1.html#pid30"),
                            ("/forum.php?mod=redirect&goto=findpost&ptid=2&pid=30%22x", "/thread-2-1-1.html"),
                            ("/forum.php?mod=redirect&goto=findpost&ptid=2", "/thread-2-1-1.html"),
                            ("/forum.php?mod=forumdisplay&fid=3", "/forum-3-1.html"), ("/portal.php?mod=view&aid=1", "/article-1-1.html"),
                            ("/portal.php?mod=view&aid=1&page=2", "/article-1-2.html"), ("/home.php?mod=space&uid=4", "/space-uid-4.html"),
                            ("/archiver/?tid-8.html", "/thread-8-1-1.html"), ("/archiver/?tid-1.html&page=2", "/thread-1-1-1.html"),
                            ("/archiver/tid-4.html", "/thread-4-1-1.html"), ("/archiver/?fid-3.html", "/forum-3-1.html")]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", asked)
            answer = connection.getresponse()
            answer.read()
            location = urllib.parse.urlsplit(answer.getheader("Location"))
            assert answer.status == 301 and location.path + (f"#{location.fragment}" if location.fragment else "") == page, asked
            page = location.path
            connection.request("GET", page)
            assert connection.getresponse().status == 200
            connection.close()
    finally:
        server.terminate()
        server.wait(10)


def test_a_second_export_writes_nothing_and_a_changed_thread_only_its_own_pages(archive, mirror, tmp_path):
    before = {path: path.stat().st_mtime_ns for path in mirror.rglob("*") if path.is_file() and path.name != ".export-state.sqlite"}
    assert "0 pages written" in export_site(archive, mirror)
    assert before == {path: path.stat().st_mtime_ns for path in before}
    changed = tmp_path / "archive.db"
    shutil.copy(archive, changed)
    shutil.copytree(str(archive) + ".media", str(changed) + ".media")
    db = Database(changed)
    with db.conn:
        db.execute("INSERT INTO revisions (site, pid, tid, content_text, content_html, seen_at) SELECT site, pid, tid,"
                   " content_text, content_html, '2026-01-01T00:00:00+00:00' FROM comments WHERE tid = 6 AND floor = 2")
        db.execute("UPDATE comments SET content_html = '<p>改过的回复</p>', content_text = '改过的回复' WHERE tid = 6 AND floor = 2")
        pid, earlier = db.execute("SELECT pid, content_text FROM revisions WHERE tid = 6").fetchone()
    db.close()
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    report = export_site(changed, copy)
    assert "threads: 1 rendered" in report, report
    page = lxml_html.fromstring((copy / "thread-6-1-1.html").read_text("utf-8"))
    [post] = page.xpath(f"//article[@id='pid{pid}']")
    assert "改过的回复" in text(post) and post.xpath(".//p[@class='edit']/a/@href") == [f"revisions-{pid}.html"]
    assert earlier[:20] in text(lxml_html.fromstring((copy / f"revisions-{pid}.html").read_text("utf-8")))


def test_in_a_browser_a_thread_page_from_disk_shows_its_poll_ratings_and_comments(chromium, archive, mirror, tmp_path):
    db = Database(archive)
    poll = lxml_html.fromstring(dump_dom((mirror / "thread-8-1-1.html").as_uri(), tmp_path / "profile"))
    options = [[text(td).strip() for td in row.xpath("td")][:2] for row in poll.xpath("//section[@class='poll']//tr[@class='poll-option']")]
    assert options == [[f"{number}. {option}", str(votes)] for number, option, votes in db.execute(
        "SELECT option_no, text, votes FROM poll_options WHERE tid = 8 ORDER BY option_no")]
    thread = lxml_html.fromstring(dump_dom((mirror / "thread-6-1-1.html").as_uri(), tmp_path / "profile"))
    assert len(thread.xpath("//tr[@class='rating']")) == db.execute("SELECT count(*) FROM ratings WHERE tid = 6").fetchone()[0]
    assert len(thread.xpath("//li[@class='post-comment']")) == db.execute(
        "SELECT count(*) FROM post_comments WHERE tid = 6 AND pid IN (SELECT pid FROM posts WHERE tid = 6 AND floor <= ?)",
        [db.execute("SELECT posts_per_page FROM sites").fetchone()[0]]).fetchone()[0] > 0


def search_results(mirror: Path, words: str, profile: Path) -> set[str]:
    dom = dump_dom((mirror / "search.html").as_uri() + "?" + urllib.parse.urlencode({"q": words}), profile)
    document = lxml_html.fromstring(dom)
    assert "个结果" in document.xpath("string(//p[@id='search-status'])"), dom[-2000:]
    return set(document.xpath("//li[@class='result']/a/@href"))


def expected_results(db: Database, words: str) -> set[str]:
    """Where a post holding ``words`` is, by the archive's own rows (LIKE, not the index)."""
    links, size, like = StaticLinks(), db.execute("SELECT posts_per_page FROM sites").fetchone()[0], f"%{words}%"
    found = {links.post(tid, 1, pid) for tid, pid in db.execute(
        "SELECT tid, pid FROM articles WHERE title LIKE ? OR content_text LIKE ?", [like, like])}
    found |= {links.post(tid, (floor - 1) // size + 1, pid) for tid, pid, floor in db.execute(
        "SELECT tid, pid, floor FROM comments WHERE content_text LIKE ?", [like])}
    found |= {links.post(tid, (floor - 1) // size + 1, pid) for tid, pid, floor in db.execute(
        "SELECT m.tid, m.pid, coalesce(c.floor, 1) FROM post_comments m LEFT JOIN comments c ON c.site = m.site AND c.pid = m.pid"
        " WHERE m.content_text LIKE ?", [like])}
    found |= {links.article(aid) for (aid,) in db.execute(
        "SELECT aid FROM portal_articles WHERE title LIKE ? OR summary LIKE ? OR content_text LIKE ?"
        " UNION ALL SELECT aid FROM portal_comments WHERE content_text LIKE ?", [like] * 4)}
    return found


@pytest.mark.parametrize("words", ["瓜", "多肉"])
def test_in_a_browser_the_search_finds_the_posts_of_a_one_and_a_two_character_word(chromium, archive, mirror, tmp_path, words):
    expected = expected_results(Database(archive), words)
    assert expected and search_results(mirror, words, tmp_path / "profile") == expected


def axe_violations(html_text: str, folder: Path, base: str | None = None) -> list:
    """axe-core's contrast (and language, title, image-text, link-name) rules on a page, in chromium."""
    harness = (f'<script src="{AXE.as_uri()}"></script><script>axe.run(document, {{runOnly: ["color-contrast",'
               ' "html-has-lang", "html-lang-valid", "document-title", "image-alt", "link-name"]}).then(function (r) {'
               ' var p = document.createElement("pre"); p.id = "axe-result"; p.textContent = JSON.stringify('
               'r.violations.map(function (v) { return [v.id, v.nodes.map(function (n) { return n.target.join(" ") }),'
               ' r.passes.length]; })) + " passes:" + r.passes.length; document.body.appendChild(p); });</script>')
    page = html_text.replace("<head>", f'<head><base href="{base}">' if base else "<head>").replace("</body>", harness + "</body>")
    path = folder / "_axe.html"
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(path.as_uri(), folder.parent / "axe-profile")
    path.unlink()
    found = re.search(r'<pre id="axe-result">(.*?) passes:(\d+)</pre>', dom, re.S)
    assert found and int(found[2]) > 0, dom[-2000:]
    return json.loads(found[1].replace("&quot;", '"').replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&"))


def live_route(name: str, tags: dict[str, str]) -> str:
    """datasette's address (after /DB/-/) of the mirror's page ``name``; ``tags``: tag pages' names."""
    if name == "index.html":
        return "forum"
    if name in tags:
        return "tag?" + urllib.parse.urlencode({"name": tags[name]})
    for pattern, route in [(r"thread-(\d+)-(\d+)-1", "thread/{0}?page={1}"), (r"forum-(\d+)-(\d+)", "forum/{0}?page={1}"),
                           (r"forum-(\d+)-type-(\d+)-(\d+)", "forum/{0}?type={1}&page={2}"),
                           (r"space-uid-(\d+)", "member/{0}"), (r"space-uid-(\d+)-(\d+)", "member/{0}?page={1}"),
                           (r"article-(\d+)-(\d+)", "article/{0}?page={1}"), (r"revisions-(\d+)", None)]:
        if match := re.fullmatch(pattern + r"\.html", name):
            assert route, f"{name}: no revisions in this archive"
            return route.format(*match.groups())
    raise AssertionError(f"{name}: no datasette page for it")


@pytest.fixture
def axe(chromium):
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail("axe-core is missing: .ci/run installs it into .ci/npm")
        pytest.skip("axe-core is not installed: npm install --prefix .ci/npm axe-core")
    return AXE


def test_datasette_shows_every_page_of_the_mirror_the_same_and_both_pass_axe_cores_contrast_rule(axe, archive, mirror):
    served = archive.parent / "served.db"
    shutil.copy(archive, served)
    shutil.copytree(str(archive) + ".media", str(served) + ".media")
    tags = {StaticLinks().tag(tag): tag for (tag,) in Database(archive).execute("SELECT DISTINCT tag FROM thread_tags")}
    compared = Counter()
    with serve_datasette(served) as base:
        for path in sorted(mirror.glob("*.html")):
            if path.name == "search.html":  # the mirror's own; datasette's is its search box
                continue
            static = path.read_text("utf-8")
            live = get(base + "/served/-/" + live_route(path.name, tags))
            main = [text(lxml_html.fromstring(page).xpath("//main")[0]) for page in (static, live)]
            assert main[0] == main[1], path.name
            assert lxml_html.fromstring(live).get("lang") == "zh-CN"
            compared[path.name.split("-")[0].removesuffix(".html")] += 1
            if path.name in ("thread-4-1-1.html", "thread-6-1-1.html", "thread-8-1-1.html"):
                # the other pages use the same styles: a browser a page costs seconds
                assert axe_violations(static, mirror) == [], path.name
                assert axe_violations(live, mirror, base=base + "/") == [], path.name
        # each forum's list on two pages of 5, as the forum had it; forum 3's four thread types
        assert compared == {"thread": 22, "forum": 10, "space": 11, "article": 3, "tag": len(tags), "index": 1}, compared
        images = lxml_html.fromstring(get(base + "/served/-/thread/4")).xpath("//img/@src")
        assert images and all(status(base + src) == 200 for src in images)


def test_an_archive_without_the_tables_the_mirror_reads_is_a_usage_error(tmp_path):
    old = Database(tmp_path / "old.db")
    old["articles"].insert({"site": "bbs.example.cn", "tid": 1, "title": "旧帖"})
    old.conn.close()
    done = subprocess.run([sys.executable, "-m", "export", "site", "--db", str(tmp_path / "old.db"),
                           "-o", str(tmp_path / "mirror")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "no such table: sites" in done.stderr and "Traceback" not in done.stderr


def test_a_media_row_whose_sha256_is_a_path_copies_nothing_outside_the_mirror(tmp_path):
    from export.site import Counts, _copy_media

    store, out = tmp_path / "crawl" / "archive.db.media", tmp_path / "site" / "mirror"
    (tmp_path / "secret").write_text("not for the web")
    good = hashlib.sha256(b"picture").hexdigest()
    (store / good[:2]).mkdir(parents=True)
    (store / good[:2] / good).write_bytes(b"picture")
    db = Database(memory=True)
    db["media"].insert_all([{"sha256": good}, {"sha256": "../secret"}])
    counts = Counts()
    _copy_media(db.conn, store, out, counts)
    assert (out / "media" / good[:2] / good).read_bytes() == b"picture"
    assert (counts.media, counts.media_missing) == (1, 1)
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("secret")] == [Path("secret")]  # only the one it was


def test_a_threads_address_links_only_when_it_is_a_web_address():
    """The mirror is published: an address from another program's row (javascript:) is shown, not linked."""
    from browse.render import render

    def page(url: str) -> str:
        context = {"kind": "thread", "site": "bbs.example.cn", "page": 1, "pages": 1, "posts": [],
                   "article": {"tid": 1, "title": "帖", "url": url}}
        return render(context, StaticLinks())

    assert '原址 <a href="https://bbs.example.cn/thread-1-1-1.html"' in page("https://bbs.example.cn/thread-1-1-1.html")
    shown = page("javascript:alert(1)")
    assert "原址 javascript:alert(1)" in shown and 'href="javascript:' not in shown


def test_the_crawlers_utc_times_are_shown_in_the_forums_offset(tmp_path):
    """A post's time carries the forum's offset; when the crawler saw it gone is UTC: the page
    shows both on the forum's clock."""
    from browse import forum
    from browse.render import render

    db = Database(tmp_path / "a.db")
    db["articles"].insert({"site": "bbs.example.cn", "tid": 1, "posted_at": "2015-07-01T09:00:00+08:00"})
    assert forum.utc_offset(db.conn, "bbs.example.cn") == "+08:00"
    assert forum.utc_offset(db.conn, "elsewhere.example") is None
    context = {"kind": "thread", "site": "bbs.example.cn", "page": 1, "pages": 1, "posts": [],
               "article": {"tid": 1, "title": "帖", "gone_since": "2026-12-07T20:00:00+00:00"}}
    assert "已删除：2026-12-8 04:00 起" in render(context, StaticLinks(), utc_offset="+08:00")


def test_a_members_profile_fields_and_a_files_status_read_as_the_forum_would_say_them():
    """A profile page read (users.profile_status shown): its fields, times on the forum's clock;
    an attachment not stored says why in words, not the archive's code."""
    from browse.render import render

    profile = {"uid": 7, "username": "花开半夏", "user_group": "中级会员", "registered_at": "2019-03-01T08:05:00+08:00",
               "last_visit_at": "2026-12-07T01:00:00+00:00", "posts": 42, "threads": 5, "credits": 318,
               "extcredits": '{"威望": 12, "金钱": 250}', "profile_status": "shown"}
    page = lxml_html.fromstring(render({"kind": "member", "site": "bbs.example.cn", "uid": 7, "name": "花开半夏",
                                        "profile": profile, "counts": None, "threads": [], "replies": [], "page": 1, "pages": 1},
                                       StaticLinks(), utc_offset="+08:00"))
    rows = {row.xpath("string(th)"): row.xpath("string(td)") for row in page.xpath("//table[@class='profile']/tr")}
    assert rows == {"用户组": "中级会员", "注册时间": "2019-3-1 08:05", "最后访问": "2026-12-7 09:00", "帖子": "42",
                    "主题": "5", "积分": "318", "威望": "12", "金钱": "250"}
    attachment = {"aid": 6, "filename": "peitu.zip", "size_shown": "562 Bytes", "price": 5, "price_credit": "金钱",
                  "file_status": "paid", "sha256": None}
    post = {"pid": 1, "floor": 1, "author": "甲", "author_uid": 1, "content_html": "", "images": {},
            "attachments": [attachment], "post_comments": [], "ratings": []}
    shown = render({"kind": "thread", "site": "bbs.example.cn", "page": 1, "pages": 1, "posts": [post],
                    "article": {"tid": 1, "title": "帖"}}, StaticLinks())
    assert "文件未存档（需购买）" in text(lxml_html.fromstring(shown)) and "paid" not in shown


def test_the_parquet_export_of_the_same_archive_names_each_images_stored_file(archive, tmp_path):
    """The archive the mirror is made from (media=all), exported for analysis: each image of a
    post is a struct with its stored file's SHA-256 and the store's answer, as post_images has them."""
    import pyarrow.parquet as pq

    from export import export
    from scraper.media_answers import is_ui_image

    db = Database(archive)
    for source in ("articles", "comments"):
        export(str(archive), source, "parquet", str(tmp_path / f"{source}.parquet"))
        listed = sorted((row["pid"], image["url"], image["sha256"], image["status"])
                        for row in pq.read_table(tmp_path / f"{source}.parquet").to_pylist() for image in row["images"] or [])
        stored = sorted(db.execute(f"SELECT i.pid, i.url, i.sha256, i.status FROM post_images AS i JOIN {source} USING (site, pid)"))
        # the theme's file-type icons beside an attachment are no post's picture: never fetched
        assert [image for image in listed if image[3] is None] == [image for image in listed if is_ui_image(image[1])], source
        assert [image for image in listed if image[3] is not None] == stored, source
    # the first posts' pictures here: some stored, some the media fixture does not have
    assert {status for (status,) in db.execute("SELECT status FROM post_images")} == {"stored", "missing"}


def test_the_mirrors_files_are_readable_by_a_web_server_running_as_another_user(tmp_path):
    """The store's files get the mode a new file gets; a store's file written private (0600, as
    tempfile made them) is copied into the mirror rather than linked, and the store keeps its mode."""
    from export.site import Counts, _copy_media
    from pipelines.media_store import FILE_MODE, MediaStore

    store = MediaStore(tmp_path / "archive.db.media")
    fresh, _, _ = store.put(b"a new picture")
    assert store.path(fresh).stat().st_mode & 0o777 == FILE_MODE
    old = hashlib.sha256(b"an old picture").hexdigest()
    store.path(old).parent.mkdir(parents=True, exist_ok=True)
    store.path(old).write_bytes(b"an old picture")
    store.path(old).chmod(0o600)
    db = Database(memory=True)
    db["media"].insert_all([{"sha256": fresh}, {"sha256": old}])
    out = tmp_path / "mirror"
    for _ in range(2):  # and again, as a re-export does
        _copy_media(db.conn, store.root, out, Counts())
        copied, linked = out / "media" / old[:2] / old, out / "media" / fresh[:2] / fresh
        assert copied.read_bytes() == b"an old picture" and not copied.samefile(store.path(old))
        assert copied.stat().st_mode & 0o777 == FILE_MODE and store.path(old).stat().st_mode & 0o777 == 0o600
        assert linked.samefile(store.path(fresh))
    # a mirror exported before: its private link is made a readable copy
    copied.unlink()
    os.link(store.path(old), copied)
    _copy_media(db.conn, store.root, out, Counts())
    assert not copied.samefile(store.path(old)) and copied.stat().st_mode & 0o777 == FILE_MODE


def test_the_forum_is_named_as_it_named_itself_not_by_its_host(archive, mirror):
    """The index's title says only 论坛 (its SEO title): the name is the application-name meta,
    kept in sites.name; the mirror's pages carry it, an archive without it the host."""
    assert [row["name"] for row in Database(archive)["sites"].rows] == ["绿手指园艺论坛"]
    index = lxml_html.fromstring((mirror / "index.html").read_text("utf-8"))
    assert index.findtext(".//h1") == "绿手指园艺论坛"
    thread = lxml_html.fromstring(next(mirror.glob("thread-*-1-1.html")).read_text("utf-8"))
    assert thread.findtext(".//title").endswith(" · 绿手指园艺论坛")
    assert "绿手指园艺论坛 · 论坛首页" in text(thread)


def test_in_a_browser_a_link_to_a_post_on_a_later_page_ends_on_that_page(chromium, archive, mirror, tmp_path):
    """Discuz's findpost link lands on the thread's first page (the redirect page, Netlify's
    and nginx's rules know no pid's page): page 1 sends a post of a later page on to it."""
    db = Database(archive)
    size = db.execute("SELECT posts_per_page FROM sites").fetchone()[0]
    tid, pid, floor = db.execute("SELECT tid, pid, floor FROM comments WHERE floor > ? ORDER BY tid, floor DESC LIMIT 1",
                                 [size]).fetchone()
    page = (floor - 1) // size + 1
    dom = lxml_html.fromstring(dump_dom((mirror / f"thread-{tid}-1-1.html").as_uri() + f"#pid{pid}", tmp_path / "profile"))
    assert dom.get_element_by_id(f"pid{pid}") is not None and f"第 {page} 页" in dom.findtext(".//title")
    first = db.execute("SELECT pid FROM articles WHERE tid = ?", [tid]).fetchone()[0]
    dom = lxml_html.fromstring(dump_dom((mirror / f"thread-{tid}-1-1.html").as_uri() + f"#pid{first}", tmp_path / "profile"))
    assert dom.get_element_by_id(f"pid{first}") is not None and "第" not in dom.findtext(".//title")


def test_in_a_browser_an_archiver_link_from_disk_ends_on_its_thread_or_forum(chromium, mirror, tmp_path):
    """Discuz's text-only archiver (archiver/?tid-N.html), which search engines indexed: its
    page in the mirror sends a link to the thread's or forum's first page, on any host."""
    thread = lxml_html.fromstring(dump_dom((mirror / "archiver" / "index.html").as_uri() + "?tid-8.html", tmp_path / "profile"))
    assert thread.xpath("//section[@class='poll']") and thread.findtext(".//title") == (
        lxml_html.fromstring((mirror / "thread-8-1-1.html").read_text("utf-8")).findtext(".//title"))
    forum = lxml_html.fromstring(dump_dom((mirror / "archiver" / "index.html").as_uri() + "?fid-3.html", tmp_path / "profile"))
    assert forum.findtext(".//title") == lxml_html.fromstring((mirror / "forum-3-1.html").read_text("utf-8")).findtext(".//title")
