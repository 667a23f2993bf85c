"""What a forum's guest cookies cost the crawl (spiders.guest_cookies), which the main bench
never sees: its nginx sets no cookie, and a real Discuz forum sets some on every page.

Two measures, CPU time, medians of alternating rounds (the machine is shared):

- ``micro``: ``GuestCookies.process_request`` + ``process_response`` per page, in-process,
  with the Set-Cookie lines Discuz X sends (``<prefix>_saltkey``, ``_lastvisit``, ``_sid``,
  ``_lastact``; PHP's ``expires=…; Max-Age=…; path=/``), two ways: all four on every page,
  and as ``sample_forum.defences`` answers a visitor that sends them back (the four once, then
  ``lastact`` alone); each at one page a second of Discuz's clock (every answer's lines new)
  and at 300 (a fast crawl: the same lines again within the second).
- ``crawl``: ``scrapy crawl discuz`` of a synthetic forum (bench.synth) served by nginx as
  ``python -m bench`` serves it, and by the same nginx adding the four Set-Cookie lines to
  every answer (``lastact`` carries the second): the crawl's CPU ms a page (bench.crawl.run).

``python -m bench.cookie_bench [--pages 2000] [--rounds 3] [--work DIR] [--micro-only]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

from bench import crawl, server
from bench.__main__ import build_forum, discuz_command

PREFIX = "pDa2_2132_"

# the same four cookies, from nginx: lastact's time is the request's second, as Discuz's TIMESTAMP
COOKIE_HEADERS = f"""
        add_header Set-Cookie "{PREFIX}saltkey=Xy7k9QzA; expires=Thu, 07-Jan-2027 11:00:00 GMT; Max-Age=2592000; path=/; HttpOnly";
        add_header Set-Cookie "{PREFIX}lastvisit=1796986800; expires=Thu, 07-Jan-2027 11:00:00 GMT; Max-Age=2592000; path=/";
        add_header Set-Cookie "{PREFIX}sid=a1B2c3; expires=Tue, 08-Dec-2026 11:00:00 GMT; Max-Age=86400; path=/";
        add_header Set-Cookie "{PREFIX}lastact=$bench_seconds%09forum.php%09viewthread; expires=Tue, 08-Dec-2026 11:00:00 GMT; Max-Age=86400; path=/";
"""


class CookieServer(server.StaticServer):
    """bench.server's nginx, every answer with Discuz's four Set-Cookie lines."""

    def __enter__(self):
        if self.kind != "nginx":
            raise SystemExit("cookie_bench needs nginx")
        original = server.NGINX_CONF
        server.NGINX_CONF = original.replace(  # and the access log says what each request sent back
            "'$request_uri $status $body_bytes_sent'", "'$request_uri $status $body_bytes_sent \"$http_cookie\"'"
        ).replace(
            "    server {{", "    map $msec $bench_seconds {{ \"~^(?<s>\\d+)\\.\" $s; }}\n    server {{", 1
        ).replace("        root {root};", "        root {root};" + COOKIE_HEADERS.replace("{", "{{").replace("}", "}}"), 1)
        try:
            return super().__enter__()
        finally:
            server.NGINX_CONF = original


def discuz_set_cookies(ts: int, first: bool, every: bool) -> list[str]:
    def expires(life: int) -> str:
        return formatdate(ts + life, usegmt=True)

    lines = []
    if first or every:
        lines += [f"{PREFIX}saltkey=Xy7k9QzA; expires={expires(2592000)}; Max-Age=2592000; path=/; HttpOnly",
                  f"{PREFIX}lastvisit={ts - 3600}; expires={expires(2592000)}; Max-Age=2592000; path=/",
                  f"{PREFIX}sid=a1B2c3; expires={expires(86400)}; Max-Age=86400; path=/"]
    lines.append(f"{PREFIX}lastact={ts}%09forum.php%09viewthread; expires={expires(86400)}; Max-Age=86400; path=/")
    return lines


def micro_round(pages: int, every: bool, per_second: int) -> float:
    """µs of CPU a page for process_request + process_response; ``per_second`` pages share
    one second of Discuz's clock (lastact's value)."""
    from scrapy import Request
    from scrapy.http import HtmlResponse

    from spiders.guest_cookies import GuestCookies

    cookies = GuestCookies()
    start = int(time.time())
    requests = [Request(f"http://127.0.0.1:8081/thread-{1000 + n}-1-1.html") for n in range(pages)]
    answers = [HtmlResponse(request.url, request=request, body=b"",
                            headers={"Set-Cookie": discuz_set_cookies(start + n // per_second, n == 0, every)})
               for n, request in enumerate(requests)]
    began = time.process_time()
    for request, answer in zip(requests, answers):
        cookies.process_request(request)
        cookies.process_response(request, answer)
    return (time.process_time() - began) / pages * 1e6


def micro(rounds: int) -> None:
    cases = [(every, per_second) for every in (True, False) for per_second in (1, 300)]
    seen = {case: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            seen[case].append(micro_round(5000, *case))
    for (every, per_second), values in seen.items():
        what = "4 cookies every page" if every else "4 once, then lastact"
        print(f"micro: {what}, {per_second} page(s) a second: {statistics.median(values):.1f} µs a page "
              f"(rounds: {', '.join(f'{v:.1f}' for v in values)})")


def crawls(pages: int, rounds: int, work: Path) -> None:
    forum, port = build_forum(work, "forum", pages)
    seen = {"no cookies": [], "Discuz's 4 Set-Cookie": []}
    for n in range(rounds):
        for name, kind in (("no cookies", server.StaticServer), ("Discuz's 4 Set-Cookie", CookieServer)):
            with kind(work / "forum", port, work / f"nginx-{n}-{len(seen[name])}-{kind.__name__}") as served:
                db, log = work / "crawl.db", work / f"crawl-{n}-{kind.__name__}.log"
                crawl.remove_archive(db)
                result = crawl.run(name, discuz_command(forum, db, log, 16), log, served)
                sent_back = sum(f"{PREFIX}lastact=" in line for line in served.requests())
            per_page = result["cpu_seconds"] / result["pages"] * 1000 if result["pages"] else float("nan")
            seen[name].append(per_page)
            print(f"crawl round {n + 1}, {name}: {result['pages']} pages, exit {result['exit']}, "
                  f"{per_page:.3f} CPU ms a page; {sent_back} requests sent the forum's cookies back", flush=True)
    for name, values in seen.items():
        print(f"crawl: {name}: median {statistics.median(values):.3f} CPU ms a page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work")
    parser.add_argument("--micro-only", action="store_true")
    args = parser.parse_args()
    micro(max(args.rounds, 5))
    if not args.micro_only:
        with tempfile.TemporaryDirectory(prefix="cookie-bench-") as temp:
            crawls(args.pages, args.rounds, Path(args.work or temp))


if __name__ == "__main__":
    main()
