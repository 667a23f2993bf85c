"""What keeps datasette's pages within its limits on a big archive, checked on the crawled sample
forum in datasette itself (in this process): the search box planned by how many rows match (its
thresholds lowered to the sample's size), next pages in the index's order, and the metadata
lookups the plugin makes cheap. The times are bench/datasette_bench.py's."""

import asyncio
import copy
import shutil
import urllib.parse

import pytest
from datasette.app import Datasette
from datasette.plugins import pm
from sqlite_utils import Database
from test_datasette import METADATA, archive  # noqa: F401  (the crawled sample forum)

import browse.plugin
from browse import search_box
from browse.scope import with_flags

COMMON_WORD, MIDDLE_WORD, RARE_WORD = "的", "材料", "办公室主任"  # in 143, 18 and 7 of the 314 comments


def in_process(path, metadata=METADATA) -> Datasette:
    if not pm.is_registered(browse.plugin) and "browse.plugin" not in {name for name, _ in pm.list_name_plugin()}:
        pm.register(browse.plugin)
    datasette = Datasette([str(path)], metadata=copy.deepcopy(metadata) if metadata else None)
    asyncio.run(datasette.invoke_startup())
    return datasette


def get_json(datasette: Datasette, path: str, **params) -> dict:
    response = asyncio.run(datasette.client.get(path + ".json?" + urllib.parse.urlencode(params)))
    assert response.status_code == 200, response.text[:2000]
    return response.json()


def like_pids(db: Database, word: str) -> list[int]:
    """The truth: comments holding the word, newest first (as the table's page orders them)."""
    return [row[0] for row in db.execute("SELECT pid FROM comments WHERE content_text LIKE ? ORDER BY posted_at DESC, site, pid", [f"%{word}%"])]


@pytest.fixture
def few(monkeypatch):
    """The sample forum's words planned as a big archive's: more than 10 matches are many."""
    monkeypatch.setattr(search_box, "FEW", 10)


def all_pages(datasette: Datasette, path: str, **params) -> tuple[list[dict], dict]:
    """Every row, following the next links; and the first page."""
    first = page = get_json(datasette, path, _shape="objects", _size=10, **params)
    rows = list(page["rows"])
    while page["next_url"]:
        parts = urllib.parse.urlsplit(page["next_url"])
        page = get_json(datasette, parts.path.removesuffix(".json"), **dict(urllib.parse.parse_qsl(parts.query)))
        rows += page["rows"]
    return rows, first


def test_a_common_word_reads_newest_first_uncounted_and_unfaceted_and_pages_on(archive, few):  # noqa: F811
    datasette = in_process(archive)
    db = Database(archive)
    truth = like_pids(db, COMMON_WORD)
    rows = db["comments"].count
    assert len(truth) > rows * search_box.COMMON  # read newest first, each row looked up in the index
    found, first = all_pages(datasette, "/archive/comments", _search=COMMON_WORD)
    assert [row["pid"] for row in found] == truth
    assert first["filtered_table_rows_count"] is None and first["facet_results"] == {} and not first.get("facets_timed_out")
    assert f"(more than {rows // 10} rows, counted in the search index; too many to facet" in first["human_description_en"]
    # fewer than that, but more than FEW: the matches from the index, neither counted nor faceted
    truth = like_pids(db, MIDDLE_WORD)
    assert search_box.FEW < len(truth) < rows * search_box.COMMON
    found, first = all_pages(datasette, "/archive/comments", _search=MIDDLE_WORD)
    assert [row["pid"] for row in found] == truth and first["filtered_table_rows_count"] is None and first["facet_results"] == {}
    assert f"({len(truth)} rows, counted in the search index;" in first["human_description_en"]
    articles, _ = all_pages(datasette, "/archive/articles", _search=COMMON_WORD)
    assert {row["pid"] for row in articles} == {
        row[0] for row in db.execute("SELECT pid FROM articles WHERE title LIKE :w OR content_text LIKE :w", {"w": f"%{COMMON_WORD}%"})
    }


