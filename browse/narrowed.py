"""No facets on a narrowed page of articles or comments that still holds too many rows to facet.

A filtered page (one forum's articles, one year's comments) is faceted by grouping every row
it holds, under datasette's 200 ms per facet: at ten million posts, one forum holds 445,000
articles and one year 362,000 comments, whose facets took 1.2-2.3 s and timed out. Before the
page is made, the rows its filters keep are counted up to ``search_box.FEW`` (through the
filters' indexes; a filter that reads too slowly for that counts as many). Over it, the page
has no facets (``_nofacet``) and its heading says why, as the search box does; the row count
is datasette's own. The whole table's facets come from facet_counts instead (browse/facets.py).
"""

from __future__ import annotations

import sqlite3
import urllib.parse

from datasette.database import QueryInterrupted
from datasette.filters import FilterArguments, Filters

from browse import search_box
from browse.scope import with_flags
from pipelines.summary import FACETED

SCOPE_KEY = "discuz_narrowed"
COUNT_LIMIT_MS = 200  # a filter that cannot find FEW rows in this long keeps too many, or reads too slowly, to facet
# Arguments that narrow the page some other way: datasette's facets are left to them.
OTHER_NARROWING = ("_search", "_where", "_through", "_nofacet")


def filter_pairs(args: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The column filters among a table page's arguments (as datasette reads them)."""
    return [(key, value) for key, value in args if not (key.startswith("_") and "__" not in key)]


async def keeps_many(datasette, database: str, table: str, pairs: list[tuple[str, str]]) -> bool:
    where, params = Filters(sorted(pairs)).build_where_clauses(table)
    if not where:
        return False
    sql = f"SELECT count(*) FROM (SELECT 1 FROM [{table}] WHERE {' AND '.join(where)} LIMIT {search_box.FEW + 1})"
    try:
        kept = (await datasette.get_database(database).execute(sql, params, custom_time_limit=COUNT_LIMIT_MS)).first()[0]
    except QueryInterrupted:
        return True
    except sqlite3.Error:  # a filter datasette will report on the page itself
        return False
    return kept > search_box.FEW


def wrap(datasette, app):
    async def planned(scope, receive, send):
        found = search_box.searched_table(datasette, scope.get("path", "")) if scope.get("type") == "http" else None
        if found and found[1] in FACETED:
            raw = scope.get("query_string", b"")
            args = urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
            pairs = filter_pairs(args)
            if pairs and not any(key.startswith(OTHER_NARROWING) for key, _ in args) and await keeps_many(datasette, *found, pairs):
                scope = with_flags(scope, "_nofacet", **{SCOPE_KEY: True})
        await app(scope, receive, send)

    return planned


def filters(request, database: str, table: str, datasette):
    """The heading's word on the facets left out."""
    if not request.scope.get(SCOPE_KEY):
        return None
    return FilterArguments([], human_descriptions=[f"the facets are left out (over {search_box.FEW:,} rows to group)"])
