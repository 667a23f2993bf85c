"""python -m export: round trips in every format, filters, the BOM, streaming, the command line."""

import csv
import io
import json
import subprocess
import sys
import tracemalloc
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlite_utils import Database

from export import Filters, export
from export.__main__ import main
from export.tables import BOOKKEEPING, POSTS_VIEW
from pipelines.schema import create_schema
from pipelines.store import open_archive

ROOT = Path(__file__).parent.parent
BOM = "\ufeff".encode()
# Two sites, two forums, three years; text that CSV must quote, and an empty cell.
ARTICLES = [
    ("bbs.example.com", 1, 2, "秘书之家", "如何当好办公室主任", 10, "2013-02-18T22:17:00+08:00", '第一行，"引号"\n第二行'),
    ("bbs.example.com", 2, 3, "技术杂谈", "用 Python 批量整理公文", 20, "2024-03-01T09:00:00+08:00", "a,b;c\r\n\tend"),
    ("other.example.com", 1, 2, "秘书之家", "另一个站", 30, "2024-12-31T23:59:00+08:00", None),
]
COMMENTS = [
    ("bbs.example.com", 11, 1, 2, "2013-02-19T08:00:00+08:00", "首先要摆正位置。"),
    ("bbs.example.com", 12, 1, 3, "2025-01-01T00:00:00+08:00", "补充：文稿要过三遍。"),
    ("bbs.example.com", 21, 2, 2, "2024-06-30T12:00:00+08:00", "代码 `print(1)` 可用"),
    ("other.example.com", 31, 1, 2, None, "没有时间的回帖"),
]


def make_archive(path: Path) -> Path:
    db = open_archive(path)
    db["articles"].insert_all(
        dict(zip(("site", "tid", "fid", "forum_name", "title", "pid", "posted_at", "content_text"), row))
        | {"flags": "[]", "images": '["http://bbs.example.com/a.jpg"]'}
        for row in ARTICLES
    )
    db["comments"].insert_all(
        dict(zip(("site", "pid", "tid", "floor", "posted_at", "content_text"), row)) for row in COMMENTS
    )
    db.close()
    return path


@pytest.fixture
def archive(tmp_path):
    return make_archive(tmp_path / "archive.db")


def db_rows(path, source, where="1", all_columns=False):
    """The rows as SQLite holds them (``where``: of t), in export order, with their thread's
    forum; without the bookkeeping unless ``all_columns``, and without the facets' generated year."""
    order = {"articles": "site, tid", "comments": "site, tid, floor, pid", "posts": "site, tid, floor, pid"}[source]
    forum = "" if source == "articles" else ", a.fid, a.forum_name"
    joined = "" if source == "articles" else " LEFT JOIN articles AS a ON a.site = t.site AND a.tid = t.tid"
    order = ", ".join(f"t.{column}" for column in order.split(", "))
    rows = Database(path).query(f"SELECT t.*{forum} FROM {source} AS t{joined} WHERE {where} ORDER BY {order}")
    dropped = {"year"} | (set() if all_columns else BOOKKEEPING)
    return [{key: value for key, value in row.items() if key not in dropped} for row in rows]


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def as_csv_text(rows: list[dict]) -> list[dict]:
    return [{key: "" if value is None else str(value) for key, value in row.items()} for row in rows]