def test_a_word_in_few_rows_is_counted_and_faceted_as_datasette_does(archive, few):  # noqa: F811
    datasette = in_process(archive)
    truth = like_pids(Database(archive), RARE_WORD)
    assert 0 < len(truth) <= search_box.FEW
    page = get_json(datasette, "/archive/comments", _search=RARE_WORD, _shape="objects")
    assert [row["pid"] for row in page["rows"]] == truth and page["filtered_table_rows_count"] == len(truth)
    assert sum(item["count"] for item in page["facet_results"]["author"]["results"]) == len(truth)
    assert page["human_description_en"] == f'where search matches "{RARE_WORD}" sorted by posted_at descending'


def test_the_search_box_is_offered_and_keeps_what_was_typed(archive):  # noqa: F811
    datasette = in_process(archive)
    html = asyncio.run(datasette.client.get("/archive/comments?" + urllib.parse.urlencode({"_search": COMMON_WORD}))).text
    assert f'name="_search" value="{COMMON_WORD}"' in html
    assert 'name="_search"' in asyncio.run(datasette.client.get("/archive/articles")).text
    assert get_json(datasette, "/archive/comments", _search="龘龘", _shape="objects")["rows"] == []


def test_next_pages_of_a_table_walk_the_newest_first_index(archive):  # noqa: F811
    datasette = in_process(archive)
    rows, _ = all_pages(datasette, "/archive/comments")
    assert [row["pid"] for row in rows] == [row[0] for row in Database(archive).execute("SELECT pid FROM comments ORDER BY posted_at DESC, site, pid")]
    plan = " ".join(row[3] for row in Database(archive).execute(
        "EXPLAIN QUERY PLAN SELECT * FROM comments WHERE (posted_at < :p OR posted_at IS NULL OR (posted_at = :p AND pid > 1))"
        " ORDER BY posted_at DESC, site, pid LIMIT 11", {"p": "2020"}))
    assert "idx_comments_posted_at_site_pid" in plan and "TEMP B-TREE" not in plan


def test_the_plugin_gives_datasette_only_what_its_metadata_lacks(archive, tmp_path):  # noqa: F811
    forum = tmp_path / "forum.db"
    shutil.copyfile(archive, forum)
    for path, metadata in ((archive, METADATA), (forum, METADATA), (forum, None)):
        datasette = in_process(path, metadata)
        given = copy.deepcopy(datasette._discuz_archive_metadata)
        if metadata:  # -m metadata.yml says it all for archive.db; for forum.db, all but its own name
            assert given == ({} if path == archive else {"databases": {"forum": METADATA["databases"]["archive"]}})
        for _ in range(3):  # datasette's merge writes into what the hook returns: nothing of ours changes
            assert datasette.plugin_config("datasette-render-html", database=path.stem, table="articles") == {"columns": ["content_html"]}
            assert datasette.table_metadata(path.stem, "articles")["facets"] == [{"counted": "forum_name"}, {"counted": "author"}, {"counted": "year"}]
        assert datasette._discuz_archive_metadata == given


def test_the_database_page_counts_small_tables_and_says_many_rows_for_big_ones(archive, monkeypatch):  # noqa: F811
    monkeypatch.setattr("browse.counts.MANY", 100)  # the sample's comments (over 300) stand for a big table
    datasette = in_process(archive)
    db = Database(archive)
    tables = {table["name"]: table["count"] for table in get_json(datasette, "/archive", _show_hidden=1)["tables"]}
    assert tables["comments"] is None and tables["comments_fts"] is None and tables["comments_fts_data"] is None
    assert tables["articles"] == db["articles"].count < 100 and tables["users"] == db["users"].count
    html = asyncio.run(datasette.client.get("/archive")).text
    assert "Many rows" in html and f"{db['articles'].count:,} rows" in html


