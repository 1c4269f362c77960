"""A plain file server on 127.0.0.1 standing in for GitHub (or any URL source), for pull
tests without the internet; point ``CRITIQUE_URL_MIRROR`` at ``server.url``.

``GET``/``HEAD`` of a path added with :meth:`UrlStandIn.add` answers the bytes with
``Content-Length``; any other path answers 404. ``server.drop[path] = True`` makes a GET
of that path close the connection after half of its bytes (a dropped connection); set it
to False to heal the network. ``server.requests`` lists what was asked.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class UrlStandIn:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.drop: dict[str, bool] = {}
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)  # a quick shutdown

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, data: bytes) -> None:
        """Serve ``data`` at ``path`` (the URL's path, e.g. ``/owner/repo/raw/commit/f``)."""
        self.files["/" + unquote(path).lstrip("/")] = data

    def start(self) -> UrlStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler(server: UrlStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet test output
            pass

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, *, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            server.requests.append(f"{self.command} {path}")
            data = server.files.get(path)
            if data is None:
                body = b"Not Found"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            if head:
                self.end_headers()
                return
            if server.drop.get(path):
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.end_headers()
            self.wfile.write(data)

    return Handler