def run(*args: str) -> bytes:
    """The command as a user runs it; returns what it wrote to standard output."""
    result = subprocess.run([sys.executable, "-m", "export", *args], cwd=ROOT, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("source", ["articles", "comments", "posts"])
def test_csv_and_json_lines_read_back_equal_the_rows(archive, tmp_path, source):
    rows = db_rows(archive, source)
    assert main([source, "--db", str(archive), "-o", str(tmp_path / "out.csv"), "--bom"]) == 0
    assert main([source, "--db", str(archive), "-o", str(tmp_path / "out.jsonl")]) == 0

    data = (tmp_path / "out.csv").read_bytes()
    assert data.startswith(BOM)
    assert read_csv(data) == as_csv_text(rows)
    assert read_jsonl((tmp_path / "out.jsonl").read_bytes()) == rows


def test_posts_are_the_views_columns_with_the_forum(archive):
    assert tuple(Database(archive)["posts"].columns_dict) == POSTS_VIEW
    exported = io.StringIO()
    export(archive, "posts", "jsonl", exported)
    assert list(read_jsonl(exported.getvalue().encode())[0]) == [*POSTS_VIEW[:2], "fid", "forum_name", *POSTS_VIEW[2:]]


def test_all_columns_keeps_the_bookkeeping(archive, tmp_path):
    assert main(["articles", "--db", str(archive), "-o", str(tmp_path / "out.jsonl"), "--all-columns"]) == 0
    exported = read_jsonl((tmp_path / "out.jsonl").read_bytes())
    assert exported == db_rows(archive, "articles", all_columns=True)
    assert {"url", "synced_replies", "synced_at", "last_crawled_at", "first_seen_at"} <= set(exported[0])


def typed(row: dict) -> dict:
    """A row as its Parquet file should hold it: times as instants, JSON lists as lists, flags as booleans."""
    def value(key, value):
        if value is None:
            return None
        if key.endswith("_at") or key == "gone_since":
            return datetime.fromisoformat(value)
        if key in ("flags", "images", "attachments"):
            return json.loads(value)
        return bool(value) if key == "is_article" else value

    return {key: value(key, item) for key, item in row.items()}


def test_parquet_types_times_lists_and_flags_one_row_group_per_batch(archive, tmp_path):
    target = tmp_path / "comments.parquet"
    assert main(["comments", "--db", str(archive), "-o", str(target), "--batch-size", "3"]) == 0

    parquet = pq.ParquetFile(target)
    assert parquet.metadata.num_row_groups == 2  # 4 rows, 3 at a time
    assert pq.read_table(target).to_pylist() == [typed(row) for row in db_rows(archive, "comments")]
    schema = parquet.schema_arrow
    assert str(schema.field("floor").type) == str(schema.field("fid").type) == "int64"
    assert str(schema.field("posted_at").type) == "timestamp[ms, tz=+08:00]"  # the forum's offset
    assert str(schema.field("flags").type) == "list<element: string>"
    assert json.loads(schema.metadata[b"utc_offsets"]) == {"bbs.example.com": "+08:00", "other.example.com": "+08:00"}
    assert schema.field("floor").metadata[b"description"].decode().startswith("楼层 The floor number")
    main(["posts", "--db", str(archive), "-o", str(tmp_path / "posts.parquet")])
    posts = pq.read_table(tmp_path / "posts.parquet")
    assert str(posts.schema.field("is_article").type) == "bool"
    assert posts.to_pylist() == [typed(row) for row in db_rows(archive, "posts")]


def test_what_is_no_time_or_no_list_is_left_empty_in_parquet_and_said(archive, tmp_path, capsys):
    db = Database(archive)
    db["comments"].update(("bbs.example.com", 11), {"posted_at": "昨天 08:00", "flags": "hidden"})
    db["comments"].update(("bbs.example.com", 12), {"edited_at": "2025-01-01T00:00:00"})  # no offset: the forum's
    db.close()
    main(["comments", "--db", str(archive), "-o", str(tmp_path / "comments.parquet")])
    said = capsys.readouterr().err
    assert "not a time, left empty in the Parquet file: '昨天 08:00'" in said
    assert "not a JSON list, left empty in the Parquet file: 'hidden'" in said
    rows = {row["pid"]: row for row in pq.read_table(tmp_path / "comments.parquet").to_pylist()}
    assert rows[11]["posted_at"] is None and rows[11]["flags"] is None and rows[21]["posted_at"] is not None
    assert rows[12]["edited_at"] == datetime.fromisoformat("2025-01-01T00:00:00+08:00")
    main(["comments", "--db", str(archive), "-o", str(tmp_path / "comments.csv")])
    assert [row["posted_at"] for row in read_csv((tmp_path / "comments.csv").read_bytes())][0] == "昨天 08:00"  # CSV: as kept


def test_threads_count_the_posts_archived_and_list_no_tags_as_empty(archive, tmp_path):
    main(["threads", "--db", str(archive), "-o", str(tmp_path / "threads.parquet")])
    threads = pq.read_table(tmp_path / "threads.parquet").to_pylist()
    assert [(row["site"], row["tid"], row["archived_posts"], row["tags"], row["gone"]) for row in threads] == [
        ("bbs.example.com", 1, 3, [], False), ("bbs.example.com", 2, 2, [], False), ("other.example.com", 1, 2, [], False)
    ]
    main(["threads", "--db", str(archive), "-o", str(tmp_path / "threads.csv")])
    assert {row["tags"] for row in read_csv((tmp_path / "threads.csv").read_bytes())} == {"[]"}  # CSV: JSON, as images


def test_standard_output_and_the_bom_only_when_asked(archive, tmp_path):
    assert read_csv(run("comments", "--db", str(archive))) == as_csv_text(db_rows(archive, "comments"))
    assert not run("comments", "--db", str(archive)).startswith(BOM)
    assert run("comments", "--db", str(archive), "--bom").startswith(BOM)
    assert read_jsonl(run("posts", "--db", str(archive), "-f", "jsonl")) == db_rows(archive, "posts")
    empty = tmp_path / "empty.parquet"  # read by path: pyarrow reading a Python file object can abort at exit
    empty.write_bytes(run("articles", "--db", str(archive), "--site", "nowhere", "-f", "parquet"))
    assert pq.read_table(empty).num_rows == 0


def exported_pids(archive, source, **filters):
    out = io.StringIO()
    export(archive, source, "jsonl", out, Filters(**filters))
    return [row["pid"] for row in read_jsonl(out.getvalue().encode())]


def test_filters_by_site_forum_and_inclusive_dates(archive):
    assert exported_pids(archive, "articles", sites=["other.example.com"]) == [30]
    assert exported_pids(archive, "articles", forums=["2"]) == [10, 30]
    assert exported_pids(archive, "articles", forums=["技术杂谈"]) == [20]
    assert exported_pids(archive, "articles", forums=["技术杂谈", "2"], sites=["bbs.example.com"]) == [10, 20]
    # comments and posts are filtered by their thread's forum
    assert exported_pids(archive, "comments", forums=["秘书之家"]) == [11, 12, 31]
    assert exported_pids(archive, "posts", forums=["3"]) == [20, 21]
    # dates: prefixes of posted_at in the forum's own time, both ends included
    assert exported_pids(archive, "posts", since="2024") == [12, 20, 21, 30]
    assert exported_pids(archive, "posts", until="2013-02-18") == [10]
    assert exported_pids(archive, "posts", since="2024-06", until="2024-12") == [21, 30]
    assert exported_pids(archive, "comments", until="2030") == [11, 12, 21]  # no posted_at: left out


def test_memory_stays_flat_on_a_large_archive(tmp_path):
    path = tmp_path / "large.db"
    db = Database(path)
    create_schema(db)  # no search index: it would only slow the setup down
    text = "长文本，" * 250  # 1,000 characters a post: 10,000 posts are 30 MB of UTF-8
    with db.conn:
        db.conn.executemany(
            "INSERT INTO comments (site, pid, tid, floor, content_text) VALUES ('s', ?, ?, ?, ?)",
            ((pid, pid // 100, pid % 100, text) for pid in range(10_000)),
        )
    db.close()
    for fmt in ("csv", "jsonl"):
        target = tmp_path / f"out.{fmt}"
        with open(target, "w", encoding="utf-8", newline="") as out:
            tracemalloc.start()
            count = export(path, "comments", fmt, out, batch_size=200)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert count == 10_000
        assert target.stat().st_size > 30_000_000
        assert peak < 3_000_000, (fmt, peak)  # about a batch, not the archive


def test_help_gives_examples():
    text = run("--help").decode()
    assert "examples:" in text and "python -m export comments -o comments.csv --bom" in text
    for option in ("--site", "--forum", "--since", "--until", "--bom", "--format", "--db"):
        assert option in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["posts", "--bom", "-f", "jsonl"], "--bom is for CSV only"),
        (["posts", "--since", "2024-1"], "not a date"),
        (["posts", "--db", "missing.db"], "no archive at missing.db"),
        (["thread"], "invalid choice"),
        ([], "what to export?"),
        (["members", "--forum", "2"], "belong to no forum"),
    ],
)
def test_mistakes_are_usage_errors(archive, tmp_path, capsys, args, message):
    args = args if "--db" in args else [*args, "--db", str(archive)]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "-o", str(tmp_path / "out.csv")])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_parquet_from_an_archive_without_sites_or_portal(tmp_path):
    """An archive from before the sites and portal tables (or written by another program):
    its times still carry the forum's offset in the Parquet file."""
    old = Database(tmp_path / "old.db")
    old["articles"].insert({"site": "bbs.example.cn", "tid": 1, "title": "旧帖", "posted_at": "2015-07-01T09:00:00+08:00"})
    old["comments"].insert({"site": "bbs.example.cn", "tid": 1, "pid": 2, "floor": 2, "posted_at": "2015-07-01T10:00:00+08:00"})
    old.conn.close()
    target = tmp_path / "articles.parquet"
    assert export(tmp_path / "old.db", "articles", "parquet", str(target)) == 1
    posted = pq.read_table(target).column("posted_at")
    assert str(posted.type) == "timestamp[ms, tz=+08:00]"
    assert posted[0].as_py().isoformat() == "2015-07-01T09:00:00+08:00"


