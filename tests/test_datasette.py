"""The archive in datasette, as its readers use it: a real crawl of the sample forum (one post
made hostile), served by `datasette -m metadata.yml` on 127.0.0.1, queried through its JSON
API, its pages read by headless chromium; and exports of the same archive read back."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml
from datasette.utils import tilde_encode
from lxml import html as lxml_html
from sqlite_utils import Database

from browse.serve import datasette_command
from sample_forum import serve
from sample_forum.server import snapshot_dir
from scraper.content import sanitize_html
from test_crawl import seeds
from test_export import as_csv_text, db_rows, read_csv, read_jsonl, run
from test_search import assert_index_matches_table

ROOT = Path(__file__).parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))
CHROMIUM = shutil.which("chromium")
MARK = "XSS-RAN"  # what each planted script would write into the page title
HOSTILE_TID, HOSTILE_PID = 5, 96  # the article of a one-page thread
SAFE_TEXT = "安全测试：这段话应当显示为文字。"
HOSTILE = (
    f"<p>{SAFE_TEXT}</p>"
    f'<script>document.title="{MARK}"</script>'
    "<style>body{display:none}</style>"
    f"<img src=\"x\" onerror=\"document.title='{MARK}'\">"
    f"<a href=\"javascript:document.title='{MARK}'\">点我</a>"
    f"<a href=\" JaVaScRiPt:document.title='{MARK}'\">再点我</a>"
    f"<iframe src=\"javascript:parent.document.title='{MARK}'\"></iframe>"
    f"<object data=\"javascript:parent.document.title='{MARK}'\"></object>"
    f"<div onmouseover=\"document.title='{MARK}'\">悬停</div>"
)


def plant_hostile_post(snapshot: Path) -> None:
    """Put HOSTILE at the start of the post's message in every saved copy of its page."""
    anchor = f'id="postmessage_{HOSTILE_PID}">'
    planted = 0
    for page in snapshot.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        if anchor in text:
            page.write_text(text.replace(anchor, anchor + HOSTILE), encoding="utf-8")
            planted += 1
    assert planted, "the sample forum no longer has the post to plant into"


@pytest.fixture(scope="module")
def archive(tmp_path_factory, scrapy_crawl):
    """The sample forum crawled by the real spider and pipeline, one post made hostile."""
    workdir = tmp_path_factory.mktemp("datasette")
    snapshot = workdir / "forum"
    shutil.copytree(snapshot_dir("v1"), snapshot)
    plant_hostile_post(snapshot)
    db_path = workdir / "archive.db"  # datasette names the database "archive", as metadata.yml expects
    with serve(str(snapshot)) as forum:
        scrapy_crawl(db_path, "url=" + ",".join(seeds(forum.base_url)))
    return db_path


@pytest.fixture(scope="module")
def datasette(archive):
    """`datasette serve archive.db -m metadata.yml` on a free port of 127.0.0.1; its base URL."""
    with serve_datasette(archive, "-m", str(ROOT / "metadata.yml")) as base:
        yield base + "/archive"


