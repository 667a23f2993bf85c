"""python -m export warc: the kept raw pages as WARC 1.1 that warcio checks and indexes."""

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from sqlite_utils import Database
from warcio.archiveiterator import ArchiveIterator

from export.warc import payload_digest, warc_date
from pipelines.store import open_archive, save_in_one_transaction
from sample_forum import serve
from scraper.models import FetchedPage

ROOT = Path(__file__).parent.parent
WARCIO = [sys.executable, "-m", "warcio.cli"]


def export_warc(db_path: Path, warc: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "export", "warc", "--db", str(db_path), "-o", str(warc)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip


def index(warc: Path) -> list[dict]:
    fields = "warc-type,warc-target-uri,warc-date,warc-payload-digest,http:status,warc-refers-to-target-uri"
    out = subprocess.run([*WARCIO, "index", "-f", fields, str(warc)], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_a_crawl_with_raw_pages_exports_every_thread_page_as_a_checked_warc(tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    with serve("v1") as forum:
        scrapy_crawl(db_path, f"url={forum.base_url}forum.php", settings={"ARCHIVE_RAW_PAGES": 1})
    db = Database(db_path)
    headers = json.loads(db.execute("SELECT headers FROM raw_pages WHERE url LIKE '%thread-2-1-1.html'").fetchone()[0])
    assert ["Content-Type", "text/html; charset=utf-8"] in headers
    warc = tmp_path / "forum.warc.gz"
    result = export_warc(db_path, warc)
    assert "response" in result.stderr
    check = subprocess.run([*WARCIO, "check", "-v", str(warc)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout
    records = index(warc)
    assert records[0]["warc-type"] == "warcinfo"
    thread_pages = {row["url"] for row in db.query("SELECT url FROM pages WHERE kind = 'thread'")}
    assert len(thread_pages) > 20
    responses = {r["warc-target-uri"]: r for r in records if r["warc-type"] == "response"}
    assert thread_pages <= set(responses)
    kept = db.execute("SELECT url, sha256, fetched_at, status FROM raw_pages WHERE url LIKE '%thread-2-1-1.html'").fetchone()
    record = responses[kept[0]]
    assert record["warc-payload-digest"] == payload_digest(kept[1])
    assert record["warc-date"] == warc_date(kept[2])  # the capture time, not the export's
    assert record["http:status"] == str(kept[3]) == "200"
    # ReplayWeb.page's pages: each thread's first page with its title, named before any response
    infos = warcinfo_fields(warc)
    assert next(n for n, r in enumerate(records) if r["warc-type"] != "warcinfo") == len(infos) >= 2  # all first
    named = [page for info in infos for page in json.loads(info.get("json-metadata", "{}")).get("pages", [])]
    titles = {row["url"]: row["title"] for row in db.query(
        "SELECT p.url, a.title FROM pages p JOIN articles a USING (site, tid) WHERE p.kind = 'thread' AND p.page = 1")}  # fmt: skip
    assert {page["url"]: page["title"] for page in named} == titles and len(titles) == db["articles"].count
    assert all(len(page["timestamp"]) == 14 for page in named)


def warcinfo_fields(warc: Path) -> list[dict[str, str]]:
    with open(warc, "rb") as stream:
        payloads = [r.content_stream().read().decode() for r in ArchiveIterator(stream) if r.rec_type == "warcinfo"]
    return [dict(line.split(": ", 1) for line in payload.splitlines() if ": " in line) for payload in payloads]


def test_a_repeated_payload_is_a_revisit_and_old_rows_get_their_content_type(tmp_path):
    """Two URLs with the same bytes, kept before raw_pages kept headers (headers NULL)."""
    db_path = tmp_path / "old.db"
    body = (ROOT / "sample_forum/v1/thread-2-1-1.html").read_bytes()
    pages = [
        FetchedPage(
            f"http://127.0.0.1:8080/{name}", "127.0.0.1:8080", "thread", 200, f"2026-11-27T00:00:0{second}+00:00",
            len(body), hashlib.sha256(body).hexdigest(), tid=1, asked_as="thread",
            content_type="text/html; charset=utf-8", body=body,
        )  # fmt: skip
        for second, name in enumerate(["thread-2-1-1.html", "forum.php?mod=viewthread&tid=1"])
    ]
    save_in_one_transaction(open_archive(db_path), pages)
    warc = tmp_path / "old.warc.gz"
    export_warc(db_path, warc)
    assert subprocess.run([*WARCIO, "check", str(warc)], capture_output=True).returncode == 0
    records = index(warc)
    assert [r["warc-type"] for r in records] == ["warcinfo", "response", "revisit"]
    assert records[2]["warc-refers-to-target-uri"] == pages[0].url
    assert records[1]["warc-payload-digest"] == records[2]["warc-payload-digest"]
    with gzip.open(warc, "rb") as raw:
        text = raw.read()
    assert b"Content-Type: text/html; charset=utf-8\r\n" in text
    assert text.count(b"<html") == 1  # the revisit carries no body


def test_a_media_row_whose_size_is_wrong_still_makes_a_readable_warc(tmp_path):
    """The record's length is the stored file's own: a row's size that differs (another
    program's row) must not make the WARC unreadable from that record on."""
    body = b"GIF89a" + bytes(range(200))
    sha256 = hashlib.sha256(body).hexdigest()
    db = open_archive(tmp_path / "a.db")
    db["media"].insert({"sha256": sha256, "size": 10, "content_type": "image/gif",
                        "first_url": "http://127.0.0.1:8080/a.gif", "fetched_at": "2026-11-27T00:00:00+00:00"})
    db.close()
    (tmp_path / "a.db.media" / sha256[:2]).mkdir(parents=True)
    (tmp_path / "a.db.media" / sha256[:2] / sha256).write_bytes(body)
    warc = tmp_path / "a.warc.gz"
    export_warc(tmp_path / "a.db", warc)
    assert subprocess.run([*WARCIO, "check", str(warc)], capture_output=True).returncode == 0
    with open(warc, "rb") as stream:
        responses = [(record.http_headers.get_header("Content-Length"), record.content_stream().read())
                     for record in ArchiveIterator(stream) if record.rec_type == "response"]
    assert responses == [(str(len(body)), body)]


def test_a_media_row_whose_sha256_is_a_path_reads_nothing_outside_the_store(tmp_path):
    """Another program's row must not put a file from outside the media store into the WARC."""
    (tmp_path / "crawl" / "here").mkdir(parents=True)
    (tmp_path / "crawl" / "secret").write_bytes(b"not for the web")
    db = open_archive(tmp_path / "crawl" / "here" / "a.db")  # its store: crawl/here/a.db.media/
    db["media"].insert({"sha256": "../secret", "size": 15, "content_type": "text/plain",
                        "first_url": "http://127.0.0.1:8080/a.txt", "fetched_at": "2026-11-27T00:00:00+00:00"})
    db.close()
    (tmp_path / "crawl" / "here" / "a.db.media").mkdir()
    warc = tmp_path / "a.warc.gz"
    export_warc(tmp_path / "crawl" / "here" / "a.db", warc)
    assert [r["warc-type"] for r in index(warc)] == ["warcinfo"]
    with gzip.open(warc, "rb") as raw:
        assert b"not for the web" not in raw.read()