def test_text_in_a_number_column_is_left_empty_in_parquet_and_said(archive, tmp_path, capsys):
    """Another program's row: an empty string where the archive keeps a number (SQLite keeps
    text in an INTEGER column as text); the file is still written, with that one value empty."""
    db = Database(archive)
    db["comments"].update(("bbs.example.com", 11), {"floor": ""})
    db.close()
    assert main(["comments", "--db", str(archive), "-o", str(tmp_path / "comments.parquet")]) == 0
    assert "not int64, left empty in the Parquet file: ''" in capsys.readouterr().err
    rows = {row["pid"]: row for row in pq.read_table(tmp_path / "comments.parquet").to_pylist()}
    assert rows[11]["floor"] is None and all(row["floor"] for pid, row in rows.items() if pid != 11)


def test_a_table_an_older_archive_lacks_is_a_usage_error(tmp_path, capsys):
    old = Database(tmp_path / "old.db")
    old["articles"].insert({"site": "bbs.example.cn", "tid": 1, "title": "旧帖"})
    old.conn.close()
    with pytest.raises(SystemExit) as exit_:
        main(["ratings", "--db", str(tmp_path / "old.db"), "-o", str(tmp_path / "ratings.csv")])
    assert exit_.value.code == 2
    assert "(no such table: ratings): an older archive is brought up to date" in capsys.readouterr().err
    assert not (tmp_path / "ratings.csv").exists()
