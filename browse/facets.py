"""The facets metadata.yml gives articles and comments, read from ``facet_counts`` when the page
shows the whole table.

Datasette facets a page by grouping every row it shows; for a whole table of millions of rows
that cannot finish within its 200 ms per facet, even from an index. The triggers of
pipelines/summary.py keep the same counts (rows per author, forum and year), so the whole
table's facets read those instead, on every page of it. Once the page is narrowed (a filter, a
search, a facet chosen), the facet groups the rows shown, as datasette's column facet does.

metadata.yml names these facets ``{counted: COLUMN}``; a facet a reader adds from a column's
menu is datasette's own.
"""

from __future__ import annotations

from datasette.facets import ColumnFacet
from datasette.utils import path_with_added_args, path_with_removed_args

from pipelines.summary import FACETED

# Arguments that do not narrow a table page: with only these, it shows (a page of) every row.
# _next among them: datasette narrows its facets to the rows after the page's start, which on a
# big table is as slow as the whole table and describes it no better.
NOT_NARROWING = {"_next", "_size", "_sort", "_sort_desc", "_facet", "_facet_size", "_nocount", "_nofacet",
                 "_nosuggest", "_labels", "_nolabels", "_shape", "_col", "_nocol", "_json", "_trace", "_timelimit"}


class CountedFacet(ColumnFacet):
    type = "counted"

    async def suggest(self):
        return []  # datasette's column facet suggests these columns already

    async def facet_results(self):
        configs = [(source_and_config["source"], _column(source_and_config["config"])) for source_and_config in self.get_configs()]
        if not await self._whole_table() or any(column not in FACETED[self.table] for _, column in configs):
            return await super().facet_results()
        results = []
        size = self.get_facet_size()
        for source, column in configs:
            counted = await self.ds.execute(
                self.database,
                "SELECT value, row_count FROM facet_counts WHERE table_name = ? AND column_name = ?"
                " ORDER BY row_count DESC, value LIMIT ?",
                [self.table, column, size + 1],
            )
            results.append({
                "name": column,
                "type": self.type,
                "hideable": source != "metadata",
                "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet": column})),
                "results": [
                    {
                        "value": value,
                        "label": value,
                        "count": count,
                        "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(path_with_added_args(self.request, {column: value}))),
                        "selected": False,
                    }
                    for value, count in counted.rows[:size]
                ],
                "truncated": len(counted.rows) > size,
            })  # fmt: skip
        return results, []

    async def _whole_table(self) -> bool:
        """Whether the page shows every row of an archive table the counts are kept for (an
        archive last opened by an earlier version has no facet_counts yet)."""
        archives = getattr(self.ds, "_discuz_archives", ())
        return (
            self.database in archives
            and self.table in FACETED
            and set(self.request.args) <= NOT_NARROWING
            and await self.ds.get_database(self.database).table_exists("facet_counts")
        )


def _column(config: dict) -> str:
    return config.get("column") or config["simple"]