@contextmanager
def serve_datasette(database: Path, *arguments: str):
    """datasette on a free port of 127.0.0.1 with this checkout's plugin; its base URL."""
    log_path = database.parent / f"datasette-{database.stem}.log"
    command, environment = datasette_command(database, *arguments)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=database.parent, stdout=log, stderr=subprocess.STDOUT, env=environment)
    try:
        yield wait_for_datasette(server, log_path)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for_datasette(server: subprocess.Popen, log_path: Path, timeout: float = 30) -> str:
    """The base URL once the server answers (port 0: the port is read from uvicorn's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, log_path.read_text(errors="replace")
        if match := re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log_path.read_text(errors="replace")):
            base = match[1]
            try:
                get_json(base + "/-/versions.json")
                return base
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError("datasette did not start:\n" + log_path.read_text(errors="replace"))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode("utf-8")


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def get_json(url: str, **params) -> dict | list:
    return json.loads(get(url + ("?" + urllib.parse.urlencode(params) if params else "")))


def like_pids(db: Database, words: str) -> set[int]:
    """What a plain substring scan finds: the truth every search is held to."""
    return {
        row[0]
        for row in db.execute(
            "SELECT pid FROM posts WHERE content_text LIKE :w OR (is_article AND title LIKE :w)",
            {"w": f"%{words}%"},
        )
    }


def table_search(datasette: str, table: str, words: str) -> set[int]:
    rows = get_json(f"{datasette}/{table}.json", _search=words, _shape="array", _size="max")
    return {row["pid"] for row in rows}


def test_four_character_chinese_search_in_the_search_box_of_articles_and_comments(archive, datasette):
    db = Database(archive)
    expected = like_pids(db, "办公室主任")
    assert len(expected) >= 5
    found = table_search(datasette, "articles", "办公室主任") | table_search(datasette, "comments", "办公室主任")
    assert found == expected


def test_the_crawl_kept_the_search_indexes_in_step(archive):
    db = Database(archive)
    for table in ("articles", "comments"):
        assert_index_matches_table(db, table)  # raises "database disk image is malformed" if not


def test_one_and_two_character_chinese_search_through_the_canned_query_and_the_search_box(archive, datasette):
    db = Database(archive)
    expected = like_pids(db, "公文")
    assert expected > like_pids(db, "公文写作")  # two characters find more than a longer word
    rows = get_json(f"{datasette}/search.json", q="公文", _shape="array")
    assert {row["pid"] for row in rows} == expected
    assert [row["posted_at"] for row in rows] == sorted((row["posted_at"] for row in rows), reverse=True)
    assert all("公文" in row["excerpt"] or "公文" in row["title"] for row in rows)
    # the search box too (the plugin's escape_fts), for one character as well
    assert table_search(datasette, "articles", "公文") | table_search(datasette, "comments", "公文") == expected
    assert table_search(datasette, "articles", "文") | table_search(datasette, "comments", "文") == like_pids(db, "文")
    four = get_json(f"{datasette}/search.json", q="办公室主任", _shape="array")
    assert {row["pid"] for row in four} == like_pids(db, "办公室主任")


def test_canned_query_reads_a_whole_thread_in_floor_order(archive, datasette):
    rows = get_json(f"{datasette}/thread.json", tid=16, _shape="array")
    floors = [row["floor"] for row in rows]
    assert floors == sorted(floors) and floors[0] == 1 and rows[0]["is_article"] == 1
    assert len(rows) == Database(archive).execute("SELECT count(*) FROM posts WHERE tid = 16").fetchone()[0] > 10
    # after: the next page starts after the floor given (100 posts a page)
    rest = get_json(f"{datasette}/thread.json", tid=16, after=floors[4], _shape="array")
    assert [row["floor"] for row in rest] == floors[5:]


def test_every_canned_query_answers(archive, datasette):
    db = Database(archive)
    authors = get_json(f"{datasette}/top_authors.json", _shape="array")
    assert [row["posts"] for row in authors] == sorted((row["posts"] for row in authors), reverse=True)
    assert sum(row["posts"] for row in authors) == db.execute(
        "SELECT count(*) FROM posts WHERE author_uid IS NOT NULL"
    ).fetchone()[0]
    months = get_json(f"{datasette}/activity_by_month.json", _shape="array")
    assert sum(row["posts"] for row in months) == db.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert [row["month"] for row in months] == sorted((row["month"] for row in months), reverse=True)
    threads = get_json(f"{datasette}/threads_by_replies.json", forum="公文写作", _shape="array")
    assert [row["replies"] for row in threads] == sorted((row["replies"] for row in threads), reverse=True)
    assert {row["forum_name"] for row in threads} == {"公文写作"}
    assert len(get_json(f"{datasette}/threads_by_replies.json", _shape="array")) == db["articles"].count


def test_articles_open_newest_first_with_forum_author_and_year_facets(archive, datasette):
    page = get_json(f"{datasette}/articles.json", _shape="objects")
    dates = [row["posted_at"] for row in page["rows"]]
    assert dates == sorted(dates, reverse=True)
    facets = {name: {item["value"]: item["count"] for item in facet["results"]} for name, facet in page["facet_results"].items()}
    db = Database(archive)
    for name in ("forum_name", "author", "year"):
        counts = dict(db.execute(f"SELECT {name}, count(*) FROM articles GROUP BY {name}").fetchall())
        assert facets[name] == {value: count for value, count in counts.items() if value is not None}
    assert set(facets["year"]) == set(range(2013, 2027))
    narrowed = get_json(f"{datasette}/comments.json", year=2026, _shape="objects", _size="max")
    assert narrowed["rows"] and {row["posted_at"][:4] for row in narrowed["rows"]} == {"2026"}


def test_every_table_and_column_is_described_in_metadata(datasette):
    described = METADATA["databases"]["archive"]["tables"]
    database = get_json(f"{datasette}.json")
    shown = {table["name"]: table["columns"] for table in database["tables"] if not table["hidden"]}
    for view in database["views"]:
        shown[view["name"]] = get_json(f"{datasette}/{view['name']}.json", _size=1)["columns"]
    assert {"articles", "comments", "posts", "forums", "users", "sites", "pages"} <= set(shown)
    missing = [
        f"{table}.{column}"
        for table, columns in shown.items()
        for column in ["(description)", *columns]
        if not (described.get(table, {}).get("columns", {}).get(column) if column != "(description)" else described.get(table, {}).get("description"))
    ]
    assert not missing, "describe these in metadata.yml: " + ", ".join(missing)
    assert set(described) <= set(shown), "metadata.yml describes tables the archive does not have"


def hostile_row_url(datasette: str, archive: Path) -> str:
    site = Database(archive).execute("SELECT site FROM articles WHERE tid = ?", [HOSTILE_TID]).fetchone()[0]
    return f"{datasette}/articles/{tilde_encode(site)},{HOSTILE_TID}"


def test_hostile_post_html_is_stored_sanitised_and_rendered_as_html(archive, datasette):
    stored = Database(archive).execute(
        "SELECT content_html, content_text FROM articles WHERE tid = ?", [HOSTILE_TID]
    ).fetchone()
    content_html, content_text = stored
    assert f"<p>{SAFE_TEXT}</p>" in content_html and SAFE_TEXT in content_text
    assert sanitize_html(content_html) == content_html
    for hostile in ("<script", "<style", "<iframe", "<object", "onerror", "onmouseover", "javascript:", MARK):
        assert hostile not in content_html.lower(), hostile
    # every post of the crawl is as safe: nothing the sanitiser would still change
    for (fragment,) in Database(archive).execute("SELECT content_html FROM articles UNION ALL SELECT content_html FROM comments"):
        assert sanitize_html(fragment or "") == (fragment or "")

    page = get(hostile_row_url(datasette, archive))
    assert f"<p>{SAFE_TEXT}</p>" in page  # rendered as HTML (datasette-render-html) ...
    assert MARK not in page  # ... and nothing hostile reached the page


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, from headless chromium."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium before the tests")
        pytest.skip("Debian's chromium is not installed here (apt-get install chromium; .ci/run does it)")
    return CHROMIUM


def test_in_a_browser_the_post_shows_as_text_and_the_planted_script_does_not_run(chromium, archive, datasette, tmp_path):
    control = tmp_path / "control.html"  # the same trick, unsanitised: proves scripts run here
    control.write_text(f"<html><head><title>before</title></head><body>{HOSTILE}</body></html>", encoding="utf-8")
    assert f"<title>{MARK}</title>" in dump_dom(control.as_uri(), tmp_path / "profile")

    dom = dump_dom(hostile_row_url(datasette, archive), tmp_path / "profile")

    document = lxml_html.fromstring(dom)
    assert MARK not in document.findtext(".//title")
    assert MARK not in dom
    [cell] = document.xpath("//td[contains(concat(' ', @class, ' '), ' col-content_html ')]")
    shown = cell.text_content()
    assert SAFE_TEXT in shown and "<" not in shown and "&lt;" not in shown  # text, no raw tags
    assert [p.text_content() for p in cell.iter("p")][0] == SAFE_TEXT
    for element in cell.iter():
        assert not [name for name in element.attrib if name.lower().startswith("on")], lxml_html.tostring(element)
        assert not element.get("href", "").strip().lower().startswith("javascript:")
    [text_cell] = document.xpath("//td[contains(concat(' ', @class, ' '), ' col-content_text ')]")
    assert SAFE_TEXT in text_cell.text_content() and "<p>" not in text_cell.text_content()


def test_exports_of_the_crawled_archive_read_back_equal_the_rows(archive):
    assert read_csv(run("comments", "--db", str(archive), "--bom")) == as_csv_text(db_rows(archive, "comments"))
    assert read_jsonl(run("posts", "--db", str(archive), "-f", "jsonl")) == db_rows(archive, "posts")
    assert read_jsonl(run("articles", "--db", str(archive), "-f", "jsonl", "--forum", "公文写作")) == db_rows(
        archive, "articles", "forum_name = '公文写作'"
    )


def thread_posts(page: str) -> list[tuple[int, int]]:
    """(floor, pid) of each post of a thread page, in the order shown."""
    return [(int(post.get("data-floor")), int(post.get("id")[3:])) for post in lxml_html.fromstring(page).xpath("//article[@data-floor]")]


def test_every_thread_title_opens_the_thread_as_a_page_in_floor_order(archive, datasette):
    articles = get(f"{datasette}/articles?_size=max")
    links = lxml_html.fromstring(articles).xpath("//a[@class='thread-link']")
    assert len(links) == Database(archive)["articles"].count
    [link] = [link for link in links if "/-/thread/16?" in link.get("href")]
    page = get(urllib.parse.urljoin(datasette, link.get("href")))
    per_page = Database(archive).execute("SELECT posts_per_page FROM sites").fetchone()[0]  # the forum's first page
    expected = Database(archive).execute("SELECT floor, pid FROM posts WHERE tid = 16 AND floor <= ? ORDER BY floor", [per_page]).fetchall()
    assert thread_posts(page) == [tuple(row) for row in expected]
    document = lxml_html.fromstring(page)
    quoting = [link for link in document.xpath("//a[@class='quote-link']") if link.get("href").startswith("#")]
    assert quoting and all(document.xpath(f"//*[@id='{link.get('href')[1:]}']") for link in quoting)  # on the page


def test_a_long_thread_pages_by_floor_and_a_quote_opens_the_page_of_the_quoted_post(archive, datasette):
    db = Database(archive)
    site = db.execute("SELECT site FROM articles WHERE tid = 16").fetchone()[0]
    floors = [row[0] for row in db.execute("SELECT floor FROM posts WHERE tid = 16 ORDER BY floor")]
    url, seen = f"{datasette}/-/thread/16?" + urllib.parse.urlencode({"site": site}), []
    while url:
        page = lxml_html.fromstring(get(url))
        seen += [floor for floor, _ in thread_posts(get(url))]
        following = page.xpath("//a[@rel='next']/@href")
        url = urllib.parse.urljoin(datasette, following[0]) if following else None
    assert seen == floors
    [quoting, quoted] = db.execute("SELECT pid, quote_pid FROM comments WHERE tid = 16 AND quote_pid IS NOT NULL ORDER BY floor DESC").fetchone()
    per_page = db.execute("SELECT posts_per_page FROM sites WHERE site = ?", [site]).fetchone()[0]
    page = (db.execute("SELECT floor FROM comments WHERE pid = ?", [quoting]).fetchone()[0] - 1) // per_page + 1
    last = get(f"{datasette}/-/thread/16?" + urllib.parse.urlencode({"site": site, "page": page}))
    [href] = lxml_html.fromstring(last).xpath(f"//article[@id='pid{quoting}']//a[@class='quote-link']/@href")
    target, anchor = href.split("#")
    assert anchor == f"pid{quoted}" and f'id="pid{quoted}"' in (get(urllib.parse.urljoin(datasette, target)) if target else last)


def test_the_metadata_applies_to_an_archive_of_any_name_without_being_given(archive, tmp_path):
    forum = tmp_path / "forum.db"
    shutil.copyfile(archive, forum)  # the crawl checkpointed its WAL when it closed
    db = Database(forum)
    site, pid = db.execute("SELECT site, pid FROM comments WHERE tid = 16 AND floor = 3").fetchone()
    with db.conn:  # an edited post with an earlier text, and one the forum no longer shows
        db.execute("UPDATE comments SET edited_by = '编辑者甲', edited_at = '2026-01-02 03:04' WHERE pid = ?", [pid])
        db.execute("INSERT INTO revisions (site, pid, tid, content_text) VALUES (?, ?, 16, '旧的文字')", [site, pid])
        db.execute("UPDATE comments SET gone_since = '2026-02-03T00:00:00+00:00' WHERE tid = 16 AND floor = 4")
    db.close()
    with serve_datasette(forum) as base:
        database = get_json(f"{base}/forum.json")
        assert {"thread", "top_authors", "activity_by_month", "search"} <= {query["name"] for query in database["queries"]}
        page = get_json(f"{base}/forum/articles.json", _size=1)
        assert set(page["facet_results"]) == {"forum_name", "author", "year"}
        assert get_json(f"{base}/forum/top_authors.json", _shape="array")
        assert 'href="/forum/articles"' in get(base + "/")
        assert 'href="/forum/-/forum"' in get(base + "/") and status(f"{base}/forum/-/forum") == 200  # the forum's index, one click away
        thread = lxml_html.fromstring(get(f"{base}/forum/-/thread/16"))  # one site: no need to name it
        [edited] = thread.xpath(f"//article[@id='pid{pid}']//p[@class='edit']")
        assert "编辑者甲" in edited.text_content()
        [revisions] = edited.xpath("a/@href")
        assert [row["content_text"] for row in get_json(urllib.parse.urljoin(base, revisions.replace("/revisions?", "/revisions.json?_shape=array&")))] == ["旧的文字"]
        if dashboards_installed():
            assert '"db": "forum"' in get(f"{base}/-/dashboards/archive")  # the charts query this file
        assert status(f"{base}/forum/-/thread/16?page=x") == 400 and status(f"{base}/forum/-/thread/424242") == 404
        [gone] = thread.xpath("//article[@data-floor='4']")
        assert "gone" in gone.get("class") and "已删除" in gone.text_content()


def test_in_a_browser_the_thread_reads_in_floor_order_and_a_quote_link_leads_to_the_quoted_post(chromium, archive, datasette, tmp_path):
    db = Database(archive)
    site = db.execute("SELECT site FROM articles WHERE tid = 16").fetchone()[0]
    url = f"{datasette}/-/thread/16?" + urllib.parse.urlencode({"site": site})
    document = lxml_html.fromstring(dump_dom(url, tmp_path / "profile"))
    floors = [int(floor) for floor in document.xpath("//article/@data-floor")]
    per_page = db.execute("SELECT posts_per_page FROM sites WHERE site = ?", [site]).fetchone()[0]  # the forum's first page
    assert floors == sorted(floors) and floors[0] == 1 and len(floors) == db.execute("SELECT count(*) FROM posts WHERE tid = 16 AND floor <= ?", [per_page]).fetchone()[0]
    [link] = document.xpath("//a[@class='quote-link']")[:1]
    quoted = document.xpath(f"//*[@id='{link.get('href').split('#')[1]}']")
    assert quoted and quoted[0].xpath(".//div[@class='message']") and quoted[0].text_content().strip()
    # following the link in the browser lands on the quoted post: it is the page's :target
    target = dump_dom(urllib.parse.urljoin(url, link.get("href")), tmp_path / "profile2")
    assert link.get("href").split("#")[1] in target


def dashboards_installed() -> bool:
    return any(point.name == "datasette_dashboards" or point.value.startswith("datasette_dashboards") for point in entry_points(group="datasette"))


def test_in_a_browser_the_charts_are_drawn_with_the_archives_counts(chromium, archive, datasette, tmp_path):
    if not dashboards_installed():
        if os.environ.get("CI"):
            pytest.fail("datasette-dashboards is missing: requirements.txt installs it")
        pytest.skip("datasette-dashboards is not installed in this virtualenv (pip install -r requirements.txt)")
    base = datasette.rsplit("/", 1)[0]
    document = lxml_html.fromstring(dump_dom(f"{base}/-/dashboards/archive", tmp_path / "profile"))
    bars = {}
    for chart in ("posts-per-month", "posts-per-forum", "top-authors"):
        labels = document.xpath(f"//*[@id='chart-{chart}']//*[contains(@class, 'mark-rect')]/*/@aria-label")
        bars[chart] = [dict(part.split(": ", 1) for part in label.split("; ")) for label in labels]
        assert bars[chart], f"{chart}: no bars drawn"
    db = Database(archive)
    posts = db.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert sum(int(bar["posts"]) for bar in bars["posts-per-month"]) == posts
    assert sum(int(bar["posts"]) for bar in bars["posts-per-forum"]) == posts
    busiest = db.execute("SELECT author, count(*) FROM posts GROUP BY author_uid ORDER BY 2 DESC LIMIT 1").fetchone()
    assert bars["top-authors"][0]["posts"] == str(busiest[1]) and bars["top-authors"][0]["author"].startswith(busiest[0])


FLAG_LABELS = {"masked": "作者被禁止或删除 · 内容自动屏蔽", "hidden": "部分内容对游客隐藏", "blocked": "该帖被管理员屏蔽"}


@pytest.fixture(scope="module")
def mirror(archive, tmp_path_factory) -> Path:
    """python -m export site of the same archive."""
    out = tmp_path_factory.mktemp("mirror")
    subprocess.run([sys.executable, "-m", "export", "site", "--db", str(archive), "-o", str(out)], cwd=ROOT, check=True, capture_output=True)
    return out


def test_banned_hidden_and_blocked_posts_are_marked_in_datasette_and_in_the_mirror(archive, datasette, mirror):
    """The sample forum's posts of banned authors (masked), locked for guests (hidden) and blocked
    by a moderator are shown with what happened to them, not left out, live and in the mirror."""
    db = Database(archive)
    flagged = [(tid, pid, floor, json.loads(flags)) for tid, pid, floor, flags in
               db.execute("SELECT tid, pid, floor, flags FROM posts WHERE flags != '[]' ORDER BY tid, floor")]
    assert {flag for *_, flags in flagged for flag in flags} == set(FLAG_LABELS)
    size = db.execute("SELECT posts_per_page FROM sites").fetchone()[0]
    for tid, pid, floor, flags in flagged:
        page = (floor - 1) // size + 1
        for html in (get(f"{datasette}/-/thread/{tid}?page={page}"), (mirror / f"thread-{tid}-{page}-1.html").read_text("utf-8")):
            [post] = lxml_html.fromstring(html).xpath(f"//article[@id='pid{pid}']")
            assert post.xpath("header/span[@class='mark flag']/text()") == [FLAG_LABELS[flag] for flag in flags], (tid, floor)
    # marked, never empty-handed: a banned author's post is still there, with its author and time
    [banned] = lxml_html.fromstring((mirror / "thread-14-1-1.html").read_text("utf-8")).xpath("//article[@data-floor='1']")
    assert "spam_user88" in banned.text_content() and banned.xpath("header//time/@datetime")


def test_each_edit_note_reads_as_the_forum_printed_it(archive, datasette, mirror):
    """本帖最后由 X 于 TIME 编辑: the sample forum's own notes, word for word, live and in the mirror."""
    db = Database(archive)
    size = db.execute("SELECT posts_per_page FROM sites").fetchone()[0]
    edited = db.execute("SELECT tid, pid, floor FROM posts WHERE pid IN (SELECT pid FROM articles WHERE edited_by IS NOT NULL"
                        " UNION SELECT pid FROM comments WHERE edited_by IS NOT NULL)").fetchall()
    assert len(edited) == 3
    for tid, pid, floor in edited:
        page = (floor - 1) // size + 1
        printed = re.search(r'id="postmessage_%d">\s*<i class="pstatus"> (本帖最后由 [^<]*?) </i>' % pid,
                            (snapshot_dir("v1") / f"thread-{tid}-{page}-1.html").read_text("utf-8"), re.S)[1]
        for html in (get(f"{datasette}/-/thread/{tid}?page={page}"), (mirror / f"thread-{tid}-{page}-1.html").read_text("utf-8")):
            [post] = lxml_html.fromstring(html).xpath(f"//article[@id='pid{pid}']")
            assert post.xpath("string(.//p[@class='edit'])") == printed, (tid, pid)


