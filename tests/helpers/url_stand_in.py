"""A plain file server on 127.0.0.1 standing in for GitHub (or any URL source), for pull
tests without the internet; point ``CRITIQUE_URL_MIRROR`` at ``server.url``.

``GET``/``HEAD`` of a path added with :meth:`UrlStandIn.add` answers the bytes with
``Content-Length``; any other path answers 404. ``server.drop[path] = True`` makes a GET
of that path close the connection after half of its bytes (a dropped connection); set it
to False to heal the network. ``server.requests`` lists what was asked.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from tests.helpers.local_server import LocalServer, QuietHandler


class UrlStandIn(LocalServer):
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        super().__init__(_handler(self))

    def add(self, path: str, data: bytes) -> None:
        """Serve ``data`` at ``path`` (the URL's path, e.g. ``/owner/repo/raw/commit/f``)."""
        self.files["/" + unquote(path).lstrip("/")] = data


def _handler(server: UrlStandIn):
    class Handler(QuietHandler):
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
