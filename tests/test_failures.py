"""Every way a real forum fails, recognised and recorded, and the crawl goes on.

The failure pages are the sample forum's own pages (a real Discuz! X3.5) turned into what a
forum shows when things go wrong, each with a note saying what it imitates. They are read by
the parser, then served with their real status codes by a local server to the real
`scrapy crawl discuz`, next to healthy threads that must come through untouched. Last, a
server that fails at random (seeded) under a whole-forum crawl: the failures are recorded,
the archive stays consistent, and a second run completes it.
"""

from __future__ import annotations

import os
import random
import re
import socket
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest
from lxml import html
from sqlite_utils import Database

from sample_forum import SampleForum
from scraper.thread import parse_thread_page
from scraper.listing import parse_forum_page
from scraper.problems import PageProblem
from test_recrawl import V1, stored, visible

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "sample_forum/v1"
X35 = "http://127.0.0.1:8080/"
THREAD_MISSING = "抱歉，指定的主题不存在或已被删除或正在被审核"


# The failure pages --------------------------------------------------------------------------

# The sample forum's real message page (showmessage, X3.5), as Discuz serves a deleted thread.
MESSAGE_PAGE = (SAMPLE / "thread-7-1-1.html").read_text(encoding="utf-8")
_MESSAGE_BLOCK = re.compile(r'<div class="nfl">.*?</div>\s*</div>\s*</div>', re.S)
# What showmessage adds for a guest when the message asks for a login (common/showmessage.htm,
# $param[login]): a hidden success box, and div#messagelogin that ajax fills with the form.
LOGIN_BOX = """<div class="nfl" id="main_succeed" style="display: none">
<div class="f_c altw">
<div class="alert_right">
<p id="succeedmessage"></p>
<p id="succeedlocation" class="alert_btnleft"></p>
<p class="alert_btnleft"><a id="succeedmessage_href">如果您的浏览器没有自动跳转，请点击此链接</a></p>
</div>
</div>
</div>
<div class="nfl" id="main_message">
<div class="f_c altw">
<div id="messagetext" class="alert_info">
<p>{message}</p>
</div>
<div id="messagelogin"></div>
<script type="text/javascript">ajaxget('member.php?mod=logging&action=login&infloat=yes&frommessage', 'messagelogin');</script>
</div>
</div>"""


def message_page(message: str, login: bool = False) -> bytes:
    """The sample forum's message page saying ``message``; ``login``: with the login box."""
    page = MESSAGE_PAGE.replace(THREAD_MISSING, message)
    if login:
        page = _MESSAGE_BLOCK.sub(lambda _: LOGIN_BOX.format(message=message), page, count=1)
    return page.encode("utf-8")


# viewperm_login_nopermission: a guest on a members-only board (Discuz answers 200).
LOGIN_WALL = message_page("抱歉，您尚未登录，没有权限访问该版块", login=True)
# thread_nopermission: a thread above the guest's read permission.
NO_PERMISSION = message_page("抱歉，本帖要求阅读权限高于 10 才能浏览", login=True)
# board_closed: the whole site closed by its admin, on every URL, with the login box.
SITE_CLOSED = message_page("抱歉，本站点暂时关闭，详情请 联系管理员", login=True)
# A forum with a password (forum/forumdisplay_passwd.htm) asks for it in a form, not a message.
FORUM_PASSWORD = _MESSAGE_BLOCK.sub(
    lambda _: '<div class="nfl"><div class="f_c altw"><form method="post" autocomplete="off" id="forumpw"'
    ' action="forum.php?mod=forumdisplay&amp;fid=5&amp;action=pwverify"><p>本版块需要密码，您必须在下面输入'
    '正确的密码才能浏览这个版块</p><input type="password" name="pw" class="px" /><button type="submit"'
    ' class="pn">提交</button></form></div></div>',
    MESSAGE_PAGE,
    count=1,
).encode("utf-8")
# forum_nonexistence: a closed or deleted forum (Discuz loads only open forums).
FORUM_MISSING = (SAMPLE / "forum-99-1.html").read_bytes()
# helper_antitheft.php (防采集) over the daily view limit: nothing but one obfuscated script
# that re-requests the URL with &_dsign=…, the URL cut into pieces, the redirect spelt through
# aliases of location (make_js). This one sends the browser to /thread-42-1-1.html?_dsign=5c1a9e3f.
ANTISCRAPING = (
    b'<script type="text/javascript">_Qx8Fw = location;_fM2rB = \'href\';function getName(){var caller='
    b'getName.caller;if(caller.name){return caller.name} var str=caller.toString().replace(/[\\s]*/g,"");'
    b"var name=str.match(/^function([^\\(]+?)\\(/);if(name && name[1]){return name[1];} else {return '';}}"
    b"_a3=function(){'return _a3';return '/th';};function Zr(){'return Zr';return 're'}_Vk7c = window;"
    b"_kY2 = 'replace';N4=function(N4_){'return N4';return N4_;};_dE1 = 'assign';"
    b"_Qx8Fw[_fM2rB]=_a3()+(function(){'return qP';return 'ead-'})()+'42-1-1.html?'+N4('_ds')+"
    b"(function(tW_){return (function(tW_){return tW_;})(tW_);})('ign=5c1a9e3f');"
    b"_Vk7c['href']=_a3()+(function(){'return qP';return 'ead-'})();</script>"
)
# An answer with no bytes at all (a PHP fatal error with display_errors off).
EMPTY = b""
# A thread page cut in the middle of its post list: the server or a proxy stopped sending.
_THREAD_3 = (SAMPLE / "thread-3-1-1.html").read_bytes()
TRUNCATED = _THREAD_3[: _THREAD_3.index(b'<div id="post_81" >') + 2000]


