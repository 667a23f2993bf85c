"""The media store (-a media=…): each file a guest may download, byte for byte and once; what is
not a file recorded with its reason; nothing asked again by a re-crawl; the WARC holds the files."""

import hashlib
from collections import Counter
import json
import subprocess
import urllib.error
import urllib.request
import sys
from pathlib import Path

import pytest
from sqlite_utils import Database

from pipelines.media import media_mode
from pipelines.media_store import MediaStore
from sample_forum.server import SampleForum
from scraper.media_answers import is_ui_image, refused_answer

ROOT = Path(__file__).parent.parent
FEATURES = ROOT / "tests/fixtures/discuz-x-features"
TRUTH = {a["aid"]: a for a in json.loads((FEATURES / "v1/TRUTH.json").read_text("utf-8"))["attachments"]}
FEATURES_BASE = "http://127.0.0.1:8082/"


class FeaturesForum(SampleForum):
    """The media fixture of the features snapshot (its pages link to http://127.0.0.1:8082/);
    ``charset`` and ``dynamic`` serve it as a forum installed in GBK, or without URL rewriting."""

    def __init__(self, **options):
        super().__init__(str(FEATURES / "media"), saved_at=FEATURES_BASE, **options)


def crawl(scrapy_crawl, db_path, forum, *extra, settings=None, tids=(4, 5, 10)):
    """A crawl with the owner's consent to fetch what robots.txt disallows: Discuz's stock
    robots.txt disallows the attachment links (/*?mod=attachment*)."""
    form = "forum.php?mod=viewthread&tid={}" if forum.dynamic else "thread-{}-1-1.html"
    seeds = ",".join(forum.base_url + form.format(tid) for tid in tids)
    return scrapy_crawl(db_path, f"url={seeds}", "media=all", *extra, settings={"ROBOTSTXT_OBEY": False} | (settings or {}))


def media_requests(forum) -> list[str]:
    return [path for path in forum.requests if "mod=attachment" in path or "/data/attachment/" in path]


