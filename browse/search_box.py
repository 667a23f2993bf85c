"""The search box of the tables with a search index (pipelines/search.py), for any number of
matches.

Datasette's own search box keeps the rows whose rowid is in every match of the index, then
counts them and facets them: each matching row is read, three times over. For a word in half
the posts (的) that is the whole table. So the plugin gives the box itself, planned by how many
rows match (the index counts them without reading a row):

- Up to ``FEW`` matches: as datasette does it (the matches, counted and faceted).
- More: no row-by-row count and no facets (they could not finish within datasette's limits;
  the heading says how many rows match, counted in the index, and why there are no facets).
  When the word is in more than ``COMMON`` of the rows and the page is in its default order
  (articles and comments), the rows are read newest first through the ``posted_at`` index,
  each looked up in the index of the word, until a page is full: a page of a word in one post
  out of ten reads about a thousand rows, whatever the archive's size.

The plan is made once per request, before datasette reads the query string (``asgi_wrapper``
adds ``_nocount`` and ``_nofacet``), and handed to ``filters_from_request`` in the ASGI scope.
"""

from __future__ import annotations

import sqlite3
import urllib.parse

from datasette.database import QueryInterrupted
from datasette.filters import FilterArguments
from datasette.utils import tilde_decode

from browse.scope import with_flags
from pipelines.search import SEARCH_COLUMNS, escape_fts

FEW = 20_000  # matches that datasette's count and facets read well within their time limits
COMMON = 0.1  # of a table's rows: a word this common fills a page from the newest rows at once
SCOPE_KEY = "discuz_search"
NEWEST_FIRST = {"articles", "comments"}  # shown newest first through an index on posted_at (metadata.yml)


def searched_table(datasette, path: str) -> tuple[str, str] | None:
    """(database, table) when ``path`` is the page (HTML, JSON or CSV) of a table with a search
    index in an archive."""
    parts = path.strip("/").split("/")
    if len(parts) != 2:
        return None
    database, table = tilde_decode(parts[0]), tilde_decode(parts[1].rsplit(".", 1)[0] if parts[1].endswith((".json", ".csv")) else parts[1])
    if database in getattr(datasette, "_discuz_archives", ()) and table in SEARCH_COLUMNS:
        return database, table
    return None


def match_sql(table: str) -> str:
    return f"[{table}_fts] MATCH :search"


async def plan(datasette, database: str, table: str, query: str) -> dict:
    """How many rows the search matches (counted up to the point where the plan no longer
    changes), and whether to read the newest rows first."""
    db = datasette.get_database(database)
    rows = (await db.execute(f"SELECT max(rowid) FROM [{table}]")).first()[0] or 0
    cap = max(FEW, int(rows * COMMON)) + 1
    matches = (await db.execute(f"SELECT count(*) FROM (SELECT rowid FROM [{table}_fts] WHERE {match_sql(table)} LIMIT {cap})", {"search": query})).first()[0]
    return {"matches": matches, "more": matches >= cap}


def fts_query(args) -> str | None:
    """The FTS5 query of the request's ``_search`` (as typed with ``_searchmode=raw``)."""
    search = (args.get("_search") or "").strip()
    if not search:
        return None
    return search if args.get("_searchmode") == "raw" else escape_fts(search)


def wrap(datasette, app):
    """Plan each search of a big match set before datasette reads the query string."""

    async def planned(scope, receive, send):
        found = searched_table(datasette, scope.get("path", "")) if scope.get("type") == "http" else None
        if found:
            raw = scope.get("query_string", b"")
            args = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
            query = fts_query(args)
            if query:
                try:
                    searched = await plan(datasette, *found, query)
                except (sqlite3.Error, QueryInterrupted):  # the page's own query reports it
                    searched = None
                if searched:
                    flags = ("_nocount", "_nofacet") if searched["matches"] > FEW else ()
                    scope = with_flags(scope, *flags, **{SCOPE_KEY: searched})
        await app(scope, receive, send)

    return planned


def filters(request, database: str, table: str, datasette):
    """The search box's where clause, from the plan; the box is offered on every page of a table
    with a search index."""
    if database not in getattr(datasette, "_discuz_archives", ()) or table not in SEARCH_COLUMNS:
        return None
    context = {"supports_search": True}
    query = fts_query(request.args)
    if not query:
        return FilterArguments([], extra_context=context)
    search = request.args.get("_search").strip()
    context["search"] = search
    searched = request.scope.get(SCOPE_KEY) or {"matches": 0, "more": False}
    index = f"[{table}_fts]"
    newest_first = table in NEWEST_FIRST and not request.args.get("_sort") and request.args.get("_sort_desc") in (None, "posted_at")
    if searched["more"] and newest_first:
        clause = f"EXISTS (SELECT 1 FROM {index} WHERE {match_sql(table)} AND {index}.rowid = [{table}].rowid)"
    else:
        clause = f"rowid IN (SELECT rowid FROM {index} WHERE {match_sql(table)})"
    described = f'search matches "{search}"'
    if searched["matches"] > FEW:
        counted = f"more than {_round_down(searched['matches'] - 1):,}" if searched["more"] else f"{searched['matches']:,}"
        described += f" ({counted} rows, counted in the search index; too many to facet: add a word or a filter)"
    return FilterArguments([clause], {"search": query}, [described], context)


def _round_down(number: int) -> int:
    """To two significant digits: 100,010 is 100,000."""
    scale = 10 ** max(len(str(number)) - 2, 0)
    return number // scale * scale
