"""python -m export wacz: the features forum's kept pages and files as a WACZ that `wacz validate`
passes and ReplayWeb.page replays in headless Chromium."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlite_utils import Database
from warcio.archiveiterator import ArchiveIterator

from export.wacz import surt, write_wacz
from export.warc import payload_digest, warc_date, write_records, write_warc
from pipelines.media_store import MediaStore
from pipelines.store import open_archive
from replay import Browser, StaticServer, replaywebpage_files, serve_app
from test_media import FEATURES, FeaturesForum, crawl

ROOT = Path(__file__).parent.parent
THREADS = {t["tid"]: t for t in json.loads((FEATURES / "v1/TRUTH.json").read_text("utf-8"))["threads"]}
TIDS = (4, 5, 10)
WACZ_COMMAND = Path(os.environ.get("WACZ_COMMAND", ROOT / ".wacz-venv/bin/wacz"))


@pytest.fixture(scope="module")
def wacz(tmp_path_factory, scrapy_crawl):
    """The media forum (tests/test_media.py) crawled with its files and raw pages kept, as a WACZ."""
    folder = tmp_path_factory.mktemp("wacz")
    db_path = folder / "archive.db"
    with FeaturesForum() as forum:
        crawl(scrapy_crawl, db_path, forum, settings={"ARCHIVE_RAW_PAGES": 1}, tids=TIDS)
    result = subprocess.run(
        [sys.executable, "-m", "export", "wacz", "--db", str(db_path), "-o", str(folder / "forum.wacz")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "3 pages" in result.stderr and not list(folder.glob(".wacz-*"))  # no scratch file left
    # the same with an index block per two records (ReplayWeb.page's lookups then go through
    # the .idx to the right blocks), and the pages' text (--text)
    write_wacz(db_path, folder / "small-blocks.wacz", cdx_block=2, text=True)
    with open(folder / "forum.warc.gz", "wb") as out:  # the plain WARC, whose warcinfo names the pages
        write_warc(db_path, out)
    return folder / "forum.wacz", Database(db_path)


def read_index(archive: zipfile.ZipFile) -> list[tuple[str, dict]]:
    """Every CDXJ line, block by block as the .idx points at them: (key, fields)."""
    idx = archive.read("indexes/index.idx").decode().splitlines()
    assert json.loads(idx[0].split(" ", 2)[2]) == {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}
    blocks = archive.read("indexes/index.cdx.gz")
    lines = []
    for line in idx[1:]:
        first_key, place = cdxj(line)
        block = gzip.decompress(blocks[place["offset"] : place["offset"] + place["length"]]).decode().splitlines()
        assert block[0].startswith(first_key + " ")
        lines += block
    return [cdxj(line) for line in lines]


def payload_at(warc: bytes, offset: int, length: int) -> bytes:
    """The payload of the one record at ``offset`` (as a replayer reads it: that range only)."""
    (payload,) = [record.content_stream().read() for record in ArchiveIterator(io.BytesIO(warc[offset : offset + length]))]
    return payload


def cdxj(line: str) -> tuple[str, dict]:
    """A CDXJ line's key (SURT and timestamp) and its JSON."""
    key, fields = line.split(" {", 1)
    return key, json.loads("{" + fields)


