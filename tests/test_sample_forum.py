"""The bundled sample forum server: it is what offline crawls and end-to-end tests fetch from."""

import csv
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sample_forum import serve
from sample_forum.server import SNAPSHOT_BASE

SNAPSHOTS = Path(__file__).resolve().parent.parent / "sample_forum"


@pytest.fixture
def forum():
    with serve(version="v1", port=0) as running:
        yield running


def fetch(forum, path):
    """(status, Content-Type, body text); HTTP errors are answers too, not exceptions."""
    try:
        with urllib.request.urlopen(forum.base_url + path, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode("utf-8")


def urls(version):
    with open(SNAPSHOTS / version / "URLS.tsv", encoding="utf-8", newline="") as f:
        return {row["url"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}


def test_binds_loopback_on_a_free_port(forum):
    assert forum.base_url.startswith("http://127.0.0.1:")
    assert forum.port != 0


def test_forum_index(forum):
    status, content_type, body = fetch(forum, "forum.php")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert "公文写作" in body
    assert fetch(forum, "")[2] == body
    assert fetch(forum, "index.php")[2] == body


@pytest.mark.parametrize("path", ["thread-1-2-1.html", "forum.php?mod=viewthread&tid=1&page=2"])
def test_thread_page_links_point_at_this_server(forum, path):
    status, _, body = fetch(forum, path)
    assert status == 200
    assert f'<base href="{forum.base_url}" />' in body
    if forum.base_url != SNAPSHOT_BASE:
        assert "127.0.0.1:8080" not in body


def test_api_json_is_rebased_too(forum):
    status, content_type, body = fetch(forum, "api/mobile/index.php?version=4&module=viewthread&tid=1&page=1")
    assert (status, content_type) == (200, "application/json")
    assert "127.0.0.1:8080" not in body


def test_param_order_and_extra_do_not_matter(forum):
    page = fetch(forum, "forum.php?mod=viewthread&tid=1&page=2")
    assert fetch(forum, "forum.php?page=2&tid=1&mod=viewthread") == page
    assert fetch(forum, "forum.php?mod=viewthread&tid=1&page=2&extra=page%3D1") == page


def test_deleted_thread_keeps_its_404(forum):
    for path in ("forum.php?mod=viewthread&tid=7", "thread-7-1-1.html"):
        status, _, body = fetch(forum, path)
        assert status == 404
        assert body.startswith("<!DOCTYPE")  # the real Discuz error page, not ours


def test_unknown_url_is_404(forum):
    status, content_type, _ = fetch(forum, "no-such-page.html")
    assert (status, content_type) == (404, "text/html; charset=utf-8")


def test_robots_txt(forum):
    status, content_type, body = fetch(forum, "robots.txt")
    assert (status, content_type) == (200, "text/plain")
    assert "Disallow: /api/" in body


def test_switch_to_v2_serves_new_threads_on_the_same_url(forum):
    new_thread = "forum.php?mod=viewthread&tid=32&page=1"
    assert new_thread in urls("v2") - urls("v1")
    assert fetch(forum, new_thread)[0] == 404
    base_url = forum.base_url
    forum.switch("v2")
    assert (forum.version, forum.base_url) == ("v2", base_url)
    assert fetch(forum, new_thread)[0] == 200
    assert fetch(forum, "thread-21-1-1.html")[0] == 404  # deleted between v1 and v2


def test_thread_urls_are_every_live_thread(forum):
    live = [f"{forum.base_url}thread-{tid}-1-1.html" for tid in range(1, 32) if tid != 7]
    assert forum.thread_urls() == live
    forum.switch("v2")  # tid 21 deleted, tids 32-34 new
    assert forum.thread_urls() == [url for url in live if "-21-" not in url] + [
        f"{forum.base_url}thread-{tid}-1-1.html" for tid in (32, 33, 34)
    ]


def test_requests_are_counted(forum):
    fetch(forum, "forum.php")
    fetch(forum, "thread-1-1-1.html")
    fetch(forum, "missing")
    assert forum.requests == ["/forum.php", "/thread-1-1-1.html", "/missing"]
    forum.clear_requests()
    assert forum.requests == []


def test_stop_frees_the_port():
    with serve(version="v2") as forum:
        assert fetch(forum, "forum.php")[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(forum.base_url + "forum.php", timeout=5)


def test_threads_per_page_cuts_each_forum_list_into_pages_of_that_many():
    """threads_per_page=4: forum 2's 14 threads on 4 pages, each row once, in the saved order,
    with the pager and page number a list of 4 pages shows."""
    from scraper.listing import parse_forum_page

    with serve(version="v1", port=0, threads_per_page=4) as forum:
        saved = [row.tid for n in (1, 2) for row in parse_forum_page(
            (SNAPSHOTS / f"v1/forum-2-{n}.html").read_bytes(), f"{SNAPSHOT_BASE}forum-2-{n}.html").threads]
        pages = [parse_forum_page(forum.respond(f"/forum-2-{n}.html")[2], f"{forum.base_url}forum-2-{n}.html")
                 for n in (1, 2, 3, 4, 5)]
    assert [row.tid for page in pages[:4] for row in page.threads] == saved
    assert [len(page.threads) for page in pages] == [4, 4, 4, 2, 2]  # page 5: the last page again
    assert [(page.page, page.page_count, sorted(page.page_urls)) for page in pages[:2]] == [
        (1, 4, [2, 3, 4]), (2, 4, [1, 3, 4])
    ]
    assert pages[1].name == "公文写作"


@pytest.mark.parametrize("defences", [[], ["--attackevasive", "4"]])
def test_the_command_serves_the_lists_and_threads_paged_as_asked(defences):
    """`python -m sample_forum --threads-per-page 4`: the lists of the README's table of scheduled
    runs' costs (forum 2's on 4 pages), so a user can measure them; behind a defence too."""
    import subprocess
    import sys
    from types import SimpleNamespace

    command = [sys.executable, "-m", "sample_forum", "--port", "0", "--threads-per-page", "4", "--posts-per-page", "5", *defences]
    server = subprocess.Popen(command, cwd=SNAPSHOTS.parent, stdout=subprocess.PIPE, text=True)
    try:
        running = SimpleNamespace(base_url=server.stdout.readline().split(" at ")[1].split()[0])
        if defences:  # the reload page's cookies, once, as a browser keeps them
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            opener.open(running.base_url + "forum.php", timeout=10).read()
            urllib.request.install_opener(opener)
        status, _, page = fetch(running, "forum-2-4.html")
        assert status == 200 and "forum-2-3.html" in page
        status, _, page = fetch(running, "thread-1-9-1.html")  # 45 posts, 5 a page
        assert status == 200 and "thread-1-8-1.html" in page
    finally:
        urllib.request.install_opener(None)
        server.terminate()
        server.wait(timeout=10)
