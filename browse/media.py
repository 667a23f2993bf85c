"""Datasette plugin: the media store, read-only, beside the archive it belongs to.

Installed with the project's plugin (requirements.txt; pyproject.toml's entry point), datasette then:

- serves each stored file at ``/-/media/<2 hex>/<sha256>``: the route takes nothing but a
  SHA-256's hex digits, so no other path (``..``, an absolute path, a symlink name) can be
  reached, and it only reads;
- shows a post's or a portal article's images from the store when they are archived (the
  HTML's ``src`` of an image with a stored file in post_images or portal_images becomes the
  local copy), else the original URL;
- links an attachment row's stored_path to its file.

The store is ``<archive>.media`` (the crawl's default), or ``plugins: discuz-media: dir:`` in
metadata.yml.
"""

from __future__ import annotations

import html
from pathlib import Path

import markupsafe
from datasette import hookimpl
from datasette.utils.asgi import AsgiFileDownload, Response

ROUTE = r"^/-/media/(?P<prefix>[0-9a-f]{2})/(?P<sha256>[0-9a-f]{64})$"
# table -> (the table of its images' files, the column both share with ``site`` as the owner)
IMAGE_TABLES = {
    "articles": ("post_images", "pid"),
    "comments": ("post_images", "pid"),
    "portal_articles": ("portal_images", "aid"),
    "portal_article_pages": ("portal_images", "aid"),
}


@hookimpl
def register_routes():
    return [(ROUTE, serve_file)]


def media_root(datasette, database: str | None = None) -> Path | None:
    config = datasette.plugin_config("discuz-media") or {}
    if config.get("dir"):
        return Path(config["dir"])
    databases = [datasette.databases[database]] if database else datasette.databases.values()
    for db in databases:
        if db.path:
            return Path(db.path + ".media")
    return None


async def serve_file(request, datasette):
    prefix, sha256 = request.url_vars["prefix"], request.url_vars["sha256"]
    root = media_root(datasette)
    path = root / prefix / sha256 if root and sha256.startswith(prefix) else None
    if path is None or not path.is_file():
        return Response.text("not in the media store", status=404)
    content_type = "application/octet-stream"
    for db in datasette.databases.values():
        if db.path and "media" in await db.table_names():
            row = (await db.execute("SELECT content_type FROM media WHERE sha256 = ?", [sha256])).first()
            if row and row[0]:
                content_type = row[0]
            break
    # a file is never shown as a page of this site: no sniffing, no script
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; img-src 'self'"}
    return AsgiFileDownload(path, content_type=content_type, headers=headers)


@hookimpl(tryfirst=True)  # before datasette-render-html, which renders the same column as it is
def render_cell(row, value, column, table, database, datasette):
    if table == "attachments" and column == "stored_path" and value:
        href = datasette.urls.path(f"/-/media/{value}")
        return markupsafe.Markup(f'<a href="{html.escape(href)}">{html.escape(value)}</a>')
    if table in IMAGE_TABLES and column == "content_html" and value and "<img" in value:
        return _local_images(row, value, database, datasette, *IMAGE_TABLES[table])
    return None


async def _local_images(row, value: str, database: str, datasette, images: str, owner: str):
    """The HTML (sanitised when crawled) with each archived image's src on the store."""
    db = datasette.databases[database]
    if images not in await db.table_names():
        return markupsafe.Markup(value)
    site = row["site"]["value"] if isinstance(row["site"], dict) else row["site"]  # a foreign key, in tables
    stored = await db.execute(
        f"SELECT url, sha256 FROM {images} WHERE site = ? AND {owner} = ? AND sha256 IS NOT NULL", [site, row[owner]]
    )
    for url, sha256 in stored.rows:
        local = html.escape(datasette.urls.path(f"/-/media/{sha256[:2]}/{sha256}"))
        value = value.replace(f'src="{html.escape(url)}"', f'src="{local}"')
    return markupsafe.Markup(value)
