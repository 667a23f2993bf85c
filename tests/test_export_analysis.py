"""Exports ready for analysis, on the discuz-x-features forum crawled as a user crawls it
(tests/features_truth.py): every Parquet export read back with pyarrow and its types checked;
``threads`` against the forum's own database (TRUTH.json); ``--describe``; the README's
pandas and DuckDB examples, run as written, agreeing with each other and with the archive."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from export import SOURCES, export
from export.tables import BOOKKEEPING, FLAGS, LISTS
from tests.features_truth import rows, truth, visible_tids

ROOT = Path(__file__).parent.parent
IDS = {"tid", "pid", "fid", "uid", "aid", "cid", "author_uid", "quote_pid", "rater_uid", "type_id"}
OFFSET = "+08:00"  # the forum's (TRUTH.json: Asia/Shanghai)


@pytest.fixture(scope="module")
def crawled(features_crawls):
    """The forum as saved (v1), and after its changes re-read in full (v2: an edited post),
    crawled once for this module and tests/test_features_crawl.py (conftest.py): each archive
    and its path."""
    stages = {"v1": features_crawls["v1"][0], "v2": features_crawls["v2-refresh"][0]}
    return {name: (db, db.execute("PRAGMA database_list").fetchone()[2]) for name, db in stages.items()}


@pytest.fixture(scope="module")
def exported(crawled, tmp_path_factory):
    """Every export of the v2 archive as Parquet, read back with pyarrow."""
    folder = tmp_path_factory.mktemp("parquet")
    path = crawled["v2"][1]
    tables = {}
    for source in SOURCES:
        target = folder / f"{source}.parquet"
        export(path, source, "parquet", str(target))  # in this process: the command line is tested below
        tables[source] = pq.read_table(target)
    return tables


def run(*args: str) -> str:
    """``python -m export ARGS`` as a user runs it; what it printed."""
    result = subprocess.run([sys.executable, "-m", "export", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_every_parquet_export_is_typed_and_described(crawled, exported):
    db = crawled["v2"][0]
    for source, table in exported.items():
        assert table.num_rows > 0, source
        assert json.loads(table.schema.metadata[b"utc_offsets"]) == {rows(db, "SELECT site FROM sites")[0][0]: OFFSET}
        assert table.schema.metadata[b"description"], source
        for field in table.schema:
            where = f"{source}.{field.name}"
            assert field.name not in BOOKKEEPING, where
            assert field.metadata and field.metadata[b"description"], where
            if field.name.endswith("_at") or field.name == "gone_since":
                assert field.type == pa.timestamp("ms", tz=OFFSET), where
            elif field.name in ("images", "attachments") and source in ("articles", "comments"):
                assert pa.types.is_struct(field.type.value_type) and field.type.value_type.field("url"), where
            elif field.name in LISTS:
                assert field.type == pa.list_(pa.string()), where
            elif field.name in FLAGS:
                assert field.type == pa.bool_(), where
            elif field.name in IDS or (field.name == "id" and source == "revisions"):
                assert field.type == pa.int64(), where
            else:
                assert field.type in (pa.string(), pa.int64(), pa.map_(pa.string(), pa.int64())), where
    archived = {"posts": "SELECT count(*) FROM posts", "threads": "SELECT count(*) FROM articles",
                "members": "SELECT count(*) FROM users"}
    for source, table in exported.items():
        assert table.num_rows == rows(db, archived.get(source, f"SELECT count(*) FROM [{source}]"))[0][0], source


def test_times_are_the_same_instants_and_rows_carry_their_forum(crawled, exported):
    db = crawled["v2"][0]
    for source, order in (("posts", "site, tid, floor, pid"), ("comments", "site, tid, floor, pid"),
                          ("articles", "site, tid")):
        table = exported[source]
        stored = rows(db, f"SELECT t.posted_at, a.fid, a.forum_name FROM {source} AS t "
                          f"JOIN articles AS a USING (site, tid) ORDER BY {', '.join('t.' + c for c in order.split(', '))}")
        assert table.column("posted_at").to_pylist() == [datetime.fromisoformat(at) for at, _, _ in stored]
        assert list(zip(table.column("fid").to_pylist(), table.column("forum_name").to_pylist())) == [
            (fid, name) for _, fid, name in stored
        ]
    # local time is one call away: the column's zone is the forum's
    first = exported["articles"].to_pylist()[0]
    assert first["posted_at"].isoformat() == rows(db, "SELECT posted_at FROM articles ORDER BY site, tid")[0][0]
    flags = Counter(flag for row in exported["posts"].column("flags").to_pylist() for flag in row)
    assert flags == Counter(flag for (value,) in rows(db, "SELECT flags FROM posts") for flag in json.loads(value))
    assert flags["hidden"] > 0


def test_a_posts_attachments_and_images_are_its_files(crawled, exported):
    db = crawled["v2"][0]
    listed = [(row["pid"], file) for source in ("articles", "comments")
              for row in exported[source].to_pylist() for file in row["attachments"] or []]
    assert [(pid, file["url"]) for pid, file in listed] == [
        (pid, url) for source in ("articles", "comments")
        for pid, url in rows(db, f"SELECT t.pid, j.value FROM {source} AS t, json_each(t.attachments) AS j"
                                 " ORDER BY t.site, t.tid, t.pid, j.key")
    ]
    # each with its row in attachments: the aid decoded from the link, the file's name and size
    assert sorted((pid, file["aid"], file["filename"], file["size"], file["is_image"]) for pid, file in listed) == sorted(
        (pid, aid, name, size, bool(image)) for pid, aid, name, size, image in
        rows(db, "SELECT pid, aid, filename, size, is_image FROM attachments WHERE url IN"
                 " (SELECT j.value FROM articles AS t, json_each(t.attachments) AS j"
                 "  UNION SELECT j.value FROM comments AS t, json_each(t.attachments) AS j)")
    )
    assert {file["filename"] for _, file in listed} >= {"fanqie-2019.jpg", "bozhong-shijianbiao.pdf"}
    images = [file for row in exported["articles"].to_pylist() for file in row["images"] or []]
    assert images and all(file["url"].startswith("http") and file["status"] is None for file in images)  # no media store


def test_threads_one_row_per_thread_as_the_forum_has_it(crawled):
    db, path = crawled["v1"]
    target = Path(path).with_name("threads-v1.parquet")  # as a user runs it
    run("threads", "--db", path, "-o", str(target))
    threads = {row["tid"]: row for row in pq.read_table(target).to_pylist()}
    assert len(threads) == pq.read_metadata(target).num_rows == rows(db, "SELECT count(*) FROM articles")[0][0]
    forums = {forum["fid"]: forum["name"] for forum in truth("v1")["forums"]}
    visible = [thread for thread in truth("v1")["threads"] if thread["tid"] in visible_tids("v1")]
    assert set(threads) == {thread["tid"] for thread in visible}
    for thread in visible:
        row = threads[thread["tid"]]
        assert sorted(row["tags"]) == sorted(tag["name"] for tag in thread["tags"]), thread["tid"]
        assert (row["fid"], row["forum_name"], row["title"], row["author"]) == (
            thread["fid"], forums[thread["fid"]], thread["subject"], thread["author"])
        assert row["posted_at"] == datetime.fromisoformat(thread["dateline_iso"])
        assert row["archived_posts"] == len(thread["posts"])
        assert row["special"] == {0: None, 1: "poll"}[thread["special"]], thread["tid"]  # Discuz's special 1
        assert (row["type_id"], row["type_name"]) == (thread["typeid"] or None, thread["type_name"]), thread["tid"]
        assert row["last_post_at"] == datetime.fromisoformat(thread["lastpost_iso"]).replace(second=0), thread["tid"]
        assert row["sticky"] is (thread["displayorder"] > 0)
        assert row["gone"] is False and row["gone_since"] is None
    assert threads[6]["tags"] == ["生石花", "浇水"]  # as the page lists them (TRUTH.json: by tag id)


def test_revisions_hold_the_edited_posts_earlier_text(exported):
    (revision,) = [row for row in exported["revisions"].to_pylist() if row["pid"] == 104]  # CHANGES.json: edited_post
    assert (revision["tid"], revision["pid"], revision["forum_name"]) == (14, 104, "多肉植物")
    assert revision["content_text"] == "护花神是颗粒型的内吸药，埋在土里就行，一般一两个月管用。"
    assert isinstance(revision["replaced_at"], datetime)


def test_describe_prints_columns_types_and_descriptions():
    text = run("--describe", "threads")
    assert re.search(r"^tags\s+list<item: string>\s+标签 The thread's tags", text, re.M), text
    assert re.search(r"^posted_at\s+timestamp\[ms, tz=offset\]\s+发表时间", text, re.M), text
    assert "url" not in text.split() and "url" in run("--describe", "threads", "--all-columns")


def readme_example() -> str:
    """The README's Python example under Query and export."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Query and export", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def test_the_readme_examples_run_and_agree(crawled, tmp_path):
    shutil.copy(crawled["v1"][1], tmp_path / "archive.db")
    run("posts", "--db", str(tmp_path / "archive.db"), "-o", str(tmp_path / "posts.parquet"))
    example = readme_example()
    assert "python -m export posts -o posts.parquet" in example and "ATTACH 'archive.db'" in example
    script = tmp_path / "example.py"
    script.write_text(example + "\nimport json\nprint(json.dumps([sorted((f, m, int(n)) for (f, m), n in by_pandas.items()),"
                      " sorted((f, m, int(n)) for f, m, n in by_duckdb.itertuples(index=False))], ensure_ascii=False))\n")
    # run as a user runs it: in the folder of the archive, with the project importable
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    by_pandas, by_duckdb = json.loads(result.stdout)
    assert by_pandas == by_duckdb
    db = crawled["v1"][0]
    assert by_pandas == [list(row) for row in rows(db, "SELECT a.forum_name, substr(p.posted_at, 1, 7), count(*) FROM posts AS p"
                                               " JOIN articles AS a USING (site, tid) GROUP BY 1, 2 ORDER BY 1, 2")]
    assert sum(n for _, _, n in by_pandas) == rows(db, "SELECT count(*) FROM posts")[0][0]