def test_a_crawl_with_media_stores_each_file_once_and_records_what_is_not_a_file(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    with FeaturesForum() as forum:
        crawl(scrapy_crawl, db_path, forum, settings={"ARCHIVE_RAW_PAGES": 1})
        first = media_requests(forum)
        forum.clear_requests()
        crawl(scrapy_crawl, db_path, forum)
        second = media_requests(forum)
    db = Database(db_path)
    rows = {row["aid"]: row for row in db["attachments"].rows}
    store = MediaStore(tmp_path / "archive.db.media")
    for aid in (2, 3, 4, 5, 9):  # the three images, the zip and the txt: byte for byte
        assert rows[aid]["file_status"] == "stored", rows[aid]
        assert rows[aid]["sha256"] == TRUTH[aid]["sha256"]
        assert hashlib.sha256(store.path(rows[aid]["sha256"]).read_bytes()).hexdigest() == TRUTH[aid]["sha256"]
        assert rows[aid]["stored_path"] == f"{TRUTH[aid]['sha256'][:2]}/{TRUTH[aid]['sha256']}"
    assert rows[6]["file_status"] == "paid" and not rows[6]["sha256"]  # no link: the price instead
    assert rows[10]["file_status"] == "denied" and rows[10]["sha256"] is None  # an HTML page, not the pdf
    assert "游客" in rows[10]["file_message"]
    # each file once: the images are both attachments and post images, asked for once each
    assert sorted(first) == sorted(set(first)) and len(first) == 6
    assert db["media"].count == 5
    assert {row["sha256"] for row in db["media"].rows} == {TRUTH[aid]["sha256"] for aid in (2, 3, 4, 5, 9)}
    images = list(db["post_images"].rows)
    assert {row["pid"] for row in images} == {43} and {row["status"] for row in images} == {"stored"}
    assert {row["sha256"] for row in images} == {TRUTH[aid]["sha256"] for aid in (2, 3, 4)}
    assert not any(is_ui_image(row["url"]) for row in images)  # no file-type icons
    assert sorted(p.name for p in store.root.rglob("*") if p.is_file()) == sorted(TRUTH[a]["sha256"] for a in (2, 3, 4, 5, 9))
    assert second == []  # an unchanged forum: no media request

    warc = tmp_path / "forum.warc.gz"
    subprocess.run([sys.executable, "-m", "export", "warc", "--db", str(db_path), "-o", str(warc)], cwd=ROOT, check=True)
    assert subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(warc)], capture_output=True).returncode == 0
    index = subprocess.run([sys.executable, "-m", "warcio.cli", "index", "-f", "warc-type,warc-target-uri", str(warc)],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    records = [json.loads(line) for line in index.splitlines()]
    uris = {r.get("warc-target-uri") for r in records if r["warc-type"] == "response"}
    assert {f"{forum.base_url}thread-{tid}-1-1.html" for tid in (4, 5, 10)} <= uris
    assert sum("/data/attachment/" in (uri or "") or "mod=attachment" in (uri or "") for uri in uris) == 5
    # the images' attachment links (the file under another address): revisits of the image
    revisits = {r["warc-target-uri"] for r in records if r["warc-type"] == "revisit"}
    assert revisits == {rows[aid]["url"] for aid in (2, 3, 4)}


def test_a_file_over_the_cap_is_recorded_not_downloaded_and_a_later_run_resumes(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    with FeaturesForum() as forum:
        # xiongtongzi-2 and -3 (25128, 25273 bytes) are over the cap, -1 (23049) is not
        crawl(scrapy_crawl, db_path, forum, settings={"ARCHIVE_MEDIA_MAXSIZE": 25000})
        db = Database(db_path)
        rows = {row["aid"]: row for row in db["attachments"].rows}
        assert rows[2]["file_status"] == "stored"
        assert rows[3]["file_status"] == rows[4]["file_status"] == "too_large"
        assert not any(MediaStore(tmp_path / "archive.db.media").has(TRUTH[aid]["sha256"]) for aid in (3, 4))
        # an interrupted run: the archive saw files it has no answer for
        db.execute("UPDATE attachments SET file_status = NULL, sha256 = NULL WHERE aid = 9")
        db.conn.commit()
        forum.clear_requests()
        # written in the crawl's own process this time: the records take the same path
        settings = {"ROBOTSTXT_OBEY": False, "ARCHIVE_WORKER": False}
        scrapy_crawl(db_path, f"url={forum.base_url}thread-4-1-1.html", "media=attachments", settings=settings)
        assert media_requests(forum) == ["/forum.php?mod=attachment&aid=OXxkM2ZhZTg5NHwxNzk2MTc0OTc2fDB8MTA%3D"]
    assert Database(db_path)["attachments"].get((forum.base_url[7:-1], 9))["file_status"] == "stored"


@pytest.mark.parametrize("ranges", ["bytes", "start", None], ids=["range", "discuz-range-to-the-end", "range-ignored"])
def test_a_file_larger_than_a_piece_arrives_byte_for_byte_in_pieces(tmp_path, scrapy_crawl, ranges):
    """ARCHIVE_MEDIA_PIECE=10000: the images (23049-25273 bytes) come in 3 pieces each from a
    server that honours Range, or from one that sends from the Range's start to the end
    (Discuz's attachment module), and whole from one that ignores it; the zip (497 bytes) in one."""
    db_path = tmp_path / "archive.db"
    with FeaturesForum(ranges=ranges) as forum:
        crawl(scrapy_crawl, db_path, forum, settings={"ARCHIVE_MEDIA_PIECE": 10000}, tids=(4, 5))
        asked = Counter(media_requests(forum))
    rows = {row["aid"]: row for row in Database(db_path)["attachments"].rows}
    store = MediaStore(tmp_path / "archive.db.media")
    for aid in (2, 3, 4, 5):
        assert rows[aid]["file_status"] == "stored" and rows[aid]["sha256"] == TRUTH[aid]["sha256"]
        assert hashlib.sha256(store.path(TRUTH[aid]["sha256"]).read_bytes()).hexdigest() == TRUTH[aid]["sha256"]
    assert len(asked) == 4 and dict(asked) == {path: 3 if ranges and "/data/attachment/" in path else 1 for path in asked}
    assert not list(store.root.glob(".part-*"))


class StoppingForum(FeaturesForum):
    """Serves Range, but answers 503 to the pieces of one image from ``fail_from`` on; records
    each request for a file under data/attachment/ with its Range."""

    def __init__(self, image: str, fail_from: int | None):
        super().__init__(ranges="bytes")
        self.image, self.fail_from, self.asked = image, fail_from, []

    def answer(self, target, headers):
        if "/data/attachment/" in target:
            self.asked.append((target, headers.get("Range")))
        start = int((headers.get("Range") or "bytes=0-").split("=")[1].split("-")[0])
        if target == self.image and self.fail_from is not None and start >= self.fail_from:
            return 503, {"Content-Type": "text/html", "Content-Length": "0"}, b""
        return super().answer(target, headers)


def test_a_download_stopped_half_way_goes_on_where_it_stopped(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    image = "/" + image_file(3)  # 25128 bytes: pieces from 0, 10000 and 20000
    store = MediaStore(tmp_path / "archive.db.media")
    settings = {"ARCHIVE_MEDIA_PIECE": 10000, "RETRY_TIMES": 0}
    with StoppingForum(image, fail_from=20000) as forum:
        crawl(scrapy_crawl, db_path, forum, settings=settings, tids=(4,))
        assert Database(db_path)["attachments"].get((forum.base_url[7:-1], 3))["file_status"] == "error"
        assert [part.stat().st_size for part in store.root.glob(".resume-*")] == [20000]  # kept for the next run
        forum.fail_from, forum.asked = None, []
        crawl(scrapy_crawl, db_path, forum, settings=settings, tids=(4,))
        asked = [asked_range for path, asked_range in forum.asked if path == image]
    row = Database(db_path)["attachments"].get((forum.base_url[7:-1], 3))
    assert row["file_status"] == "stored" and row["sha256"] == TRUTH[3]["sha256"]
    assert hashlib.sha256(store.path(TRUTH[3]["sha256"]).read_bytes()).hexdigest() == TRUTH[3]["sha256"]
    assert asked == ["bytes=0-9999", "bytes=20000-29999"]  # the first piece tells the file is the same
    assert not list(store.root.glob(".resume-*")) and not list(store.root.glob(".part-*"))


def test_robots_txt_is_obeyed_for_files_too_and_the_log_says_so_once(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    with FeaturesForum() as forum:
        log = crawl(scrapy_crawl, db_path, forum, settings={"ROBOTSTXT_OBEY": True, "LOG_LEVEL": "INFO"}, tids=(5, 10)).stderr
        assert media_requests(forum) == []
    rows = {row["aid"]: row for row in Database(db_path)["attachments"].rows}
    assert rows[5]["file_status"] == rows[9]["file_status"] == rows[10]["file_status"] == "robots"
    assert log.count("robots.txt forbids them") == 1 and "3 files not downloaded (3 attachments)" in log
    assert "media: 0 files stored; not stored: 1 paid, 3 robots" in log


class PortalImagesForum(SampleForum):
    """The whole features snapshot (tests/test_features_crawl.py's v1), whose portal articles
    show no image: here article 1's two pages each show one, at a path Discuz gives portal
    images (data/attachment/portal/…), served with the bytes of two real image attachments of
    the snapshot (TRUTH.json aids 2 and 3)."""

    IMAGES = {
        "article-1-1.html": ("data/attachment/portal/202612/02/093000spring.jpg", 2),
        "article-1-2.html": ("data/attachment/portal/202612/02/093000summer.jpg", 3),
    }

    def __init__(self):
        super().__init__(str(FEATURES / "served-v1"), saved_at=FEATURES_BASE, fallback=[FEATURES / "v1"])

    def respond(self, target):
        status, headers, body = super().respond(target)
        for page, (path, aid) in self.IMAGES.items():
            if target == "/" + page:
                body = body.replace(b'<td id="article_content">', f'<td id="article_content"><p><img src="{path}" /></p>'.encode())
                headers["Content-Length"] = str(len(body))
            elif target == "/" + path:
                body = (FEATURES / "media" / image_file(aid)).read_bytes()
                status, headers = 200, {"Content-Type": "image/jpeg", "Content-Length": str(len(body))}
        return status, headers, body


def image_file(aid: int) -> str:
    """Where the media fixture keeps an image attachment's file (TRUTH.json's attachment path)."""
    return "data/attachment/forum/" + TRUTH[aid]["attachment"]


def test_the_images_of_every_page_of_a_portal_article_are_stored_once(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    with PortalImagesForum() as forum:
        seed, owner = f"url={forum.base_url}forum.php", {"ROBOTSTXT_OBEY": False}
        scrapy_crawl(db_path, seed, "media=images", settings=owner)
        portal = [path for path in forum.requests if "/data/attachment/portal/" in path]
        db = Database(db_path)
        rows = {(row["aid"], row["url"]): (row["status"], row["sha256"]) for row in db["portal_images"].rows}
        assert rows == {
            (1, forum.base_url + path): ("stored", TRUTH[aid]["sha256"]) for path, aid in PortalImagesForum.IMAGES.values()
        }
        assert sorted(portal) == sorted("/" + path for path, _ in PortalImagesForum.IMAGES.values())  # once each
        store = MediaStore(tmp_path / "archive.db.media")
        for aid in (2, 3):
            assert hashlib.sha256(store.path(TRUTH[aid]["sha256"]).read_bytes()).hexdigest() == TRUTH[aid]["sha256"]
        assert {TRUTH[2]["sha256"], TRUTH[3]["sha256"]} <= {row["sha256"] for row in db["media"].rows}
        # the unchanged forum again: not asked again; an image the archive shows without an answer (an
        # interrupted run's) is asked for by the next run
        forum.clear_requests()
        scrapy_crawl(db_path, seed, "media=images", settings=owner)
        assert not [path for path in forum.requests if "/data/attachment/portal/" in path]
        db.execute("DELETE FROM portal_images WHERE url LIKE '%summer.jpg'")
        db.conn.commit()
        forum.clear_requests()
        scrapy_crawl(db_path, seed, "media=images", settings=owner)
        assert [path for path in forum.requests if "/data/attachment/portal/" in path] == ["/" + PortalImagesForum.IMAGES["article-1-2.html"][0]]
    assert Database(db_path)["portal_images"].count == 2


@pytest.mark.parametrize("options", [{"charset": "gbk", "dynamic": True}], ids=["gbk-dynamic"])
def test_a_forum_in_gbk_with_dynamic_links_gives_the_same_files(tmp_path, scrapy_crawl, options):
    db_path = tmp_path / "archive.db"
    with FeaturesForum(**options) as forum:
        crawl(scrapy_crawl, db_path, forum)
        assert len(media_requests(forum)) == 6
    rows = {row["aid"]: (row["file_status"], row["sha256"]) for row in Database(db_path)["attachments"].rows}
    assert rows == {aid: ("stored", TRUTH[aid]["sha256"]) for aid in (2, 3, 4, 5, 9)} | {6: ("paid", None), 10: ("denied", None)}
    images = Database(db_path)["post_images"].rows
    assert {(row["pid"], row["status"], row["sha256"]) for row in images} == {(43, "stored", TRUTH[aid]["sha256"]) for aid in (2, 3, 4)}


SAMPLE = ROOT / "sample_forum/v1"  # shared/sites/discuz-x-live


# Every real answer in shared/ that Discuz gives a guest instead of what was asked (none of them
# to an attachment link: the snapshots' guests could download every file but the paid one, whose
# page shows no link; and no page of shared/ says 附件不存在, so the "missing file" words are
# known only by the thread- and forum-missing ones, which the same message template shows).
@pytest.mark.parametrize(
    "path, content_type, status, expected",
    [
        (FEATURES / "v1/forum.php@mod=misc&action=attachpay&aid=6&tid=5.html", "text/html; charset=utf-8", 200,
         ("denied", "抱歉，您所在的用户组(游客)无法进行此操作")),  # the paid attachment's 购买 link
        (FEATURES / "v1/forum.php@mod=misc&action=viewvote&tid=8.html", "text/html; charset=utf-8", 200,
         ("denied", "抱歉，您无权查看本帖投票人")),
        (FEATURES / "v1/forum.php@mod=misc&action=viewvote&tid=8&infloat=yes&handlekey=viewvote&inajax=1&ajaxtarget=fwin_content_viewvote.html",
         "text/xml; charset=utf-8", 200, ("denied", "抱歉，您无权查看本帖投票人")),  # the same, as an ajax answer
        (FEATURES / "v1/space-uid-3.html", "text/html; charset=utf-8", 200, ("login", "抱歉，您需要登录后才能查看")),
        (SAMPLE / "forum-99-1.html", "text/html; charset=utf-8", 200, ("missing", "抱歉，指定的版块不存在")),
        (FEATURES / "v1/thread-19-1-1.html", "text/html; charset=utf-8", 404, ("missing", "HTTP 404")),
        (FEATURES / "served-v1/api/mobile/index.php@version=4&module=viewthread&tid=19&page=1.json", "application/json", 404,
         ("missing", "HTTP 404")),
        (FEATURES / "served-v1/api/mobile/index.php@version=4&module=viewthread&tid=9&page=1.json", "text/html; charset=utf-8", 503,
         ("http_error", "HTTP 503")),  # X3.5's System Error on PHP 8
    ],
    ids=["attachpay", "viewvote", "viewvote-ajax", "login", "forum-missing", "404", "api-404", "503"],
)  # fmt: skip
def test_the_html_answers_discuz_gives_instead_of_a_file(path, content_type, status, expected):
    assert refused_answer(path.read_bytes(), content_type, status) == expected


def test_a_file_is_a_file_even_when_the_server_calls_it_octet_stream():
    body = (FEATURES / "media/forum.php@mod=attachment&aid=OXxkM2ZhZTg5NHwxNzk2MTc0OTc2fDB8MTA%3D.txt").read_bytes()
    assert refused_answer(body, "application/octet-stream", 200) is None
    # the same page served as octet-stream is still a page
    page = (FEATURES / "v1/space-uid-3.html").read_bytes()
    assert refused_answer(page, "application/octet-stream", 200)[0] == "login"


def test_the_store_writes_atomically_and_once(tmp_path):
    store = MediaStore(tmp_path / "m")
    body = (FEATURES / "media/data/attachment/forum/202612/02/092652ua1y6aak3yyyiyww.jpg").read_bytes()
    assert store.put(body) == (TRUTH[2]["sha256"], len(body), True)
    assert store.put(body)[2] is False  # the same bytes again: not written again
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [TRUTH[2]["sha256"]]  # no .part left


def test_media_mode():
    assert media_mode("all") == {"images", "attachments"} and media_mode("") == set()
    with pytest.raises(ValueError, match="images, attachments or all"):
        media_mode("videos")


def test_datasette_serves_the_store_read_only_and_shows_the_local_copies(tmp_path):
    """datasette -m metadata.yml with the project's plugin: an archived image shows from the store,
    an attachment links to its file, and nothing outside the store can be reached."""
    from pipelines.media_records import AttachmentFile, MediaFile, PortalImageFile, PostImageFile
    from pipelines.store import open_archive, save_in_one_transaction
    from browse.serve import datasette_command
    from test_datasette import get, wait_for_datasette

    db_path = tmp_path / "archive.db"
    image = (FEATURES / "media/data/attachment/forum/202612/02/092652ua1y6aak3yyyiyww.jpg").read_bytes()
    sha256, size, _ = MediaStore(tmp_path / "archive.db.media").put(image)
    (tmp_path / "secret.txt").write_text("not for the web")
    stored_url, other_url = "http://127.0.0.1:8082/data/a.jpg?x=1&y=2", "http://127.0.0.1:8082/data/b.jpg"
    db = open_archive(db_path)
    db["sites"].insert({"site": "127.0.0.1:8082"})
    db["articles"].insert({"site": "127.0.0.1:8082", "tid": 4, "pid": 43, "title": "t",
                           "content_html": f'<p><img src="{stored_url.replace("&", "&amp;")}"><img src="{other_url}"></p>'})  # fmt: skip
    portal_url = "http://127.0.0.1:8082/data/attachment/portal/202612/02/093000spring.jpg"
    db["portal_articles"].insert({"site": "127.0.0.1:8082", "aid": 1, "title": "a", "content_html": f'<p><img src="{portal_url}"></p>'})
    save_in_one_transaction(db, [
        MediaFile(sha256, size, "image/jpeg", stored_url, "2026-12-03T00:00:00+00:00"),
        PostImageFile("127.0.0.1:8082", 43, stored_url, "stored", "2026-12-03T00:00:00+00:00", sha256),
        PostImageFile("127.0.0.1:8082", 43, other_url, "missing", "2026-12-03T00:00:00+00:00", message="HTTP 404"),
        AttachmentFile("127.0.0.1:8082", 2, "stored", "2026-12-03T00:00:00+00:00", sha256, f"{sha256[:2]}/{sha256}"),
        PortalImageFile("127.0.0.1:8082", 1, portal_url, "stored", "2026-12-03T00:00:00+00:00", sha256),
    ])  # fmt: skip
    db.close()
    log_path = tmp_path / "datasette.log"
    command, environment = datasette_command(db_path, "-m", str(ROOT / "metadata.yml"))
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=environment)
    try:
        base = wait_for_datasette(server, log_path)
        local = f"/-/media/{sha256[:2]}/{sha256}"
        with urllib.request.urlopen(base + local) as answer:
            assert answer.read() == image and answer.headers["Content-Type"] == "image/jpeg"
        article = get(base + "/archive/articles/127.0.0.1:8082,4")
        assert f'<img src="{local}">' in article and f'<img src="{other_url}">' in article
        assert f'<a href="{local}">' in get(base + "/archive/attachments")
        assert f'<img src="{local}">' in get(base + "/archive/portal_articles/127.0.0.1:8082,1")
        for attempt in ("/-/media/../secret.txt", "/-/media/%2e%2e/secret.txt", f"/-/media/{sha256[:2]}/..%2F..%2Fsecret.txt",
                        "/-/media/00/" + "0" * 64, f"/-/media/{sha256[2:4]}/{sha256}"):  # fmt: skip
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + attempt)
            assert refused.value.code == 404, attempt
    finally:
        server.terminate()
        server.wait(timeout=10)