def nginx_page(status: str) -> bytes:
    """The web server's own error page (nginx), as forums behind a WAF or an overloaded PHP show."""
    return (
        f"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


FORBIDDEN = nginx_page("403 Forbidden")
SERVER_ERROR = nginx_page("500 Internal Server Error")
UNAVAILABLE = nginx_page("503 Service Temporarily Unavailable")
# A thread whose every post is replaced by Discuz's notices (viewthread_node_body.htm): banned
# authors' posts (bannedmessages) and posts a moderator blocked.
BANNED = '提示: <em>作者被禁止或删除 内容自动屏蔽</em>'
BLOCKED = '提示: <em>该帖被管理员或版主屏蔽</em>'


def all_posts_hidden(name: str) -> bytes:
    """The sample thread ``name`` with each post's body replaced, as Discuz replaces it."""
    root = html.document_fromstring((SAMPLE / name).read_text(encoding="utf-8"))
    for index, body in enumerate(root.xpath("//div[@class='pcb']")):
        for child in list(body):
            body.remove(child)
        body.text = "\n"
        body.append(html.fragment_fromstring(f'<div class="locked">{(BANNED, BLOCKED)[index % 2]}</div>'))
    return html.tostring(root, encoding="utf-8", doctype="<!DOCTYPE html>")


ALL_HIDDEN = all_posts_hidden("thread-27-1-1.html")
# A GBK forum whose server (and meta tag) still say UTF-8, as after a botched migration.
WRONG_CHARSET = (SAMPLE / "thread-14-1-1.html").read_text(encoding="utf-8").encode("gb18030")


# The parser on each of them -----------------------------------------------------------------


# Discuz 7.x's message page (templates/default/showmessage.htm) with its NOPERM message.
D7_NO_PERMISSION = (
    '<html><head><title>提示信息 - 论坛</title></head><body><div id="nav"><a href="index.php">论坛</a> &raquo; 提示信息</div>'
    '<div id="wrap" class="wrap s_clear"><div class="msgfix"><div class="showmessage"><h1>论坛 提示信息</h1>'
    "<p>对不起，您无权进行当前操作，这可能因以下原因之一造成：</p></div></div></div></body></html>"
).encode("utf-8")
# The touch template's message page (touch/common/showmessage.htm), as a phone is told.
TOUCH_LOGIN_WALL = (
    '<html><head><title>提示信息</title></head><body><div class="jump_c"><p>抱歉，您尚未登录，没有权限访问该版块</p>'
    '<p><a href="javascript:history.back();">返回上一页</a></p></div></body></html>'
).encode("utf-8")


@pytest.mark.parametrize(
    "body, url, kind, said",
    [
        (message_page(THREAD_MISSING), "thread-7-1-1.html", "missing", THREAD_MISSING),
        (FORUM_MISSING, "forum-99-1.html", "missing", "抱歉，指定的版块不存在"),
        (LOGIN_WALL, "thread-40-1-1.html", "login", "抱歉，您尚未登录，没有权限访问该版块"),
        (NO_PERMISSION, "thread-41-1-1.html", "login", "抱歉，本帖要求阅读权限高于 10 才能浏览"),
        (D7_NO_PERMISSION, "viewthread.php?tid=41", "login", "对不起，您无权进行当前操作"),
        (TOUCH_LOGIN_WALL, "forum.php?mod=viewthread&tid=40&mobile=2", "login", "您尚未登录"),
        (FORUM_PASSWORD, "forum-5-1.html", "login", "a password"),
        (SITE_CLOSED, "forum-5-1.html", "closed", "抱歉，本站点暂时关闭"),
        (message_page("本版块已被关闭"), "forum-5-1.html", "closed", "本版块已被关闭"),
        (ANTISCRAPING, "thread-42-1-1.html", "antiscraping", "防采集"),
        (EMPTY, "thread-43-1-1.html", "empty", "empty"),
        (b"<html><head><title></title></head><body>\n</body></html>", "thread-43-1-1.html", "empty", "nothing in it"),
        (_THREAD_3[:3000], "thread-3-1-1.html", "broken", "cut short"),  # not even to its body
        (FORBIDDEN, "thread-4-1-1.html", "error", "403 Forbidden"),
        (UNAVAILABLE, "thread-6-1-1.html", "error", "503 Service Temporarily Unavailable"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.isascii() else None,
)
def test_each_failure_page_is_a_problem_of_its_kind(body, url, kind, said):
    parse = parse_forum_page if url.startswith("forum-") else parse_thread_page
    with pytest.raises(PageProblem) as raised:
        parse(body, X35 + url)
    assert (raised.value.kind, said in raised.value.message) == (kind, True), raised.value.message


def test_a_thread_whose_every_post_is_hidden_reads_with_flags():
    page = parse_thread_page(ALL_HIDDEN, X35 + "thread-27-1-1.html")
    assert (len(page.posts), page.title) == (7, "Discuz 论坛数据备份脚本分享")
    assert [post.flags for post in page.posts] == [["masked"], ["blocked"]] * 3 + [["masked"]]
    assert all(post.content_text.startswith("提示:") for post in page.posts)


def test_a_page_past_the_end_is_the_last_page_again():
    """Discuz answers page 99 of a 5-page thread with page 5: read as page 5, not as page 99."""
    page_99 = (SAMPLE / "forum.php@mod=viewthread&tid=1&page=99.html").read_bytes()  # as Discuz saved it
    page = parse_thread_page(page_99, X35 + "thread-1-99-1.html")
    last = parse_thread_page((SAMPLE / "thread-1-5-1.html").read_bytes(), X35 + "thread-1-5-1.html")
    assert (page.page, page.page_count) == (5, 5)
    assert [(p.pid, p.floor) for p in page.posts] == [(p.pid, p.floor) for p in last.posts]


# A server that misbehaves where told ---------------------------------------------------------


@dataclass
class Answer:
    """What the server does with one request."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: longer than the crawl's DOWNLOAD_TIMEOUT
    sent: int | None = None  # bytes of the body actually sent, Content-Length promising all
    reset: bool = False  # drop the connection (TCP reset) without answering


class HostileForum(SampleForum):
    """The sample forum (v1) on 127.0.0.1, answering each request as ``plan`` says: an Answer,
    another target to answer with, or None for the real page. The stock handler cannot delay,
    cut or reset, so the server gets this one."""

    def __init__(self, plan: Callable[[str], Answer | str | None]):
        super().__init__("v1")
        self.plan = plan
        self._httpd.RequestHandlerClass = _HostileHandler

    def answer(self, target: str) -> Answer:
        planned = self.plan(target)
        if isinstance(planned, Answer):
            return planned
        status, headers, body = self.respond(planned or target)
        return Answer(status, body, headers)


class _HostileHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        answer = self.server.forum.answer(self.path)
        time.sleep(answer.delay)
        if answer.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        headers = {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(answer.body))}
        try:
            self.send_response(answer.status)
            for name, value in (headers | answer.headers).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body[: answer.sent])
        except (BrokenPipeError, ConnectionResetError):  # the crawler stopped waiting
            self.close_connection = True

    def log_message(self, format, *args):
        """Quiet, like the sample forum's own handler."""


# A parser bug that only thread 10 meets: its page reader raises, every other page reads as usual.
PARSER_BUG = """
import scraper.thread
_open_page = scraper.thread.open_page
def open_page(text, url, utc_offset):
    if "thread-10-" in url:
        raise RuntimeError("a parser bug that only thread 10 meets")
    return _open_page(text, url, utc_offset)
scraper.thread.open_page = open_page
"""


def planted(code: str, directory: Path) -> dict[str, str]:
    """An environment in which every Python process started, the crawl and its archive worker
    alike, first runs ``code`` (to plant a bug): a sitecustomize module on PYTHONPATH."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(code, encoding="utf-8")
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(directory), str(ROOT)])}


# short timeouts and one retry: the failures come quickly
IMPATIENT = {"RETRY_TIMES": 1, "DOWNLOAD_TIMEOUT": 2, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}


def crawl(scrapy_crawl, db_path: Path, urls: list[str], plant: str = "", settings: dict | None = None):
    """The crawl of ``urls``, impatient; ``plant`` is Python run first in each of its processes
    (see planted); ``settings`` more settings."""
    env = planted(plant, db_path.parent / "planted") if plant else None
    return scrapy_crawl(db_path, "url=" + ",".join(urls), settings=IMPATIENT | (settings or {}), check=False, env=env)


def unexpected_tracebacks(stderr: str) -> list[str]:
    """Log records with a traceback, but for the spider's own "Could not parse" (a parser bug
    it records on the page and logs on purpose)."""
    records = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d )", stderr)
    on_purpose = "] ERROR: Could not parse "
    return [record for record in records if "Traceback" in record and on_purpose not in record.split("\n")[0]]


def thread_posts(posts: dict[int, tuple], tid: int) -> dict[int, tuple]:
    """One thread's posts of stored() or visible(): pid -> (tid, floor, author, posted_at)."""
    return {pid: post for pid, post in posts.items() if post[0] == tid}


def page_rows(db: Database) -> dict[str, dict]:
    """The pages table by request target ("/thread-2-1-1.html")."""
    rows = {}
    for row in db["pages"].rows:
        parts = urlsplit(row["url"])
        rows[parts.path + (f"?{parts.query}" if parts.query else "")] = row
    return rows


# Each failure served with its real status code, next to healthy threads ----------------------

REDIRECT_LOOP = {
    "/thread-9-1-1.html": "/forum.php?mod=viewthread&tid=9&from=loop",
    "/forum.php?mod=viewthread&tid=9&from=loop": "/thread-9-1-1.html",
}
FAILURES = {
    "/thread-40-1-1.html": Answer(200, LOGIN_WALL),
    "/thread-41-1-1.html": Answer(200, NO_PERMISSION),
    "/forum-5-1.html": Answer(200, SITE_CLOSED),
    "/thread-42-1-1.html": Answer(200, ANTISCRAPING),
    "/thread-43-1-1.html": Answer(200, EMPTY),
    "/thread-3-1-1.html": Answer(200, TRUNCATED),
    "/thread-4-1-1.html": Answer(403, FORBIDDEN),
    "/thread-5-1-1.html": Answer(500, SERVER_ERROR),
    "/thread-6-1-1.html": Answer(503, UNAVAILABLE, {"Retry-After": "120"}),
    "/thread-8-1-1.html": Answer(200, (SAMPLE / "thread-8-1-1.html").read_bytes(), delay=3),
    "/thread-27-1-1.html": Answer(200, ALL_HIDDEN),
    "/thread-14-1-1.html": Answer(200, WRONG_CHARSET),
}
# Besides those: the deleted thread 7 (404) and the missing forum 99 as the sample forum saved
# them, the redirect loop, thread 10 (the planted parser bug), page 99 of thread 1 (Discuz
# answers with page 5), and thread 2 (3 pages), all healthy.
SEEDS = [
    *FAILURES, "/thread-7-1-1.html", "/forum-99-1.html", "/thread-9-1-1.html", "/thread-10-1-1.html",
    "/thread-1-99-1.html", "/thread-2-1-1.html",
]


def plan_failures(target: str) -> Answer | str | None:
    if target in REDIRECT_LOOP:
        return Answer(302, b"", {"Location": REDIRECT_LOOP[target]})
    if target == "/thread-1-99-1.html":  # as Discuz saved it for ?page=99
        return "/forum.php?mod=viewthread&tid=1&page=99"
    return FAILURES.get(target)


@pytest.fixture(scope="module")
def failures_crawl(tmp_path_factory, scrapy_crawl):
    db_path = tmp_path_factory.mktemp("failures") / "archive.db"
    with HostileForum(plan_failures) as forum:
        result = crawl(scrapy_crawl, db_path, [forum.base_url + seed.lstrip("/") for seed in SEEDS], plant=PARSER_BUG)
    return Database(db_path), result, forum.base_url


# (status, kind, what the error says, what the log line says) for each failing URL
RECORDED = {
    "/thread-7-1-1.html": (404, "missing", "HTTP 404: " + THREAD_MISSING, "(missing)"),
    "/forum-99-1.html": (200, "missing", "抱歉，指定的版块不存在", "(missing)"),
    "/thread-40-1-1.html": (200, "login", "抱歉，您尚未登录，没有权限访问该版块", "(login)"),
    "/thread-41-1-1.html": (200, "login", "抱歉，本帖要求阅读权限高于 10 才能浏览", "(login)"),
    "/forum-5-1.html": (200, "closed", "抱歉，本站点暂时关闭，详情请 联系管理员", "(closed)"),
    "/thread-42-1-1.html": (200, "antiscraping", "防采集 (anti-collection): a script in the page's place", "(antiscraping)"),
    "/thread-43-1-1.html": (200, "empty", "the page is empty", "(empty)"),
    "/thread-3-1-1.html": (200, "broken", "the page is cut short", "(broken)"),
    "/thread-4-1-1.html": (403, "error", "HTTP 403: the server's error page: 403 Forbidden", "(error)"),
    "/thread-5-1-1.html": (500, "error", "HTTP 500: the server's error page: 500 Internal Server Error", "(error)"),
    "/thread-6-1-1.html": (503, "error", "HTTP 503: the server's error page: 503 Service Temporarily Unavailable", "(error)"),
    "/thread-8-1-1.html": (0, "network", "took longer than 2.0 seconds", "No response from"),
    "/thread-9-1-1.html": (0, "network", "max redirections reached", "No response from"),
    "/thread-10-1-1.html": (200, "parse_error", "RuntimeError: a parser bug that only thread 10 meets", "Could not parse"),
}


@pytest.mark.parametrize("target", RECORDED)
def test_each_failure_is_recorded_with_its_status_kind_and_error_and_logged(failures_crawl, target):
    db, result, base_url = failures_crawl
    row = page_rows(db)[target]
    status, kind, error, logged = RECORDED[target]
    assert (row["status"], row["kind"]) == (status, kind)
    assert error in row["error"], row["error"]
    url = base_url + target.lstrip("/")
    lines = [line for line in result.stderr.splitlines() if "] WARNING: " in line or "] ERROR: " in line]
    assert any(url in line and logged in line for line in lines)


def test_the_crawl_goes_on_past_every_failure(failures_crawl):
    db, result, _ = failures_crawl
    assert result.returncode == 0 and unexpected_tracebacks(result.stderr) == []
    assert next(db.query("SELECT outcome, errors FROM crawls")) == {"outcome": "finished", "errors": len(RECORDED)}
    # thread 2, all three pages, exactly as the forum has it
    assert thread_posts(stored(db), 2) == thread_posts(visible(V1), 2)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_wrong_charset_is_read_right_and_recorded(failures_crawl):
    db, result, base_url = failures_crawl
    row = page_rows(db)["/thread-14-1-1.html"]
    assert (row["kind"], row["charset"], row["declared_charset"], row["error"]) == ("thread", "gb18030", "utf-8", None)
    assert f"{base_url}thread-14-1-1.html declares utf-8 but its bytes are gb18030" in result.stderr
    assert db.execute("SELECT title FROM articles WHERE tid = 14").fetchone()[0] == "低价代写各类材料，包过审！"
    assert thread_posts(stored(db), 14) == thread_posts(visible(V1), 14)


def test_a_thread_whose_posts_are_all_hidden_is_archived_with_flags(failures_crawl):
    db, *_ = failures_crawl
    flags = [row[0] for row in db.execute("SELECT flags FROM posts WHERE tid = 27 ORDER BY floor")]
    assert flags == ['["masked"]', '["blocked"]'] * 3 + ['["masked"]']


def test_a_page_past_the_end_is_archived_as_the_last_page(failures_crawl):
    db, *_ = failures_crawl
    row = page_rows(db)["/thread-1-99-1.html"]
    assert (row["status"], row["kind"], row["page"], row["error"]) == (200, "thread", 5, None)
    last_page = parse_thread_page((SAMPLE / "thread-1-5-1.html").read_bytes(), X35 + "thread-1-5-1.html")
    archived = db.execute("SELECT pid FROM posts WHERE tid = 1 ORDER BY floor").fetchall()
    assert [pid for (pid,) in archived] == [post.pid for post in last_page.posts]


# A whole-forum crawl against a server that fails at random ------------------------------------

FAULTS = ("server_error", "cut_page", "cut_transfer", "reset", "slow")
SPARED = {"/robots.txt", "/forum.php"}  # the crawl needs somewhere to start


class RandomFaults:
    """Fails a share of the requests with one of FAULTS. Each (target, attempt) draws from the
    seed, so a run fails the same way whatever order the crawl asks in."""

    def __init__(self, forum: HostileForum, seed: int, share: float):
        self.forum, self.seed, self.share = forum, seed, share
        self.lock = threading.Lock()
        self.history: dict[str, list[str]] = defaultdict(list)  # target: fault per attempt ("" none)

    def plan(self, target: str) -> Answer | None:
        with self.lock:
            attempt = len(self.history[target]) + 1
            draw = random.Random(f"{self.seed}{target}#{attempt}")
            fault = draw.choice(FAULTS) if target not in SPARED and draw.random() < self.share else ""
            self.history[target].append(fault)
        if not fault:
            return None
        status, headers, body = self.forum.respond(target)
        if fault == "server_error":
            return Answer(500, SERVER_ERROR)
        if fault == "cut_page":  # a short page, its length told right: nothing to notice but the page
            return Answer(status, body[: draw.randrange(len(body) * 9 // 10)])
        if fault == "cut_transfer":  # the connection drops before Content-Length bytes came
            return Answer(status, body, headers, sent=draw.randrange(len(body)))
        if fault == "reset":
            return Answer(reset=True)
        return Answer(status, body, headers, delay=3)

    def failed_last(self) -> set[str]:
        return {target for target, faults in self.history.items() if faults[-1]}


@pytest.fixture(scope="module")
def faulty_then_healthy(tmp_path_factory, scrapy_crawl):
    """The whole forum from its index with a quarter of the requests failing, then again
    against the same server, healthy."""
    db_path = tmp_path_factory.mktemp("faults") / "archive.db"
    with HostileForum(lambda target: None) as forum:
        faults = RandomFaults(forum, seed=20261126, share=0.25)
        forum.plan = faults.plan
        first = crawl(scrapy_crawl, db_path, [forum.base_url + "forum.php"])
        after_first = Database(db_path)
        snapshot = (page_rows(after_first), after_first.execute("PRAGMA integrity_check").fetchone()[0])
        forum.plan = lambda target: None
        second = crawl(scrapy_crawl, db_path, [forum.base_url + "forum.php"])
    return Database(db_path), faults, first, snapshot, second


def test_random_faults_are_each_recorded_and_crash_nothing(faulty_then_healthy):
    db, faults, first, (rows, integrity), _ = faulty_then_healthy
    assert first.returncode == 0 and unexpected_tracebacks(first.stderr) == [], first.stderr[-3000:]
    assert integrity == "ok"
    failed = faults.failed_last()
    assert len(failed) >= 5, faults.history  # the seed really breaks things
    assert set(rows) == set(faults.history) - {"/robots.txt"}
    rows.pop("/portal.php", None)  # the portal's probe: this forum has none, its 404 is recorded
    for target, row in rows.items():
        if target in failed:
            assert row["error"] and row["kind"] in ("network", "error", "broken"), (target, row)
        else:
            assert row["error"] is None and row["kind"] in ("index", "forum", "thread"), (target, row)


def test_a_healthy_second_run_completes_the_archive_exactly(faulty_then_healthy):
    db, _, _, _, second = faulty_then_healthy
    assert second.returncode == 0 and unexpected_tracebacks(second.stderr) == [], second.stderr[-3000:]
    assert stored(db) == visible(V1)
    assert db.execute("SELECT count(*), count(DISTINCT pid) FROM posts").fetchone() == (344, 344)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [row["outcome"] for row in db.query("SELECT outcome FROM crawls ORDER BY id")] == ["finished", "finished"]
