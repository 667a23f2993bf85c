"""The sample forum behind Discuz's own defences against CC (flood) attacks and the admin's
防采集, as Discuz! X3.5 on PHP 8 answers: for the crawler's tests, one setting at a time.

The reference is X3.5's source (discuzboard/DiscuzX, release commit 989f774):
``source/include/misc/misc_security.php`` for ``$_config['security']['attackevasive']``, a bit
mask, and ``source/class/discuz/discuz_application.php`` for the cookies; 防采集 is
``source/class/helper/helper_antitheft.php``. What the crawler sees:

- Every Discuz page (not robots.txt, not static files) gets a ``saltkey`` cookie when it sent
  none. Cookie names carry the site's prefix (``xxxx_2132_``). Bits 1 and 4 set ``lastrequest``
  on every answer: the time, sealed with the saltkey, so it is only valid with that saltkey.
- Bit 1: no valid ``lastrequest`` is PHP 8's TypeError in ``TIMESTAMP - ''``: HTTP 503, the
  "Discuz! System Error" page with ``Retry-After: 3600`` (its cookies are set). A request in
  the same whole second as the one that set ``lastrequest`` gets 频繁刷新限制 (200).
- Bit 2: a request with a non-empty proxy header gets 代理服务器访问限制 (200, no reload).
- Bit 4: no ``lastrequest``, or one over 300 s old, gets 页面重载开启 (200).
- Bit 8: without a solved ``visitcode`` (4 hours), a sum to compute and a form; POSTing the
  right answer solves it.
- 防采集 (``antitheft`` = the admin's number): after that many first pages of threads from
  one IP, never reset, those pages are a bare obfuscated script.
- ``jammer``: new random junk in every answer's jammer elements.

The reload pages reload by JavaScript only (no meta refresh, no Location). Time is the
``clock``'s (a ``Clock`` runs faster and can be moved on), so tests need not wait 300 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import string
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlsplit

from sample_forum.server import SampleForum, _Handler

PROXY_HEADERS = ("X-Forwarded-For", "Via", "Proxy-Connection", "User-Agent-Via", "Cache-Info")
# lang_security.php
RATE_LIMIT = ("频繁刷新限制", "您访问本站速度过快或者刷新间隔时间小于两秒！请等待页面自动跳转 ...")
PROXY = ("代理服务器访问限制", "本站现在限制使用代理服务器访问，请去除您的代理设置，直接访问本站。")
RELOAD = ("页面重载开启", "欢迎光临本站，页面正在重新载入，请稍候 ...")
QUESTION_FORM = (
    '<input type="text" name="answer" size="8" maxlength="150" />'
    '<input type="submit" name="secqsubmit" class="button" value=" Submit " />'
)
STATIC = re.compile(r"^/(?:robots\.txt|static/|data/attachment/|uc_server/)")
THREAD_FIRST_PAGE = re.compile(r"^/thread-(\d+)-1-\d+\.html$")
JAMMER = re.compile(r'(<font class="jammer">)(.*?)(</font>)', re.S)
FOUR_HOURS = 4 * 3600


class Clock:
    """The server's time: real time ``speed`` times as fast, plus what ``advance`` added."""

    def __init__(self, speed: float = 1.0):
        self.speed, self.started, self.offset = speed, time.time(), 0.0

    def __call__(self) -> float:
        return self.started + (time.time() - self.started) * self.speed + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class Logged:
    """One request as the server saw it: when (its clock), what, and what it answered."""

    at: float
    method: str
    path: str
    proxy_headers: tuple[str, ...]
    answer: str  # page, static, system_error, rate_limit, proxy, reload, question, antitheft