def test_a_forums_list_pages_as_the_forum_paged_it_live_and_in_the_mirror(scrapy_crawl, tmp_path):
    """Page N of a forum's list holds the threads the forum's own page N held, so an old link to
    forum-2-2.html finds them: the sample forum's forum 2 showed 10 of its 14 threads, then 4."""
    saved = {page: [int(tid) for tid in re.findall(r'<tbody id="(?:normal|stick)thread_(\d+)"',
                                                   (snapshot_dir("v1") / f"forum-2-{page}.html").read_text("utf-8"))]
             for page in (1, 2)}
    assert [len(tids) for tids in saved.values()] == [10, 4]
    db_path, mirror = tmp_path / "archive.db", tmp_path / "mirror"
    with serve(str(snapshot_dir("v1"))) as forum:  # from its index: the crawl walks the lists
        scrapy_crawl(db_path, f"url={forum.base_url}")
    assert Database(db_path).execute("SELECT fid, threads_per_page FROM forums ORDER BY fid").fetchall() == [(2, 10), (3, None), (4, None)]
    subprocess.run([sys.executable, "-m", "export", "site", "--db", str(db_path), "-o", str(mirror)],
                   cwd=ROOT, check=True, capture_output=True)
    with serve_datasette(db_path) as base:
        for page, tids in saved.items():
            for html in (get(f"{base}/archive/-/forum/2?page={page}"), (mirror / f"forum-2-{page}.html").read_text("utf-8")):
                assert [int(tid) for tid in lxml_html.fromstring(html).xpath("//tr[@class='thread-row']/@data-tid")] == tids, page
    assert not (mirror / "forum-2-3.html").exists() and not (mirror / "forum-3-2.html").exists()