def test_the_whole_tables_facets_are_the_kept_counts_and_a_narrowed_page_groups_its_rows(archive, tmp_path):  # noqa: F811
    copy_of_archive = tmp_path / "archive.db"  # changed below
    shutil.copyfile(archive, copy_of_archive)
    datasette = in_process(copy_of_archive)
    db = Database(copy_of_archive)
    for params, where in (({}, ""), ({"year": 2024}, "WHERE year = 2024"), ({"author": "笔杆子"}, "WHERE author = '笔杆子'")):
        page = get_json(datasette, "/archive/comments", _shape="objects", **params)
        for column in ("author", "year"):
            truth = dict(db.execute(f"SELECT {column}, count(*) FROM comments {where} GROUP BY 1 HAVING {column} IS NOT NULL").fetchall())
            facet = page["facet_results"][column]
            assert {item["value"]: item["count"] for item in facet["results"]} == truth and facet["type"] == "counted"
    first = get_json(datasette, "/archive/comments", _shape="objects", _size=10)
    second = get_json(datasette, "/archive/comments", _shape="objects", _size=10, _next=first["next"])  # still the whole table's
    years = dict(db.execute("SELECT year, count(*) FROM comments WHERE year IS NOT NULL GROUP BY 1").fetchall())
    assert second["rows"] and {item["value"]: item["count"] for item in second["facet_results"]["year"]["results"]} == years
    with db.conn:  # another program's rows are counted as they arrive, by the triggers
        db.execute("UPDATE comments SET author = '新名字' WHERE author = '笔杆子'")
    authors = {item["value"]: item["count"] for item in get_json(datasette, "/archive/comments")["facet_results"]["author"]["results"]}
    assert "笔杆子" not in authors and authors["新名字"] == db.execute("SELECT count(*) FROM comments WHERE author = '新名字'").fetchone()[0]


def test_an_archive_without_facet_counts_is_faceted_as_datasette_does(archive, tmp_path):  # noqa: F811
    older = tmp_path / "archive.db"  # as an earlier version left it: served before its next open
    shutil.copyfile(archive, older)
    with Database(older).conn as conn:
        conn.execute("DROP TABLE facet_counts")
    page = get_json(in_process(older), "/archive/comments", _shape="objects")
    truth = dict(Database(older).execute("SELECT year, count(*) FROM comments WHERE year IS NOT NULL GROUP BY 1").fetchall())
    assert {item["value"]: item["count"] for item in page["facet_results"]["year"]["results"]} == truth


def test_a_narrowed_page_of_too_many_rows_is_not_faceted_and_says_so(archive, few):  # noqa: F811
    datasette = in_process(archive)
    db = Database(archive)
    year, many = db.execute("SELECT year, count(*) FROM comments GROUP BY year ORDER BY 2 DESC LIMIT 1").fetchone()
    assert many > search_box.FEW
    page = get_json(datasette, "/archive/comments", year=year, _shape="objects", _size="max")
    assert len(page["rows"]) == page["filtered_table_rows_count"] == many and page["facet_results"] == {}
    assert f"the facets are left out (over {search_box.FEW:,} rows to group)" in page["human_description_en"]
    html = asyncio.run(datasette.client.get(f"/archive/comments?year={year}")).text
    assert "the facets are left out" in html and "facets-timed-out" not in html
    author, few_rows = db.execute("SELECT author, count(*) FROM comments WHERE year = ? GROUP BY 1 ORDER BY 2 LIMIT 1", [year]).fetchone()
    narrower = get_json(datasette, "/archive/comments", year=year, author=author, _shape="objects")
    assert few_rows <= search_box.FEW and narrower["facet_results"]["author"]["results"][0]["count"] == few_rows
    assert "left out" not in narrower["human_description_en"]


def test_the_posts_view_is_not_counted_and_a_flag_is_added_once(archive):  # noqa: F811
    page = get_json(in_process(archive), "/archive/posts", _shape="objects")
    assert page["rows"] and page["filtered_table_rows_count"] is None  # counting a view of two tables reads every post
    scope = {"type": "http", "query_string": b"_nocount=1&year=2020"}
    assert with_flags(scope, "_nocount", "_nofacet", planned=True) == {
        "type": "http", "query_string": b"_nocount=1&year=2020&_nofacet=1", "planned": True,
    }
    assert with_flags({"query_string": b""}, "_nofacet")["query_string"] == b"_nofacet=1"