class DefendedForum(SampleForum):
    """A SampleForum behind ``attackevasive`` (a bit mask, e.g. 1 | 4), ``antitheft`` (views
    allowed an IP; 0: off) and ``jammer``. ``proxy_on_the_way``: every request arrives as a
    proxy would pass it (with Via). ``log`` lists the requests; ``cookies_set`` the values set."""

    def __init__(self, version="v1", attackevasive=0, antitheft=0, jammer=False, proxy_on_the_way=False,
                 clock=None, cookiepre="xxxx_", **options):
        super().__init__(version, **options)
        self._httpd.RequestHandlerClass = _DefendedHandler
        self.attackevasive, self.antitheft, self.jammer = attackevasive, antitheft, jammer
        self.proxy_on_the_way = proxy_on_the_way
        self.clock = clock or time.time
        self.prefix = cookiepre + hashlib.md5(b"/|").hexdigest()[:4] + "_"  # cookiepath '/', no domain
        self.authkey = "".join(random.choices(string.ascii_letters, k=16))
        self.log: list[Logged] = []
        self.cookies_set: list[tuple[str, str]] = []
        self._views: dict[str, int] = {}  # 防采集's common_visit: first pages seen per IP
        self._guard = threading.Lock()

    def defended(self, method, target, headers, ip, form):
        """(status, headers as a list of pairs, body) for one request."""
        with self._guard:
            now = self.clock()
            set_cookies: list[tuple[str, str]] = []
            answer, result = self._defend(method, target, headers, ip, form, int(now), set_cookies)
            proxies = tuple(name for name in PROXY_HEADERS if headers.get(name))
            self.log.append(Logged(now, method, target, proxies, answer))
        status, pairs, body = result
        return status, pairs + [("Set-Cookie", self._cookie_line(*cookie)) for cookie in set_cookies], body

    def _defend(self, method, target, headers, ip, form, ts, set_cookies):
        path, _, query = target.partition("?")
        if STATIC.match(path):
            return "static", self._page(target)
        cookies = {name[len(self.prefix):]: morsel.value for name, morsel in SimpleCookie(headers.get("Cookie") or "").items()
                   if name.startswith(self.prefix)}
        saltkey = cookies.get("saltkey")
        if not saltkey:
            saltkey = "".join(random.choices(string.ascii_letters + string.digits, k=8))
            set_cookies.append(("saltkey", saltkey, 86400 * 30))
        bits = self.attackevasive
        params = dict(parse_qsl(query))
        if bits and params.get("mod") not in ("seccode", "secqaa", "swfupload"):
            ajax = bool(params.get("inajax"))
            last = self._unseal(cookies.get("lastrequest"), saltkey)
            last = int(last) if last and last.isdigit() else None
            if bits & 1 or bits & 4:  # its life is TIMESTAMP + 816400, which dsetcookie adds to TIMESTAMP again
                set_cookies.append(("lastrequest", self._seal(str(ts), saltkey), ts + 816400))
            if bits & 1:
                if last is None:  # PHP 8: TIMESTAMP - '' throws, and Discuz shows its error page
                    return "system_error", system_error(headers.get("Host") or "", ts)
                if ts - last < 1:
                    return "rate_limit", security_message(*RATE_LIMIT, ajax=ajax)
            if bits & 2 and (self.proxy_on_the_way or any(headers.get(name) for name in PROXY_HEADERS)):
                return "proxy", security_message(*PROXY, reload=False, ajax=ajax)
            if bits & 4 and (last is None or ts - last > 300):
                return "reload", security_message(*RELOAD, ajax=ajax)
            if bits & 8 and not self._visit_solved(cookies, saltkey, ts, method, form, set_cookies):
                terms = [random.randint(1, 20) for _ in range(random.randint(2, 5))]
                solution = hashlib.md5(str(sum(terms)).encode()).hexdigest()
                set_cookies.append(("visitcode", self._seal(f"{solution}|0|{ts}", saltkey), ts + 816400))
                question = " + ".join(map(str, terms)) + " = ?"
                return "question", security_message(question, QUESTION_FORM, reload=False, form=path, ajax=ajax)
        first_page = THREAD_FIRST_PAGE.match(path)
        viewthread = params.get("mod") == "viewthread" and params.get("page", "1") == "1"
        tid = first_page[1] if first_page else params.get("tid") if viewthread else None
        if self.antitheft and tid:  # forum_viewthread.php checks page 1 only
            sign = hashlib.md5(f"{tid}tid{self.authkey}".encode()).hexdigest()[:8]
            if params.get("_dsign") != sign:
                views = self._views.get(ip, 0)
                if views >= self.antitheft:
                    return "antitheft", antitheft_page(target, sign)
                self._views[ip] = views + 1
        if "sid" not in cookies:
            set_cookies.append(("sid", "".join(random.choices(string.ascii_letters + string.digits, k=6)), 86400))
        if "lastvisit" not in cookies:
            set_cookies.append(("lastvisit", str(ts - 3600), 86400 * 30))
        set_cookies.append(("lastact", quote(f"{ts}\t{path.lstrip('/') or 'forum.php'}\t{params.get('mod', '')}"), 86400))
        return "page", self._page(target)

    def _visit_solved(self, cookies, saltkey, ts, method, form, set_cookies) -> bool:
        code, check, when = (self._unseal(cookies.get("visitcode"), saltkey) or "||").split("|")[:3]
        if code and check == "1" and when.isdigit() and ts - int(when) <= FOUR_HOURS:
            return True
        answer = form.get("answer", "")
        if method == "POST" and form.get("secqsubmit") and code and code == hashlib.md5(answer.encode()).hexdigest():
            set_cookies.append(("visitcode", self._seal(f"{code}|1|{ts}", saltkey), ts + 816400))
            return True
        return False

    def _page(self, target):
        status, headers, body = self.respond(target)
        if self.jammer and headers.get("Content-Type", "").startswith("text/html"):
            body = JAMMER.sub(lambda m: m[1] + _junk() + m[3], body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
            headers["Content-Length"] = str(len(body))
        return status, list(headers.items()), body

    def _seal(self, text: str, saltkey: str) -> str:
        """authcode(…, 'ENCODE') with the authkey of this saltkey: readable only with it."""
        return base64.urlsafe_b64encode(self._mac(text, saltkey) + text.encode()).decode().rstrip("=")

    def _unseal(self, value: str | None, saltkey: str) -> str | None:
        """authcode(…, 'DECODE'): None for a value sealed with another saltkey, or none."""
        try:
            raw = base64.urlsafe_b64decode((value or "") + "=" * (-len(value or "") % 4))
            text = raw[6:].decode()
        except ValueError:
            return None
        return text if raw and hmac.compare_digest(raw[:6], self._mac(text, saltkey)) else None

    def _mac(self, text: str, saltkey: str) -> bytes:
        return hmac.new(f"{self.authkey}{saltkey}".encode(), text.encode(), "sha256").digest()[:6]

    def _cookie_line(self, name: str, value: str, life: int) -> str:
        self.cookies_set.append((name, value))
        expires = formatdate(time.time() + life, usegmt=True)
        return f"{self.prefix}{name}={value}; expires={expires}; Max-Age={life}; path=/; HttpOnly"


class _DefendedHandler(_Handler):
    server_version = "nginx"

    def do_GET(self):
        self._answer({})

    def do_HEAD(self):
        self._answer({})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace"))))

    def _answer(self, form):
        forum = self.server.forum
        forum._record(self.path)
        status, headers, body = forum.defended(self.command, self.path, self.headers, self.client_address[0], form)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def security_message(subject: str, message: str, reload: bool = True, form: str | None = None, ajax: bool = False):
    """misc_security.php's securitymessage(): (status, headers, body)."""
    if ajax:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<root><![CDATA['
            f'<div id="attackevasive_1" class="popupmenu_option"><b style="font-size: 16px">{subject}</b><br /><br />{message}</div>]]></root>'
        )
        return 200, [("Content-Type", "application/xml; charset=utf-8")], body.encode()
    parts = [
        # $_G['charset'] is set after the check: the meta tag names no charset
        "<html>", "<head>", '<meta charset="" />', '<meta name="renderer" content="webkit" />',
        '<meta http-equiv="X-UA-Compatible" content="IE=edge" />', f"<title>{subject}</title>", "</head>",
        '<body bgcolor="#FFFFFF">',
    ]
    if reload:
        parts += ['<script language="JavaScript">', "function reload() {", "\tdocument.location.reload();", "}",
                  'setTimeout("reload()", 1001);', "</script>"]
    if form:
        parts.append(f'<form action="{form}" method="post" autocomplete="off">')
    parts += [
        '<table cellpadding="0" cellspacing="0" border="0" width="700" align="center" height="85%">',
        '  <tr align="center" valign="middle">', "    <td>",
        '    <table cellpadding="10" cellspacing="0" border="0" width="80%" align="center" style="font-family: Verdana, Tahoma; color: #666666; font-size: 11px">',
        "    <tr>", '      <td valign="middle" align="center" bgcolor="#EBEBEB">',
        f'     \t<br /><br /> <b style="font-size: 16px">{subject}</b> <br /><br />', message, "        <br /><br />",
        "      </td>", "    </tr>", "    </table>", "    </td>", "  </tr>", "</table>",
    ]
    if form:
        parts.append("</form>")
    parts += ["</body>", "</html>"]
    body = "".join(parts).encode()
    return 200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))], body


