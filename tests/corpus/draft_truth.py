"""Draft a corpus page's truth from its markup with plain lxml queries (never the project's parser).

    python tests/corpus/draft_truth.py NAME      # prints the JSON for tests/corpus/truth/NAME.json

A draft only: every truth file was read against its page by eye before it was committed, and the
traps met on the way are in tests/corpus/README.md. Each layout (``view`` in SOURCES.tsv) has
its own queries, written for the markup Discuz's templates print, not for what the archive keeps.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote

from lxml import html

HERE = Path(__file__).parent
TESTS = HERE.parent
# What Discuz prints inside a message that is not the post's text: anti-copy noise, the edit
# note, attachment pop-ups, scripts, the guest's "register to see attachments" box, the code
# block's "复制代码" button, the guest's "登录/注册后可看大图" link under a thumbnail. (The
# README's traps say how each was found.)
NOT_TEXT = (
    "//font[contains(concat(' ', @class, ' '), ' jammer ')]"
    " | //*[contains(translate(@style, ' ', ''), 'display:none')]"
    " | //i[@class='pstatus'] | //script | //style"
    " | //div[contains(concat(' ', @class, ' '), ' tip ')]"
    " | //span[@class='xg1' and contains(., '下载次数')]"
    " | //div[contains(@class, 'attach_nopermission')]"
    " | //em[contains(@onclick, 'copycode')]"
    " | //div[@class='guestviewthumb']//a[contains(@href, 'action=login')]"
)


def sources() -> dict[str, dict[str, str]]:
    with open(HERE / "SOURCES.tsv", encoding="utf-8", newline="") as f:
        return {row["name"]: row for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}


def text_of(element) -> str:
    """The text a reader sees: noise and UI removed, white space collapsed."""
    element = html.fromstring(html.tostring(element, encoding="unicode"))
    for junk in element.xpath(NOT_TEXT):
        junk.drop_tree()
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", element.text_content())  # invisible to a reader
    return re.sub(r"\s+", " ", text).strip()


def ends(text: str) -> dict:
    return {"text_head": text[:20], "text_tail": text[-20:]}


def notes(message) -> dict:
    """The edit note and the first quote's header and link, as the message shows them."""
    if message is None:
        return {"edit_note": None, "quote_header": None, "quote_pid": None}
    note = one(message, ".//i[@class='pstatus']")
    header = one(message, ".//div[contains(@class, 'quote')]/blockquote//font[@color='#999999']")
    link = one(message, ".//div[contains(@class, 'quote')]/blockquote//a[contains(@href, 'findpost')]")
    quoted = re.search(r"[?&;]pid=(\d+)", link.get("href")) if link is not None else None
    return {
        "edit_note": re.sub(r"\s+", " ", note.text_content()).strip() if note is not None else None,
        "quote_header": re.sub(r"\s+", " ", header.text_content()).strip() if header is not None else None,
        "quote_pid": int(quoted.group(1)) if quoted else None,
    }


def one(element, query: str):
    found = element.xpath(query)
    return found[0] if found else None


def attachment_ids(markup: str) -> set[int]:
    """The aids a post refers to: aid=N, id="aimg_N", and the mod=attachment&aid=BASE64 addresses
    (base64 of "aid|hash|time|uid|tid") that X2.5 images give as their only reference."""
    aids = {int(a or b) for a, b in re.findall(r"\baid=(\d+)\b|aimg_(\d+)", markup)}
    for encoded in re.findall(r"mod=attachment&(?:amp;)?aid=([A-Za-z0-9+/%]+)", markup):
        decoded = base64.b64decode(unquote(encoded) + "==").decode("latin-1")
        aids.add(int(decoded.split("|")[0]))
    return aids


def desktop_posts(root) -> list[dict]:
    """X2-X3.5 desktop (and the robot view): a post is div#post_PID around table#pidPID."""
    posts = []
    for box in root.xpath("//div[@id='postlist']/div[starts-with(@id, 'post_')]"):
        pid = box.get("id")[5:]
        if not pid.isdigit():
            continue
        author_link = one(box, ".//td[@class='pls']//div[@class='authi']/a[1]")
        author = author_link.text_content().strip() if author_link is not None else None
        uid = re.search(r"uid[=-](\d+)", author_link.get("href")).group(1) if author_link is not None else None
        floor = one(box, f".//a[@id='postnum{pid}']")
        shown = one(box, f".//em[@id='authorposton{pid}']")
        title = one(shown, ".//span[@title]") if shown is not None else None
        message = one(box, f".//td[@id='postmessage_{pid}']")
        locked = box.xpath(".//div[@class='locked']")
        # one score a rater gave in one credit: a rater row's non-empty credit cells
        ratings = box.xpath(
            f".//*[@id='ratelog_{pid}']//tr[td/a[contains(@href, 'uid')]]/td[position() > 1 and contains(@class, 'xi1')]"
        )
        comments = box.xpath(f".//div[@id='comment_{pid}']//div[contains(@class, 'pstl')]")
        attachments = attachment_ids(html.tostring(box, encoding="unicode"))
        text = text_of(message) if message is not None else ""
        posts.append({
            "pid": int(pid),
            "author": author,
            "author_uid": int(uid) if uid else None,
            "floor_shown": re.sub(r"\s+", "", floor.text_content()) if floor is not None else None,
            "time_shown": re.sub(r"\s+", " ", shown.text_content()).strip() if shown is not None else None,
            "time_title": title.get("title") if title is not None else None,
            **ends(text),
            **notes(message),
            "banned": message is None and bool(locked),
            "hidden": bool(locked) and message is not None,
            "comments": len(comments),
            "ratings": len(ratings),
            "attachments": len(attachments),
        })
    return posts


