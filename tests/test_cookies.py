"""Member-only boards: a browser's cookies.txt opens them, and its cookies go nowhere else."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlite_utils import Database

ROOT = Path(__file__).parent.parent
SECRET = "c0ffee-SECRET-auth-token-42"
THREAD = (ROOT / "sample_forum/v1/thread-14-1-1.html").read_bytes()
# The sample forum's real message page (thread-7-1-1.html), with the message Discuz shows a
# guest on a member-only board.
LOGIN_WALL = (
    (ROOT / "sample_forum/v1/thread-7-1-1.html")
    .read_text(encoding="utf-8")
    .replace("抱歉，指定的主题不存在或已被删除或正在被审核", "抱歉，您尚未登录，没有权限访问该版块")
    .encode("utf-8")
)


class MembersOnly(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/robots.txt":
            self.send_response(404)
            self.end_headers()
            return
        member = f"cdb_auth={SECRET}" in (self.headers.get("Cookie") or "")
        body = THREAD if member else LOGIN_WALL
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def board():
    server = ThreadingHTTPServer(("127.0.0.1", 0), MembersOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


DEBUG = {"LOG_LEVEL": "DEBUG"}  # every line a crawl can log, to look for the secret in


def test_cookies_open_a_member_only_board_and_never_reach_archive_or_logs(board, tmp_path, scrapy_crawl):
    cookies = tmp_path / "cookies.txt"
    host = "127.0.0.1"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n"
        f"{host}\tFALSE\t/\tFALSE\t0\tcdb_auth\t{SECRET}\n",
        encoding="utf-8",
    )
    db_path = tmp_path / "archive.db"
    result = scrapy_crawl(db_path, f"url={board}thread-14-1-1.html", f"cookies={cookies}", settings=DEBUG, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    db = Database(db_path)
    assert next(db["pages"].rows)["kind"] == "thread"
    assert db["articles"].get((f"127.0.0.1:{board.rsplit(':', 1)[1].strip('/')}", 14))["title"] == "低价代写各类材料，包过审！"
    assert SECRET not in result.stderr and SECRET not in result.stdout
    for file in tmp_path.glob("archive.db*"):
        assert SECRET.encode() not in file.read_bytes(), file


def test_without_cookies_the_login_wall_is_recorded(board, tmp_path, scrapy_crawl):
    db_path = tmp_path / "archive.db"
    result = scrapy_crawl(db_path, f"url={board}thread-14-1-1.html", settings=DEBUG, check=False)
    assert result.returncode == 1  # nothing could be archived
    page = next(Database(db_path)["pages"].rows)
    assert (page["kind"], page["error"]) == ("login", "抱歉，您尚未登录，没有权限访问该版块")


def test_an_unreadable_cookies_file_stops_the_run_with_a_clear_message(tmp_path, scrapy_crawl):
    bad = tmp_path / "cookies.txt"
    bad.write_text("not a cookies file\n", encoding="utf-8")
    result = scrapy_crawl(tmp_path / "a.db", "url=http://127.0.0.1:9/thread-1-1-1.html", f"cookies={bad}", settings=DEBUG, check=False)
    assert result.returncode == 2  # a bad argument (spiders.arguments.check)
    assert "not a cookies.txt (Netscape format)" in result.stderr
    assert "not a cookies file" not in result.stderr  # the line may hold a cookie's value: never quoted
