"""A stand-in for the Hugging Face Hub on 127.0.0.1, for pull tests without the internet.

It speaks the part of the Hub's protocol that ``huggingface_hub.snapshot_download``
uses (checked against huggingface_hub 2.4's ``hf_api.py`` and ``file_download.py``):

- ``GET /api/models/{repo}/revision/{rev}``: model info with ``sha`` and ``siblings``;
  an unknown repo or revision answers 404 with ``X-Error-Code`` RepoNotFound /
  RevisionNotFound, as the Hub does;
- ``GET /api/models/{repo}/tree/{commit}``: the file listing (path, size, git blob
  ``oid``, and ``lfs`` {oid, size} for large files);
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: the file, with ``X-Repo-Commit``,
  ``ETag`` (git blob id) and ``Content-Length``, plus ``X-Linked-Etag`` (sha256) and
  ``X-Linked-Size`` for LFS-like files; ``Range`` requests resume a download.

``hub.drop[path] = True`` makes every GET of that file close the connection after
half of its bytes (a dropped connection); set it to False to heal the network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from tests.helpers.local_server import LocalServer, QuietHandler

LFS_FROM = 1024  # files at least this big are served like LFS files (sha256 ETag)


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> files
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit

    def resolve(self, revision: str) -> str | None:
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


class HubStandIn(LocalServer):
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        super().__init__(_handler(self))

    def add(self, repo: str, commit: str, files: dict[str, bytes],
            branch: str | None = "main") -> None:
        """Serve ``files`` as ``repo`` at ``commit`` (and as ``branch``, when given)."""
        entry = self.repos.setdefault(repo, Repo())
        entry.commits[commit] = dict(files)
        if branch:
            entry.refs[branch] = commit


def _handler(hub: HubStandIn):
    class Handler(QuietHandler):
        def _answer(self, *, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append(f"{self.command} {path}")
            parts = path.strip("/").split("/")
            if parts[:2] == ["api", "models"] and len(parts) >= 6:
                repo, kind, revision = "/".join(parts[2:4]), parts[4], parts[5]
                if kind == "revision":
                    return self._model_info(repo, revision)
                if kind == "tree":
                    return self._tree(repo, revision)
            if len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), head)
            self._error(404, "EntryNotFound", f"no route {path}")

        def _commit(self, repo: str, revision: str) -> tuple[str, dict[str, bytes]] | None:
            entry = hub.repos.get(repo)
            if entry is None:
                self._error(404, "RepoNotFound", f"Repository {repo} not found")
                return None
            commit = entry.resolve(revision)
            if commit is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                return None
            return commit, entry.commits[commit]

        def _model_info(self, repo: str, revision: str) -> None:
            found = self._commit(repo, revision)
            if found:
                commit, files = found
                self._json({"id": repo, "modelId": repo, "sha": commit, "private": False,
                            "siblings": [{"rfilename": name} for name in sorted(files)]})

        def _tree(self, repo: str, revision: str) -> None:
            found = self._commit(repo, revision)
            if found:
                listing = []
                for name, data in sorted(found[1].items()):
                    item = {"type": "file", "path": name, "size": len(data),
                            "oid": git_blob_id(data)}
                    if len(data) >= LFS_FROM:
                        item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(),
                                       "size": len(data), "pointerSize": 134}
                    listing.append(item)
                self._json(listing)

        def _resolve(self, repo: str, revision: str, name: str, head: bool) -> None:
            found = self._commit(repo, revision)
            if not found:
                return
            commit, files = found
            if name not in files:
                self._error(404, "EntryNotFound", f"{name} does not exist at {commit}",
                            commit=commit)
                return
            data = files[name]
            start = 0
            ranged = self.headers.get("Range", "")
            if ranged.startswith("bytes=") and not head:
                start = int(ranged[6:].split("-")[0] or 0)
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{git_blob_id(data)}"')
            if len(data) >= LFS_FROM:
                self.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Linked-Size", str(len(data)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            if head:
                self.end_headers()
                return
            if hub.drop.get(name):
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.end_headers()
            self.wfile.write(body)

        def _json(self, payload) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str, *, commit: str | None = None):
            data = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler
