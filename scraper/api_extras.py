"""The thread extras the mobile API carries (``module=viewthread``), in the dataclasses the
pages give (scraper.thread_extras): 点评 (``Variables.comments``, keyed by pid, the newest
``commentnumber`` of each; ``commentcount`` says how many there are), the poll
(``Variables.special_poll``) and attachments (each post's ``attachments``, with ``aidencode``).
The thread's ``special`` and ``typeid`` too, but not the type's name. The API has no ratings
and no tags: those columns stay empty when the API is the source. No Scrapy, no I/O.
"""

from __future__ import annotations

import html
from datetime import datetime, tzinfo
from urllib.parse import urljoin

from scraper.api_answer import answer_variables, as_dict, int_of, objects_of, query_int, unix_time, zone_of
from scraper.attachments import size_in_bytes
from scraper.content import fragment_root, html_to_text
from scraper.dates import page_time
from scraper.extras_models import Attachment, Poll, PollOption, PostComment, ThreadExtras
from scraper.post_extras import comment_key, commentmore_url
from scraper.urls import site_of, site_root_url
from scraper.xpath import squash

# pre_forum_thread.special
SPECIALS = {1: "poll", 2: "trade", 3: "reward", 4: "activity", 5: "debate"}


def parse_api_thread_extras(
    body: bytes | str,
    url: str,
    *,
    utc_offset: str | tzinfo | None = None,
    fetched_at: datetime | None = None,
) -> ThreadExtras:
    """The extras of one ``module=viewthread`` answer. Raises PageProblem for the API's error
    answers, as parse_api_thread does."""
    variables = answer_variables(body, "postlist")
    thread = as_dict(variables.get("thread"))
    items = [item for item in objects_of(variables.get("postlist")) if int_of(item.get("pid"))]
    tid = int_of(thread.get("tid")) or (int_of(items[0].get("tid")) if items else None) or query_int(url, "tid")
    base = site_root_url(url)
    site = site_of(url)
    tz = zone_of(utc_offset, [(item.get("dateline"), item.get("dbdateline")) for item in items])
    extras = ThreadExtras(url=url, site=site, tid=tid or 0, page=query_int(url, "page") or 1)
    extras.type_id = int_of(thread.get("typeid")) or None
    extras.special = SPECIALS.get(int_of(thread.get("special")) or 0)
    extras.poll = _poll(as_dict(variables.get("special_poll")), site, extras.tid, tz)
    counts = as_dict(variables.get("commentcount"))
    for pid_key, entries in as_dict(variables.get("comments")).items():
        pid = int_of(pid_key)
        if pid is None:
            continue
        comments = [_comment(entry, site, extras.tid, pid, tz, fetched_at) for entry in objects_of(entries)]
        extras.comments.extend(comments)
        if (int_of(counts.get(pid_key)) or 0) > len(comments):
            extras.comments_more[pid] = commentmore_url(
                urljoin(base, f"forum.php?mod=misc&action=commentmore&tid={extras.tid}&pid={pid}&page=2"), extras.tid, pid
            )
    for item in items:
        pid = int_of(item.get("pid"))
        for attachment in objects_of(list(as_dict(item.get("attachments")).values())):
            extras.attachments.append(_attachment(attachment, site, extras.tid, pid, base, tz))
    return extras


def _comment(entry: dict, site: str, tid: int, pid: int, tz: tzinfo, fetched_at: datetime | None) -> PostComment:
    author = squash(html.unescape(str(entry.get("author") or ""))) or None
    uid = int_of(entry.get("authorid")) or None
    posted_at = page_time(html.unescape(str(entry.get("dateline") or "")), tz, fetched_at)
    text = squash(_strip_tags(html.unescape(str(entry.get("comment") or ""))))
    key = comment_key(pid, uid, author, posted_at, text)
    discuz_id = int_of(entry.get("id"))
    return PostComment(site=site, id=str(discuz_id) if discuz_id else key, key=key, pid=pid, tid=tid,
                       author=author, author_uid=uid, posted_at=posted_at, content_text=text)


def _strip_tags(text: str) -> str:
    return html_to_text(fragment_root(text)) if "<" in text else text


def _poll(poll: dict, site: str, tid: int, tz: tzinfo) -> Poll | None:
    options = as_dict(poll.get("polloptions"))
    if not options:
        return None
    multiple = int_of(poll.get("multiple")) == 1
    # visiblepoll 1: results hidden from this visitor until they vote (or the poll ends).
    visible = int_of(poll.get("visiblepoll")) != 1
    result = Poll(
        site=site, tid=tid, multiple=multiple,
        max_choices=int_of(poll.get("maxchoices")) or (None if multiple else 1),
        voters=int_of(poll.get("voterscount")),
        # The API fills ``expirations`` even for a poll without an end; only a poll with time
        # left (remaintime) has a real one.
        expires_at=unix_time(poll.get("expirations"), tz) if poll.get("remaintime") else None,
        results_visible=visible,
    )
    for number, (key, option) in enumerate(sorted(options.items(), key=lambda kv: int_of(kv[0]) or 0), 1):
        option = as_dict(option)
        result.options.append(PollOption(
            option_no=int_of(key) or number,
            text=squash(html.unescape(str(option.get("polloption") or ""))),
            votes=int_of(option.get("votes")) if visible else None,
        ))
    return result


def _attachment(item: dict, site: str, tid: int, pid: int | None, base: str, tz: tzinfo) -> Attachment:
    code = str(item.get("aidencode") or "")
    price = int_of(item.get("price")) or None
    is_image = int_of(item.get("isimage")) not in (None, 0)
    path = str(item.get("attachment") or "")
    return Attachment(
        site=site, aid=int_of(item.get("aid")) or 0, pid=pid or int_of(item.get("pid")) or 0, tid=tid,
        filename=squash(html.unescape(str(item.get("filename") or ""))) or None,
        size=int_of(item.get("filesize")) or size_in_bytes(item.get("attachsize")),
        size_shown=str(item.get("attachsize") or "") or None,
        downloads=int_of(item.get("downloads")),
        is_image=is_image,
        price=price,
        url=urljoin(base, f"forum.php?mod=attachment&aid={code}") if code else None,
        image_url=urljoin(base, str(item.get("url") or "data/attachment/forum/") + path) if is_image and path else None,
        uploaded_at=unix_time(item.get("dbdateline"), tz),
    )
