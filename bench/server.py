"""Serve a synthetic forum (bench.synth) on 127.0.0.1: nginx when installed, else Python.

nginx (Debian's ``nginx`` / ``nginx-light``) runs in the foreground (``daemon off``) with a
generated config, one worker, sendfile, an access log of ``$request_uri $status`` lines the
bench reads to count requests. Without nginx a ThreadingHTTPServer serves the same files
(much slower: the crawl figures then say more about that server than about the crawler, and
the bench says so in its output).
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NGINX_CONF = """
worker_processes 1;
daemon off;
{user}
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type text/html;
    charset utf-8;
    log_format bench '$request_uri $status $body_bytes_sent';
    access_log {work}/access.log bench buffer=64k flush=1s;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    open_file_cache max={cached_files} inactive=60s;
    client_body_temp_path {work}/client_temp;
    proxy_temp_path {work}/proxy_temp;
    fastcgi_temp_path {work}/fastcgi_temp;
    uwsgi_temp_path {work}/uwsgi_temp;
    scgi_temp_path {work}/scgi_temp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = / {{ try_files /forum.php.html =404; }}
        location = /forum.php {{ try_files /forum.php.html =404; }}
        location ~ ^/thread-(\d+)-(\d+)-\d+\.html$ {{ try_files $uri /thread-$1-$2-1.html =404; }}
    }}
}}
"""


def _cached_files() -> int:
    """The open file cache's size: each cached file holds a descriptor, and over the process's
    limit nginx answers 500 ("Too many open files") to the crawls being measured."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(100, min(50_000, soft // 2)) if soft != resource.RLIM_INFINITY else 50_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class StaticServer:
    """``with StaticServer(root, port) as server:`` serves ``root``; ``server.kind`` is
    "nginx" or "python"; ``server.requests()`` lists the request targets seen so far."""

    def __init__(self, root: str | Path, port: int, work: str | Path, prefer_nginx: bool = True):
        self.root = Path(root)
        self.port = port
        self.work = Path(work)
        self.nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        self.kind = "nginx" if (self.nginx and prefer_nginx) else "python"
        self._process: subprocess.Popen | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._python_log: list[str] = []
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        if self.kind != "nginx":
            return "Python ThreadingHTTPServer (nginx not installed)"
        out = subprocess.run([self.nginx, "-v"], capture_output=True, text=True)
        return (out.stderr or out.stdout).strip().replace("nginx version: ", "")

    def __enter__(self) -> StaticServer:
        self.work.mkdir(parents=True, exist_ok=True)
        if self.kind == "nginx":
            user = "user root root;" if os.geteuid() == 0 else ""
            conf = self.work / "nginx.conf"
            conf.write_text(NGINX_CONF.format(user=user, work=self.work, port=self.port, root=self.root,
                                              cached_files=_cached_files()))
            self._process = subprocess.Popen(
                [self.nginx, "-c", str(conf), "-p", str(self.work), "-e", str(self.work / "error.log")],
                stdout=subprocess.DEVNULL,
                stderr=open(self.work / "nginx.stderr", "w"),
            )
        else:
            self._start_python()
        _wait_listening(self.port)
        return self

    def _start_python(self) -> None:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            extensions_map = {".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8", "": "text/html"}

            def translate_path(self, path):
                target = path.split("?", 1)[0]
                if target in ("/", "/forum.php"):
                    path = "/forum.php.html"
                return super().translate_path(path)

            def log_request(self, code="-", size="-"):
                with server._lock:
                    server._python_log.append(f"{self.path} {code} -")

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.daemon_threads = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), partial(Handler, directory=str(self.root)))
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def requests(self) -> list[str]:
        """Request lines ("/forum-2-1.html 200 31063") logged so far."""
        if self.kind == "nginx":
            time.sleep(1.2)  # the access log is flushed every second
            log = self.work / "access.log"
            return log.read_text().splitlines() if log.exists() else []
        with self._lock:
            return list(self._python_log)

    def __exit__(self, *exc) -> None:
        if self._process is not None:
            self._process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
