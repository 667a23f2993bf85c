"""python -m export site: the archive as a static forum, for any static web host or opened from disk.

Pages keep Discuz's rewritten names, so an old link into the forum finds its page:
``index.html``, ``forum-FID-PAGE.html``, ``thread-TID-PAGE-1.html``, ``space-uid-UID.html``,
``article-AID-PAGE.html``. The dynamic forms (``forum.php?mod=viewthread&tid=N``,
``viewthread.php?tid=N``, …) reach them through a small page at each of those names that reads
its query (a static host ignores it), and through ``_redirects`` (Netlify, Cloudflare Pages) and
``nginx-redirects.conf`` for hosts that can redirect. Files come from the media store, linked
where the file system allows, else copied. The search page and its index: export/site_search.py.

Re-running into the same folder renders only what changed: each thread's page model is hashed
and kept in ``.export-state.sqlite`` with the renderer's own hash; a thread whose hash is
unchanged is not rendered again, and no file is rewritten with the bytes it already has.
Everything is read thread by thread, so memory does not grow with the archive.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from browse import forum, render
from export import stored_file, unreadable
from export.site_search import write_search

STATE = ".export-state.sqlite"
REDIRECT_NAMES = ("forum.php", "viewthread.php", "forumdisplay.php", "portal.php", "home.php", "space.php")
VOLATILE = {"last_seen_at", "last_crawled_at", "synced_at"}  # change on every crawl; not shown


class StaticLinks(render.Links):
    """The mirror's file names, relative: every page sits at the mirror's top."""

    def index(self) -> str:
        return "index.html"

    def forum(self, fid: int, page: int = 1, type_id: int | None = None) -> str:
        return f"forum-{fid}-{page}.html" if type_id is None else f"forum-{fid}-type-{type_id}-{page}.html"

    def thread(self, tid: int, page: int = 1) -> str:
        return f"thread-{tid}-{page}-1.html"

    def member(self, uid: int, page: int = 1) -> str:
        return f"space-uid-{uid}.html" if page == 1 else f"space-uid-{uid}-{page}.html"

    def article(self, aid: int, page: int = 1) -> str:
        return f"article-{aid}-{page}.html"

    def tag(self, name: str) -> str:
        return f"tag-{hashlib.sha1(name.encode()).hexdigest()[:12]}.html"

    def media(self, sha256: str) -> str:
        return f"media/{sha256[:2]}/{sha256}"

    def search(self) -> str:
        return "search.html"

    def revisions(self, pid: int) -> str:
        return f"revisions-{pid}.html"


@dataclass
class Counts:
    pages: int = 0  # written: new or changed
    unchanged: int = 0
    threads_rendered: int = 0
    threads_skipped: int = 0
    media: int = 0
    media_missing: int = 0
    extra: dict = field(default_factory=dict)

    def summary(self) -> str:
        return (f"{self.pages} pages written, {self.unchanged} unchanged; threads: {self.threads_rendered} rendered,"
                f" {self.threads_skipped} unchanged since the last export; {self.media} media files"
                + (f" ({self.media_missing} missing from the store)" if self.media_missing else ""))


class Writer:
    def __init__(self, out: Path, counts: Counts):
        self.out, self.counts = out, counts

    def write(self, name: str, text: str) -> None:
        path = self.out / name
        data = text.encode("utf-8")
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            self.counts.unchanged += 1
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a reader of the mirror never sees half a page
        self.counts.pages += 1

    def write_stream(self, name: str, chunks) -> None:
        """``write`` for a file too big to hold (a common word's search postings): written as it
        comes, then compared with the file it would replace."""
        path = self.out / name
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as file:
            file.writelines(chunks)
        if path.is_file() and filecmp.cmp(tmp, path, shallow=False):
            tmp.unlink()
            self.counts.unchanged += 1
            return
        os.replace(tmp, path)
        self.counts.pages += 1


def renderer_version() -> str:
    """A hash of the templates and the code that fill them: when they change, every page is new."""
    digest = hashlib.sha256()
    for path in sorted(render.TEMPLATES.glob("*.html")) + [Path(render.__file__), Path(forum.__file__), Path(__file__)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def write_site(db_path: str, out: Path, site: str | None = None, media_dir: str | None = None,
               lang: str = render.LANG) -> Counts:
    out.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    sites = forum.sites(conn)
    if site is None:
        if len(sites) != 1:
            raise ValueError(f"the archive holds {len(sites)} sites: choose one with --site ({', '.join(sites)})")
        site = sites[0]
    elif site not in sites:
        raise ValueError(f"no site {site} in the archive ({', '.join(sites)})")
    counts, links = Counts(), StaticLinks()
    writer = Writer(out, counts)
    offset, site_name = forum.utc_offset(conn, site), forum.site_name(conn, site)

    def page(context: dict, name: str, **extra) -> None:
        writer.write(name, render.render(context, links, lang=lang, utc_offset=offset, site_name=site_name, **extra))

    page(forum.index(conn, site), links.index())
    for fid in [row["fid"] for row in forum.index(conn, site)["forums"]]:
        for type_id in [None] + [row["type_id"] for row in forum.forum_filters(conn, site, fid)["types"]]:
            for context in forum.forum_all_pages(conn, site, fid, type_id):
                page(context, links.forum(fid, context["page"], type_id))
    for name in forum.tags(conn, site):
        page(forum.tag(conn, site, name), links.tag(name))
    _write_threads(conn, site, out, links, lang, offset, site_name, writer, counts)
    for uid in forum.member_ids(conn, site):
        for number in range(1, forum.member_pages(conn, site, uid) + 1):
            page(forum.member(conn, site, uid, number), links.member(uid, number))
    for aid in forum.article_ids(conn, site):
        for number in range(1, forum.article_pages(conn, site, aid) + 1):
            page(forum.article(conn, site, aid, number), links.article(aid, number))
    for pid in forum.revised_pids(conn, site):
        page(forum.revisions(conn, site, pid), links.revisions(pid))
    page({"kind": "search", "site": site}, links.search())
    counts.extra["search"] = write_search(conn, site, out, links, writer)
    _write_redirects(writer)
    _copy_media(conn, Path(media_dir) if media_dir else Path(str(db_path) + ".media"), out, counts)
    conn.close()
    return counts


def _write_threads(conn, site, out: Path, links, lang: str, offset: str | None, site_name: str, writer: Writer,
                   counts: Counts) -> None:
    state = sqlite3.connect(out / STATE)
    state.execute("CREATE TABLE IF NOT EXISTS threads (site TEXT, tid INTEGER, digest TEXT, PRIMARY KEY (site, tid))")
    state.execute("CREATE TABLE IF NOT EXISTS renderer (version TEXT)")
    version = renderer_version()
    if [row[0] for row in state.execute("SELECT version FROM renderer")] != [version]:
        state.execute("DELETE FROM threads")
        state.execute("DELETE FROM renderer")
        state.execute("INSERT INTO renderer VALUES (?)", [version])
    for done, tid in enumerate(forum.thread_ids(conn, site), 1):
        contexts = [forum.thread(conn, site, tid, number) for number in range(1, forum.thread_pages(conn, site, tid) + 1)]
        digest = hashlib.sha256(json.dumps([site_name, *(_stable(c) for c in contexts)], sort_keys=True, default=str,
                                           ensure_ascii=False).encode()).hexdigest()
        known = state.execute("SELECT digest FROM threads WHERE site = ? AND tid = ?", [site, tid]).fetchone()
        if known and known[0] == digest and all((out / links.thread(tid, n)).is_file() for n in range(1, len(contexts) + 1)):
            counts.threads_skipped += 1
            continue
        for number, context in enumerate(contexts, 1):
            writer.write(links.thread(tid, number), render.render(context, links, lang=lang, utc_offset=offset,
                                                                  site_name=site_name))
        state.execute("INSERT OR REPLACE INTO threads VALUES (?, ?, ?)", [site, tid, digest])
        counts.threads_rendered += 1
        if done % 1000 == 0:  # a killed export renders at most these threads again
            state.commit()
    state.commit()
    state.close()


def _stable(value):
    """The page model without what changes on every crawl but is not shown."""
    if isinstance(value, dict):
        return {key: _stable(item) for key, item in value.items() if key not in VOLATILE}
    if isinstance(value, (list, tuple)):
        return [_stable(item) for item in value]
    return value


def _copy_media(conn, store: Path, out: Path, counts: Counts) -> None:
    """Every stored file, by its SHA-256 as in the store: hard-linked where it can be, else copied.
    A file others may not read (a store written before its files got the usual mode: 0600) is
    copied instead, with the mode a new file gets, as the pages have: a link shares the store's
    mode, and the web server serving the mirror as another user would answer 403."""
    if not forum.has_table(conn, "media"):
        return
    for (sha256,) in conn.execute("SELECT sha256 FROM media ORDER BY sha256"):
        source = stored_file(store, sha256)
        if source is None:
            counts.media_missing += 1
            continue
        target = out / "media" / sha256[:2] / sha256
        counts.media += 1
        public = bool(source.stat().st_mode & 0o004)
        if target.is_file() and target.stat().st_size == source.stat().st_size and (public or not target.samefile(source)):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        if public:
            try:
                os.link(source, target)
                continue
            except OSError:  # another file system, or links not allowed
                pass
        shutil.copyfile(source, target)


# query parameter form -> the static name, for the redirect page and the host's redirect rules:
# (file, mod, the id's parameter, the page's name from the id and the page number)
ROUTES = [
    ("forum.php", "viewthread", "tid", "thread-{0}-{1}-1.html"),
    ("forum.php", "forumdisplay", "fid", "forum-{0}-{1}.html"),
    ("viewthread.php", None, "tid", "thread-{0}-{1}-1.html"),
    ("forumdisplay.php", None, "fid", "forum-{0}-{1}.html"),
    ("portal.php", "view", "aid", "article-{0}-{1}.html"),
    ("home.php", "space", "uid", "space-uid-{0}.html"),
    ("space.php", None, "uid", "space-uid-{0}.html"),
]
# Discuz's link to a post (forum.php?mod=redirect&goto=findpost&ptid=T&pid=P, on every quote and
# in its search results): the thread's first page, at the post where the host can say so; page 1
# sends a post of a later page on (thread.html)
FINDPOST = ("forum.php", "redirect", "ptid", "thread-{0}-1-1.html")

REDIRECT_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>跳转</title>
<script>
(function () {
  var q = new URLSearchParams(location.search), name = location.pathname.split("/").pop() || "forum.php";
  var tid = q.get("tid") || q.get("ptid"), fid = q.get("fid"), page = q.get("page") || "1", to = "index.html";
  var hash = /^\\d+$/.test(q.get("pid") || "") ? "#pid" + q.get("pid") : location.hash;
  if (tid && /^\\d+$/.test(tid)) to = "thread-" + tid + "-" + (/^\\d+$/.test(page) ? page : "1") + "-1.html";
  else if (fid && /^\\d+$/.test(fid)) to = "forum-" + fid + "-" + (/^\\d+$/.test(page) ? page : "1") + ".html";
  else if (/^\\d+$/.test(q.get("aid") || "") && name === "portal.php") to = "article-" + q.get("aid") + "-" + page + ".html";
  else if (/^\\d+$/.test(q.get("uid") || "")) to = "space-uid-" + q.get("uid") + ".html";
  location.replace(to + hash);
})();
</script></head>
<body><p>本页已存档为静态页面：<a href="index.html">论坛首页</a>。</p></body></html>
"""


# Discuz's archiver (the text-only view search engines indexed): archiver/?tid-N.html and
# ?fid-N.html, or archiver/tid-N.html where rewriting is on. Its pages are paged otherwise than
# the forum's, so a link lands on the first page of the thread or forum.
ARCHIVER_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>跳转</title>
<script>
(function () {
  var found = /^\\?(tid|fid)-(\\d+)/.exec(location.search), to = "../index.html";
  if (found) to = found[1] === "tid" ? "../thread-" + found[2] + "-1-1.html" : "../forum-" + found[2] + "-1.html";
  location.replace(to);
})();
</script></head>
<body><p>本页已存档为静态页面：<a href="../index.html">论坛首页</a>。</p></body></html>
"""
ARCHIVER_NGINX = """location ^~ /archiver/ {
    if ($args ~ "^tid-([0-9]+)") { return 301 /thread-$1-1-1.html; }
    if ($args ~ "^fid-([0-9]+)") { return 301 /forum-$1-1.html; }
    rewrite ^/archiver/tid-([0-9]+)[^/]*$ /thread-$1-1-1.html permanent;
    rewrite ^/archiver/fid-([0-9]+)[^/]*$ /forum-$1-1.html permanent;
    return 301 /index.html;
}
"""


def _write_redirects(writer: Writer) -> None:
    """The redirect pages, and the same as rules for Netlify (_redirects: a rule with more
    parameters first, as it takes the first that matches) and for nginx."""
    for name in REDIRECT_NAMES:
        writer.write(name, REDIRECT_PAGE)
    (writer.out / "archiver").mkdir(exist_ok=True)
    writer.write("archiver/index.html", ARCHIVER_PAGE)
    name, mod, key, target = FINDPOST
    netlify = [f"/{name} mod={mod} ptid=:ptid /{target.format(':ptid')} 301"]
    # the pid goes into the Location only as digits, as the redirect page's script takes it
    blocks: dict[str, list[str]] = {name: [
        '    set $post "";\n    if ($arg_pid ~ "^[0-9]+$") { set $post "#pid$arg_pid"; }',
        f'    if ($arg_{key} ~ "^[0-9]+$") {{ return 301 /{target.format("$arg_ptid")}$post; }}']}
    for name, mod, key, target in ROUTES:
        condition = (f"mod={mod} " if mod else "") + f"{key}=:{key}"
        if "{1}" in target:
            netlify.append(f"/{name} {condition} page=:page /{target.format(':' + key, ':page')} 301")
        netlify.append(f"/{name} {condition} /{target.format(':' + key, 1)} 301")
        test = f'$arg_mod = "{mod}"' if mod else f'$arg_{key} ~ "^[0-9]+$"'
        blocks.setdefault(name, []).append(f"    if ({test}) {{ return 301 /{target.format('$arg_' + key, '$page')}; }}")
    writer.write("_redirects", "\n".join(netlify) + "\n")
    page = '    set $page 1;\n    if ($arg_page ~ "^[0-9]+$") { set $page $arg_page; }\n'
    writer.write("nginx-redirects.conf", "# include in the mirror's server block\n" + "".join(
        f"location = /{name} {{\n" + (page if any("$page" in line for line in lines) else "") + "\n".join(lines)
        + "\n    return 301 /index.html;\n}\n" for name, lines in blocks.items()) + ARCHIVER_NGINX)


def main(argv: list[str]) -> int:
    """python -m export site --db ARCHIVE -o DIR"""
    import argparse
    import sys

    parse = argparse.ArgumentParser(
        prog="python -m export site",
        description="Write the archive as a static forum: index, forum pages, every thread page, members, "
        "portal articles, the stored files and an offline search, under Discuz's own file names. "
        "Run it again into the same folder to bring the mirror up to date: only what changed is written.",
    )
    parse.add_argument("--db", default="archive.db", help="the archive (default: archive.db)")
    parse.add_argument("-o", "--output", required=True, help="the mirror's folder")
    parse.add_argument("--site", help="the site to write, when the archive holds several")
    parse.add_argument("--media-dir", help="the media store (default: <archive>.media)")
    parse.add_argument("--lang", default=render.LANG, help=f"the forum's language, for every page (default: {render.LANG})")
    args = parse.parse_args(argv)
    if not Path(args.db).is_file():
        parse.error(f"no archive at {args.db}")
    try:
        counts = write_site(args.db, Path(args.output), site=args.site, media_dir=args.media_dir, lang=args.lang)
    except ValueError as error:
        parse.error(str(error))
    except sqlite3.OperationalError as error:
        parse.error(unreadable(args.db, error) or str(error))
    print(f"{args.output}: {counts.summary()}", file=sys.stderr)
    return 0