def touch_posts(root) -> list[dict]:
    """The touch template (mobile=2): a post is div.plc#pidPID."""
    posts = []
    for box in root.xpath("//div[contains(concat(' ', @class, ' '), ' plc ') and starts-with(@id, 'pid')]"):
        pid = box.get("id")[3:]
        author_link = one(box, ".//li[@class='mtit']/span[@class='z']/a")
        floor = one(box, ".//li[@class='mtit']/span[@class='y']")
        time_li = one(box, ".//li[@class='mtime']")
        time_text = "".join(t for t in time_li.xpath("text()")).strip() if time_li is not None else None
        message = one(box, ".//div[@class='message']")
        text = text_of(message) if message is not None else ""
        posts.append({
            "pid": int(pid),
            "author": author_link.text_content().strip() if author_link is not None else None,
            "author_uid": int(re.search(r"uid=(\d+)", author_link.get("href")).group(1)) if author_link is not None else None,
            "floor_shown": floor.text_content().strip() if floor is not None else None,
            "time_shown": time_text,
            "time_title": None,
            **ends(text),
            **notes(message),
            "banned": False,
            "hidden": bool(box.xpath(".//div[@class='locked']")),
            "comments": len(box.xpath(f".//div[@id='comment_{pid}']//*[contains(@class, 'pstl')]")),
            "ratings": 0,
            "attachments": 0,
        })
    return posts


def desktop_rows(root) -> list[dict]:
    """A desktop thread list: a row is tbody#normalthread_TID or #stickthread_TID."""
    rows = []
    for body in root.xpath("//tbody[starts-with(@id, 'normalthread_') or starts-with(@id, 'stickthread_')]"):
        tid = body.get("id").split("_", 1)[1]
        if not tid.isdigit():
            continue  # ad rows (normalthread_ypa) are not threads
        title = one(body, ".//th//a[contains(@class, 'xst')] | .//th//span[starts-with(@id, 'thread_')]/a")
        author = one(body, "(.//td[contains(@class, 'by') or @class='author'])[1]//cite")
        numbers = one(body, ".//td[contains(@class, 'num') or @class='nums']")
        replies = one(numbers, "./a | ./strong") if numbers is not None else None
        views = one(numbers, "./em") if numbers is not None else None
        rows.append({
            "tid": int(tid),
            "title": re.sub(r"\s+", " ", title.text_content()).strip() if title is not None else None,
            "author": author.text_content().strip() if author is not None else None,
            "replies": int(replies.text_content()) if replies is not None and replies.text_content().strip().isdigit() else None,
            "views": int(views.text_content()) if views is not None and views.text_content().strip().isdigit() else None,
            "sticky": body.get("id").startswith("stickthread_"),
        })
    return rows


def touch_rows(root) -> list[dict]:
    """The touch thread list: a row is li.list; the author above the title, views (eye icon)
    and replies (chat icon) below it."""
    rows = []
    for item in root.xpath("//div[contains(@class, 'threadlist')]//li[contains(concat(' ', @class, ' '), ' list ')]"):
        link = one(item, ".//a[contains(@href, 'mod=viewthread')][div[contains(@class, 'threadlist_tit')]]")
        author = one(item, ".//a[@class='mmc']")
        views = one(item, ".//li[i[contains(@class, 'dm-eye')]]")
        replies = one(item, ".//li[i[contains(@class, 'dm-chat')]]")
        rows.append({
            "tid": int(re.search(r"tid=(\d+)", link.get("href")).group(1)),
            "title": re.sub(r"\s+", " ", link.text_content()).strip(),
            "author": author.text_content().strip() if author is not None else None,
            "replies": int(replies.text_content()) if replies is not None else None,
            "views": int(views.text_content()) if views is not None else None,
            "sticky": None,
        })
    return rows


