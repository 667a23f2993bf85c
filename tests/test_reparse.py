"""Raw pages kept in the archive rebuild it offline, to the same rows the crawl gave."""

import hashlib
import subprocess
import sys
import zlib
from pathlib import Path

from sqlite_utils import Database

from pipelines.reparse import main as reparse_main
from pipelines.rawpages import ZSTD_MAGIC, raw_body
from pipelines.store import open_archive, save_in_one_transaction
from sample_forum import serve
from scraper.models import FetchedPage
from scraper.reading import fill_fetched_page

ROOT = Path(__file__).parent.parent
BOOKKEEPING = {"first_seen_at", "last_seen_at", "last_crawled_at", "fetched_at", "replaced_at", "seen_at", "synced_at"}
TABLES = ("articles", "comments", "users", "forums", "revisions", "pages", "sites")


def rows(db: Database) -> dict[str, list[dict]]:
    return {
        table: sorted(
            ({k: v for k, v in row.items() if k not in BOOKKEEPING and k != "id"} for row in db[table].rows),
            key=repr,
        )
        for table in TABLES
    }


def test_reparse_rebuilds_the_same_rows_without_the_network(tmp_path, capsys, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    with serve("v1") as forum:
        scrapy_crawl(db_path, f"url={forum.base_url}forum.php", settings={"ARCHIVE_RAW_PAGES": 1})
        forum.switch("v2")
        scrapy_crawl(db_path, f"url={forum.base_url}forum.php", settings={"ARCHIVE_RAW_PAGES": 1})
    # the server is gone: the rebuild cannot touch the network
    rebuilt = tmp_path / "rebuilt.db"
    assert reparse_main([str(db_path), str(rebuilt)]) == 0
    assert "pages re-parsed" in capsys.readouterr().out
    old, new = Database(db_path), Database(rebuilt)
    assert old["raw_pages"].count == new["raw_pages"].count > 60
    assert {row["body"][:4] for row in old["raw_pages"].rows} == {ZSTD_MAGIC}
    assert rows(new) == rows(old)
    assert [row["outcome"] for row in new["crawls"].rows] == ["finished", "finished"]
    synced = "SELECT tid, synced_replies, synced_last_post_at FROM articles ORDER BY tid"
    assert list(new.query(synced)) == list(old.query(synced))


def test_reparse_reads_the_zlib_bodies_of_archives_written_before_zstd(tmp_path, capsys):
    source = tmp_path / "old.db"
    db = open_archive(source)
    pages = []
    for second, (kind, name) in enumerate([("forum", "forum-2-1.html"), ("thread", "thread-2-1-1.html"), ("thread", "thread-2-2-1.html")]):
        body = (ROOT / "sample_forum/v1" / name).read_bytes()
        page = FetchedPage(
            f"http://127.0.0.1:8080/{name}", "127.0.0.1:8080", kind, 200, f"2026-11-27T00:00:0{second}+00:00",
            len(body), hashlib.sha256(body).hexdigest(), asked_as=kind, content_type="text/html; charset=utf-8",
        )
        fill_fetched_page(page, body)
        page.body = body
        pages.append(page)
    save_in_one_transaction(db, pages)
    # as the archive was written before zstd: zlib level 6 (the first page stays zstd: an old
    # archive crawled again holds both)
    for row in list(db["raw_pages"].rows)[1:]:
        db.execute(
            "UPDATE raw_pages SET body = ? WHERE url = ? AND sha256 = ?",
            [zlib.compress(raw_body(row["body"]), 6), row["url"], row["sha256"]],
        )
    db.conn.commit()
    assert sorted(row["body"][:1] for row in db["raw_pages"].rows) == [b"\x28", b"\x78", b"\x78"]

    rebuilt = tmp_path / "rebuilt.db"
    assert reparse_main([str(source), str(rebuilt)]) == 0
    assert "3 pages re-parsed" in capsys.readouterr().out
    new = Database(rebuilt)
    assert rows(new) == rows(db)
    assert new["articles"].get(("127.0.0.1:8080", 2))["content_text"] and new["comments"].count > 10
    # the rebuilt archive keeps the same bytes, zstd-compressed
    kept = {row["url"]: row["body"] for row in new["raw_pages"].rows}
    assert {body[:4] for body in kept.values()} == {ZSTD_MAGIC}
    assert {url: raw_body(body) for url, body in kept.items()} == {page.url: page.body for page in pages}


def test_reparse_refuses_an_archive_without_raw_pages_and_an_existing_target(tmp_path, capsys):
    plain = tmp_path / "plain.db"
    with serve("v1") as forum:
        subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "discuz", "-a", f"url={forum.base_url}thread-14-1-1.html",
             "-s", f"ARCHIVE_DB={plain}", "-s", "DOWNLOAD_DELAY=0"],
            cwd=ROOT, capture_output=True, check=True, timeout=120,
        )
    assert reparse_main([str(plain), str(tmp_path / "new.db")]) == 2
    assert "keeps no raw pages" in capsys.readouterr().err
    assert reparse_main([str(plain), str(plain)]) == 2