@pytest.fixture
def wacz_validate():
    """The `wacz` command, from its own environment (tests/requirements-wacz.txt says why)."""
    if WACZ_COMMAND.is_file():
        return WACZ_COMMAND
    reason = f"{WACZ_COMMAND} missing: .ci/run makes it (pip install -r tests/requirements-wacz.txt in .wacz-venv/)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_wacz_validate_passes_the_wacz(wacz, wacz_validate):
    path, _ = wacz
    check = subprocess.run([str(wacz_validate), "validate", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines()[-1] == "Validation succeeded, the passed WACZ is valid"


def test_the_wacz_holds_a_page_per_thread_each_file_whole_and_the_hashes_of_its_parts(wacz):
    path, db = wacz

    archive = zipfile.ZipFile(path)
    names = ["archive/data.warc.gz", "indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl"]
    assert archive.namelist() == [*names, "datapackage.json", "datapackage-digest.json"]
    # read by byte range: stored, not deflated
    assert {info.filename for info in archive.infolist() if info.compress_type == zipfile.ZIP_STORED} >= set(names[:2])
    package = json.loads(archive.read("datapackage.json"))
    assert package["wacz_version"] == "1.1.1" and [r["path"] for r in package["resources"]] == names
    assert package["title"] == db.execute("SELECT site FROM sites").fetchone()[0]  # 127.0.0.1:PORT
    for resource in package["resources"]:
        data = archive.read(resource["path"])
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest() and resource["bytes"] == len(data)
    digest = json.loads(archive.read("datapackage-digest.json"))
    assert digest == {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(archive.read("datapackage.json")).hexdigest()}

    header, *pages = [json.loads(line) for line in archive.read("pages/pages.jsonl").decode().splitlines()]
    assert header["format"] == "json-pages-1.0" and not any("text" in page for page in pages)  # without --text
    kept = {url: fetched_at for url, fetched_at in db.execute("SELECT url, fetched_at FROM raw_pages")}
    assert {page["title"]: page["url"].rsplit("/", 1)[1] for page in pages} == {
        THREADS[tid]["subject"]: f"thread-{tid}-1-1.html" for tid in TIDS
    }  # fmt: skip
    assert all(page["ts"] == warc_date(kept[page["url"]]) for page in pages)
    with zipfile.ZipFile(path.parent / "small-blocks.wacz") as with_text:  # --text: the posts of the first page
        texts = {json.loads(line)["title"]: json.loads(line)["text"] for line in with_text.read("pages/pages.jsonl").splitlines()[1:]}
    for tid in TIDS:
        assert all(line in texts[THREADS[tid]["subject"]] for line in THREADS[tid]["posts"][0]["message"].splitlines()[:1])

    index = read_index(archive)
    assert [key for key, _ in index] == sorted(key for key, _ in index)
    by_url = {fields["url"]: (key, fields) for key, fields in index}
    assert set(kept) <= set(by_url)
    warc = archive.read("archive/data.warc.gz")
    store = MediaStore(path.parent / "archive.db.media")
    media = list(db["media"].rows)
    assert len(media) == 5
    for row in media:  # each file one whole 200 record, found where the index says
        key, fields = by_url[row["first_url"]]
        assert key.startswith(surt(row["first_url"]) + " ") and fields["status"] == "200"
        assert fields["digest"] == payload_digest(row["sha256"])
        assert payload_at(warc, int(fields["offset"]), int(fields["length"])) == store.path(row["sha256"]).read_bytes()
    for (url,) in db.execute("SELECT url FROM attachments WHERE sha256 IS NOT NULL AND url NOT IN (SELECT first_url FROM media)"):
        assert by_url[url][1]["mime"] == "warc/revisit"  # the images' attachment links: the image again


def test_surt_is_the_key_replaywebpage_looks_a_url_up_by():
    assert surt("http://127.0.0.1:8082/thread-4-1-1.html") == "1,0,0,127:8082)/thread-4-1-1.html"
    assert surt("https://www.Example.com/forum.php?mod=viewthread&tid=5") == "com,example)/forum.php?mod=viewthread&tid=5"
    assert surt("http://bbs.example.com:80/forum.php?tid=5&mod=attachment&aid=AB%3D") == "com,example,bbs)/forum.php?aid=ab%3d&mod=attachment&tid=5"
    assert surt("http://bbs.example.com") == "com,example,bbs)/"
    assert surt("http://bbs.example.com/搜索 x") == "com,example,bbs)/%E6%90%9C%E7%B4%A2%20x"


@pytest.fixture
def replay_app():
    """ReplayWeb.page's files (.ci/run unpacks them) and Chromium (.ci/run installs it)."""
    chromium, files = shutil.which("chromium"), replaywebpage_files()
    missing = [what for what, there in (("Debian's chromium", chromium), ("ReplayWeb.page's files in .replaywebpage/", files)) if not there]
    if missing:
        reason = " and ".join(missing) + " missing: .ci/run installs them (npm pack replaywebpage)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium, files


SHA256_OF = """fetch(%s).then(answer => answer.arrayBuffer()).then(body => crypto.subtle.digest("SHA-256", body))
  .then(hash => [...new Uint8Array(hash)].map(byte => byte.toString(16).padStart(2, "0")).join(""))"""


def test_replaywebpage_lists_the_threads_and_replays_a_thread_and_its_files(wacz, replay_app, tmp_path):
    chromium, files = replay_app
    path, db = wacz
    site = tmp_path / "site"
    site.mkdir()
    serve_app(site, files)
    shutil.copy(path.parent / "small-blocks.wacz", site / "forum.wacz")
    shutil.copy(path.parent / "forum.warc.gz", site / "forum.warc.gz")
    records = len(TIDS) + 5 + 3  # the thread pages, the files, the images' attachment links
    assert len(zipfile.ZipFile(site / "forum.wacz").read("indexes/index.idx").splitlines()) == 1 + -(-records // 2)
    titles = [THREADS[tid]["subject"] for tid in TIDS]
    (thread,) = db.execute("SELECT url FROM pages WHERE tid = 4 AND page = 1").fetchone()
    first_line = THREADS[4]["posts"][0]["message"].splitlines()[0]
    with StaticServer(site) as server:
        app = f"{server.base_url}?source={quote(server.base_url + 'forum.wacz', safe='')}"
        with Browser(chromium, tmp_path / "profile", app + "#view=pages") as browser:
            assert_lists_pages(browser, titles)

            browser.call("Page.navigate", url=f"{app}#view=replay&url={quote(thread, safe='')}")
            documents = browser.wait_for(lambda docs: any(href.endswith("mp_/" + thread) and first_line in text for href, text in docs))
            replayed = [href for href, text in documents if href.endswith("mp_/" + thread) and first_line in text]
            assert replayed, [(href, text[:300]) for href, text in documents if not href.startswith("shadow:")]

            # every file, byte for byte, through ReplayWeb.page's service worker, from where it was
            # fetched and from its attachment link
            stored = db.execute("SELECT first_url, sha256 FROM media UNION SELECT url, sha256 FROM attachments WHERE sha256 IS NOT NULL").fetchall()
            assert len(stored) == 5 + 3
            for url, sha256 in stored:
                address = replayed[0][: -len(thread)] + url
                result = browser.call("Runtime.evaluate", expression=SHA256_OF % json.dumps(address), awaitPromise=True, returnByValue=True)
                assert result["result"].get("value") == sha256, (url, result)

            # ReplayWeb.page's search finds a thread by its text (pages.jsonl's, noise-free)
            word = "红陶盆"  # in tid 4's first post only
            assert [tid for tid in TIDS if word in THREADS[tid]["posts"][0]["message"]] == [4]
            browser.call("Page.navigate", url=f"{app}#view=pages&query={quote(word)}")
            def only_the_first(shown: str) -> bool:
                return titles[0] in shown and not any(title in shown for title in titles[1:])

            shown = " ".join(text for _, text in browser.wait_for(lambda docs: only_the_first(" ".join(text for _, text in docs))))
            assert only_the_first(shown), shown[-3000:]

            browser.call("Page.navigate", url=f"{server.base_url}?source={quote(server.base_url + 'forum.warc.gz', safe='')}#view=pages")
            assert_lists_pages(browser, titles)  # the plain WARC too: its warcinfo records name them


def assert_lists_pages(browser: Browser, titles: list[str]) -> None:
    shown = " ".join(text for _, text in browser.wait_for(lambda docs: all(any(t in text for _, text in docs) for t in titles)))
    assert all(title in shown for title in titles), shown[-3000:]
    assert "No Pages" not in shown


def test_an_archive_without_kept_pages_gets_a_valid_empty_wacz_and_says_so(tmp_path):
    db_path = tmp_path / "archive.db"
    open_archive(db_path).close()
    result = subprocess.run([sys.executable, "-m", "export", "wacz", "--db", str(db_path), "-o", str(tmp_path / "empty.wacz")],
                            cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    assert "0 pages" in result.stderr and "ARCHIVE_RAW_PAGES=1" in result.stderr
    with zipfile.ZipFile(tmp_path / "empty.wacz") as archive:
        assert archive.read("pages/pages.jsonl").count(b"\n") == 1  # the header only


def test_an_archive_with_files_but_no_kept_pages_says_how_to_keep_them(tmp_path):
    """A crawl with -a media=all alone: the WACZ holds the files, and no page to open; the export
    says why, and what to run."""
    body = b"GIF89a" + bytes(range(64))
    sha256 = hashlib.sha256(body).hexdigest()
    db = open_archive(tmp_path / "archive.db")
    db["media"].insert({"sha256": sha256, "size": len(body), "content_type": "image/gif",
                        "first_url": "http://127.0.0.1:8080/a.gif", "fetched_at": "2026-11-27T00:00:00+00:00"})
    db.close()
    (tmp_path / "archive.db.media" / sha256[:2]).mkdir(parents=True)
    (tmp_path / "archive.db.media" / sha256[:2] / sha256).write_bytes(body)
    result = subprocess.run([sys.executable, "-m", "export", "wacz", "--db", str(tmp_path / "archive.db"), "-o", str(tmp_path / "f.wacz")],
                            cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    assert "0 pages; 1 warcinfo, 1 response" in result.stderr
    assert "no thread pages (crawl again with -s ARCHIVE_RAW_PAGES=1 and -a refresh=all" in result.stderr


def test_an_export_that_fails_half_way_leaves_no_file(wacz, tmp_path, monkeypatch):
    path, db = wacz

    def fail_after_one(*args, **kwargs):
        yield next(write_records(*args, **kwargs))
        raise OSError("No space left on device")

    monkeypatch.setattr("export.wacz.write_records", fail_after_one)
    with pytest.raises(OSError):
        write_wacz(path.parent / "archive.db", tmp_path / "forum.wacz")
    assert list(tmp_path.iterdir()) == []  # no WACZ, no half one, no scratch file