def system_error(host: str, ts: int):
    """discuz_error::show_error() for the TypeError: 503, Retry-After: 3600."""
    moment = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(ts))
    body = (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f"\t<title>{host} - System Error</title>\n\t<meta charset=\"utf-8\" />\n"
        '\t<meta name="ROBOTS" content="NOINDEX,NOFOLLOW,NOARCHIVE" />\n</head>\n<body>\n<div id="container">\n'
        "<h1>Discuz! System Error</h1>\n"
        f"<p>Time: {moment} IP: 127.0.0.1 BackTraceID: {hashlib.md5(str(ts).encode()).hexdigest()[:16]}</p>"
        "<div class=\"info\">Unsupported operand types: int - string</div>\n</div>\n</body>\n</html>"
    ).encode()
    return 503, [("Content-Type", "text/html; charset=utf-8"), ("Retry-After", "3600"), ("Content-Length", str(len(body)))], body


def antitheft_page(target: str, sign: str):
    """helper_antitheft::make_js(): the same URL plus _dsign, cut into pieces, sent by script."""
    parts = urlsplit(target)
    url = f"{parts.path}?{parts.query + '&' if parts.query else ''}_dsign={sign}"
    cut = [url[i : i + 4] for i in range(0, len(url), 4)]
    names = ["_" + "".join(random.choices(string.ascii_letters, k=5)) for _ in cut]
    codes = [f"function {name}(){{'return {name}';return '{piece}'}}" for name, piece in zip(names, cut)]
    random.shuffle(codes)
    body = ('<script type="text/javascript">_w = window;_l = location;_h = \'href\';' + ";".join(codes)
            + ";_l[_h]=" + "+".join(f"{name}()" for name in names) + ";</script>").encode()
    return 200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))], body


def _junk() -> str:
    """Discuz's jammer(): 5-15 groups of a character from ' '..';', a space, one from '?'..'~'."""
    groups = (chr(random.randint(32, 59)) + " " + chr(random.randint(63, 126)) for _ in range(random.randint(5, 15)))
    return "".join(groups).replace("&", "&amp;")