def legacy_posts(root) -> list[dict]:
    """The 5.x/6.0-era markup: the message is div#messagePID, the author the bold name in the
    left cell of the post's outer table, the floor "#N" and "发表于 …" above the message."""
    posts = []
    for message in root.xpath("//div[starts-with(@id, 'message') and contains(@class, 't_msgfont')]"):
        pid = message.get("id")[7:]
        table = message.xpath("ancestor::table[@bgcolor='#b6b7ba'][1]")[0]
        author = one(table, "./tr/td[1]//font/b")
        floor = one(table, ".//div[contains(@class, 't_number')]/a")
        shown = one(table, ".//div[starts-with(normalize-space(text()), '发表于')]")
        text = text_of(message)
        posts.append({
            "pid": int(pid),
            "author": author.text_content().strip() if author is not None else None,
            "author_uid": None,
            "floor_shown": floor.text_content().strip() if floor is not None else None,
            "time_shown": re.sub(r"\s+", " ", shown.xpath("text()")[0]).strip() if shown is not None else None,
            "time_title": None,
            **ends(text),
            **notes(message),
            "banned": False,
            "hidden": "本内容被隐藏" in text,
            "comments": 0,
            "ratings": 0,
            "attachments": 0,
        })
    return posts


def poll(root) -> list[dict] | None:
    """The poll a thread's first page shows: each option's text and votes, in order."""
    options = []
    for label in root.xpath("//div[@class='pcht']//td[@class='pvt']/label"):
        votes = one(label, "ancestor::tr[1]/following-sibling::tr[1]//em")
        text = re.sub(r"^\d+\.\s*", "", label.text_content().replace("\xa0", " ")).strip()
        options.append({"text": text, "votes": int(re.search(r"\d+", votes.text_content()).group()) if votes is not None else None})
    return options or None


def portal_article(root) -> dict:
    """A portal article's page (portal.php?mod=view, article-AID-P.html): the title is h1.ph, the
    line under it (p.xg1) holds the time, the publisher (a member link), 查看 (em#_viewnum; some
    themes label it 点击), 评论 (em#_commentnum) and 原作者, fields parted by span.pipe; the text
    is td#article_content; the comments shown are dl#comment_CID_li; the pager is div.pg."""
    title = one(root, "//h1[contains(concat(' ', @class, ' '), ' ph ')]")
    line = one(root, "//div[contains(concat(' ', @class, ' '), ' h ')]/p[contains(@class, 'xg1')]")
    fields = [re.sub(r"\s+", " ", part).strip() for part in line.text_content().split("|")] if line is not None else []
    publisher = one(line, ".//a[contains(@href, 'uid')]") if line is not None else None
    views = one(root, "//em[@id='_viewnum']")
    shown_count = one(root, "//em[@id='_commentnum']")
    labelled = dict(re.match(r"(.*?)\s*[:：]\s*(.*)", part).groups() for part in fields if re.search("[:：]", part))
    if views is not None:
        views = int(views.text_content())
    else:
        views = next((int(labelled[name]) for name in ("查看", "点击") if name in labelled), None)
    pager = root.xpath("//div[@class='pg']//a/text() | //div[@class='pg']/strong/text()")
    text = text_of(one(root, "//td[@id='article_content']"))
    return {
        "title": re.sub(r"\s+", " ", title.text_content()).strip() if title is not None else None,
        "publisher": publisher.text_content().strip() if publisher is not None else None,
        "author": labelled.get("原作者"),
        "time_shown": next((part for part in fields if re.search(r"\d{4}-\d{1,2}-\d{1,2}", part)), None),
        "views": views,
        "comments_shown": int(shown_count.text_content()) if shown_count is not None else None,
        **ends(text),
        "comments": [
            int(re.search(r"\d+", dl.get("id")).group())
            for dl in root.xpath("//dl[starts-with(@id, 'comment_') and substring(@id, string-length(@id) - 2) = '_li']")
        ],
        "page_count": max([int(n) for n in pager if n.strip().isdigit()] or [1]),
    }


LAYOUTS = {"desktop": desktop_posts, "robot": desktop_posts, "touch": touch_posts, "legacy": legacy_posts}
LISTS = {"desktop": desktop_rows, "touch": touch_rows}


def draft(name: str) -> dict:
    row = sources()[name]
    body = (TESTS / row["file"]).read_bytes()
    root = html.fromstring(body.decode(row["encoding"]))
    if row["kind"] == "forum":
        return {"name": name, "threads": LISTS[row["view"]](root)}
    if row["kind"] == "portal":
        return {"name": name, "article": portal_article(root)}
    return {"name": name, "posts": LAYOUTS[row["view"]](root), "poll": poll(root)}


if __name__ == "__main__":
    print(json.dumps(draft(sys.argv[1]), ensure_ascii=False, indent=1))
