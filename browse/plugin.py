"""Datasette hooks: the project's metadata for any archive file, its search box, and the
archive as a forum (browse/live.py): index, forum lists, threads (which every thread title
links to), members, portal articles.

Datasette names a database after its file (``forum.db`` is ``forum``), while metadata.yml
describes a database called ``archive``. At startup the plugin finds every served database
holding the archive's tables and gives it that description: tables, facets, full-text
search, canned queries, HTML rendering. metadata.yml is read from the project when datasette
was started without ``-m``; what ``-m`` gives wins over it, as datasette's own metadata always
does over plugins'.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from datasette import hookimpl
from markupsafe import Markup, escape

from browse import narrowed, search_box
from browse.counts import count_within_limits
from browse.facets import CountedFacet
from browse.scope import with_flags
from browse.live import routes, thread_url
from pipelines.search import escape_fts

METADATA_FILE = Path(__file__).resolve().parent.parent / "metadata.yml"
DESCRIBED_AS = "archive"  # the database key of metadata.yml
ARCHIVE_TABLES = {"articles", "comments"}


def project_metadata() -> dict:
    return yaml.safe_load(METADATA_FILE.read_text(encoding="utf-8"))


@hookimpl
def startup(datasette):
    async def find_archives():
        names = []
        for name, database in datasette.databases.items():
            if ARCHIVE_TABLES <= set(await database.table_names()):
                names.append(name)
        datasette._discuz_archives = names
        for name in names:
            count_within_limits(datasette.get_database(name))
        local = getattr(datasette, "_metadata_local", None) or {}
        point_charts_at(local, names)
        datasette._discuz_archive_metadata = not_in(archive_metadata(project_metadata(), names), local)
        if names and hasattr(datasette, "_settings"):
            # Suggesting facets tries every column three ways, each against the time limit: on
            # a big archive's tables that alone passes the limit (bench/README.md). The column
            # menus still offer "Facet by this".
            datasette._settings["suggest_facets"] = False

    return find_archives


def archive_metadata(metadata: dict, names: list[str]) -> dict:
    """metadata.yml with its ``archive`` description given to each of ``names``; the links of
    the front page's description and the charts point at the first of them."""
    described = metadata.get("databases", {}).get(DESCRIBED_AS, {})
    result = {key: copy.deepcopy(value) for key, value in metadata.items() if key != "databases"}
    result["databases"] = {name: copy.deepcopy(described) for name in names}
    if names and "description_html" in result:
        result["description_html"] = result["description_html"].replace(f"/{DESCRIBED_AS}/", f"/{names[0]}/")
    point_charts_at(result, names)
    return result


def point_charts_at(metadata: dict, names: list[str]) -> None:
    """The charts of datasette-dashboards query the first archive served when the database
    they name is not served. Done in place, also to what ``-m`` gave: it wins over plugins'."""
    for dashboard in (metadata.get("plugins") or {}).get("datasette-dashboards", {}).values():
        for chart in (dashboard.get("charts") or {}).values():
            if names and chart.get("db") == DESCRIBED_AS and DESCRIBED_AS not in names:
                chart["db"] = names[0]


def not_in(metadata: dict, local: dict) -> dict:
    """What of ``metadata`` datasette's own (``-m``) does not already say: where both say
    something, datasette's wins, so only the rest is worth giving."""
    result = {}
    for key, value in metadata.items():
        if key not in local:
            result[key] = value
        elif isinstance(value, dict) and isinstance(local[key], dict):
            rest = not_in(value, local[key])
            if rest:
                result[key] = rest
    return result


@hookimpl
def get_metadata(datasette, key, database, table):
    """Datasette merges this into its own metadata on every lookup, and plugins look up their
    settings once per cell (datasette-render-html): giving only what ``-m`` lacks, in fresh
    dicts where the two meet (the merge writes into them), keeps a lookup to a few dicts
    instead of walking the whole description each time (bench/README.md)."""
    return _fresh(getattr(datasette, "_discuz_archive_metadata", {}), getattr(datasette, "_metadata_local", None) or {})


def _fresh(metadata: dict, local: dict) -> dict:
    return {key: _fresh(value, local[key]) if isinstance(value, dict) and isinstance(local.get(key), dict) else value
            for key, value in metadata.items()}


@hookimpl(trylast=True)  # after datasette's own escape_fts, which this one replaces
def prepare_connection(conn):
    """The search box's query, made for this archive's index (one word per Chinese character)."""
    conn.create_function("escape_fts", 1, escape_fts, deterministic=True)


@hookimpl
def register_routes():
    return routes()


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """A thread's title, wherever a row has the thread's site and tid, links to its page."""
    if column != "title" or value is None or database not in getattr(datasette, "_discuz_archives", ()):
        return None
    keys = row.keys()
    if "tid" not in keys or "site" not in keys or row["tid"] is None:
        return None
    site = row["site"]["value"] if isinstance(row["site"], dict) else row["site"]  # a foreign key, in tables
    return Markup(f'<a class="thread-link" href="{escape(thread_url(datasette, database, site, row["tid"]))}">{escape(value)}</a>')


@hookimpl
def register_facet_classes():
    return [CountedFacet]


@hookimpl(trylast=True)  # after datasette's own, whose search box is off for these tables
def filters_from_request(request, database, table, datasette):
    return search_box.filters(request, database, table, datasette)


@hookimpl(specname="filters_from_request")
def narrowed_filters(request, database, table, datasette):
    return narrowed.filters(request, database, table, datasette)


@hookimpl
def asgi_wrapper(datasette):
    """The posts view's page without its row count: a view of two tables is counted by
    reading every post, which takes seconds in a big archive. Searches are planned
    (browse/search_box.py), and so are the facets of narrowed pages (browse/narrowed.py)."""

    def wrap(app):
        async def counted_or_not(scope, receive, send):
            if scope.get("type") == "http" and _is_posts_view(datasette, scope.get("path", "")):
                scope = with_flags(scope, "_nocount")
            await app(scope, receive, send)

        return narrowed.wrap(datasette, search_box.wrap(datasette, counted_or_not))

    return wrap


def _is_posts_view(datasette, path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[1] in ("posts", "posts.json") and parts[0] in getattr(datasette, "_discuz_archives", ())
