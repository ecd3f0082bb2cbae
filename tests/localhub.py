"""A local Hugging Face Hub: a loopback HTTP server answering what ``huggingface_hub`` asks
when it downloads a model, so the real client can be tested without the real Hub.

Point a process at it with ``HF_ENDPOINT=<hub.url>`` in its environment before it imports
``huggingface_hub`` (which reads the endpoint once, at import). Standard library only.

What it answers, as the Hub does:

1. ``GET /api/models/{repo}[/revision/{rev}]``: the repo's id, commit sha and file list
   (``?blobs=true`` adds sizes, blob ids and LFS sha256s).
2. ``GET /api/models/{repo}/tree/{rev}[/{path}]``: the file list ``snapshot_download`` reads.
3. ``HEAD|GET /{repo}/resolve/{rev}/{path}``: a small file directly (``ETag`` = its git blob
   sha1, ``X-Repo-Commit``); an LFS file (``*.onnx``, ``*.onnx_data``, ``*.safetensors``, or
   10 MiB and more) by a 302 to a second loopback server standing for the CDN (another origin,
   so the client reads the metadata from the 302: ``X-Linked-Etag`` = sha256,
   ``X-Linked-Size``). Files are streamed from disk.
4. A renamed repo (``add_redirect``): 307 with a relative ``Location`` on every path.
5. Errors as 404s with ``X-Error-Code`` RepoNotFound / RevisionNotFound / EntryNotFound, which
   the client turns into RepositoryNotFoundError, RevisionNotFoundError and
   RemoteEntryNotFoundError.
6. ``GET /api/agent-harnesses`` (the client builds its user agent from it): an empty list.

No ``X-Xet-*`` header is ever sent, so the client takes the plain HTTP path even with
``hf_xet`` installed. Every request is logged (``requests``), on both servers.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

__all__ = ["LocalHub", "files_of"]

CHUNK = 1 << 20
LFS_PATTERNS = ("*.onnx", "*.onnx_data", "*.onnx.data", "*.safetensors", "*.bin", "*.model")
LFS_THRESHOLD = 10 << 20  # the Hub keeps bigger files in LFS


def files_of(directory: Path, rename: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Every file under ``directory`` by its path in the repo (``a/b.json``); ``rename`` maps
    a local path to the repo path it is published at."""
    rename = rename or {}
    return {rename.get(rel, rel): p for p in sorted(directory.rglob("*")) if p.is_file() for rel in [p.relative_to(directory).as_posix()]}


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def _pointer(sha256: str, size: int) -> bytes:
    """The git LFS pointer file that stands in git for an LFS file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class _File:
    path: str
    source: Path
    size: int
    oid: str  # git blob sha1 of the content, or of the LFS pointer
    sha256: str | None  # LFS files only

    @property
    def etag(self) -> str:
        return self.sha256 or self.oid

    @staticmethod
    def of(path: str, source: Path) -> _File:
        size = source.stat().st_size
        lfs = size >= LFS_THRESHOLD or any(fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) for p in LFS_PATTERNS)
        if not lfs:
            h = hashlib.sha1(b"blob %d\0" % size)
            for chunk in _chunks(source):
                h.update(chunk)
            return _File(path, source, size, h.hexdigest(), None)
        sha = hashlib.sha256()
        for chunk in _chunks(source):
            sha.update(chunk)
        pointer = _pointer(sha.hexdigest(), size)
        return _File(path, source, size, hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest(), sha.hexdigest())

    def tree_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.sha256:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": len(_pointer(self.sha256, self.size))}
        return entry


class LocalHub:
    """The Hub on 127.0.0.1 (a random port) and its CDN (another). A context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._repos: dict[str, tuple[str, dict[str, _File]]] = {}  # id -> (commit, files at main)
        self._redirects: dict[str, str] = {}
        self._blobs: dict[str, _File] = {}
        self._log: list[tuple[str, str]] = []
        self._servers: list[ThreadingHTTPServer] = []
        self.url = self.cdn_url = ""

    def __enter__(self) -> LocalHub:
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            server.hub, server.role = self, role  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self._servers.append(server)
            setattr(self, "url" if role == "hub" else "cdn_url", f"http://127.0.0.1:{server.server_address[1]}")
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # ---- content -------------------------------------------------------------------------------

    def add_repo(self, repo: str, files: Mapping[str, Path]) -> str:
        """Publishes ``files`` (repo path -> local file) as ``repo`` at ``main``; returns the
        commit sha (derived from the content)."""
        built = {path: _File.of(path, Path(src)) for path, src in files.items()}
        h = hashlib.sha1(repo.encode())
        for path in sorted(built):
            h.update(f"{path}\0{built[path].etag}\0".encode())
        commit = h.hexdigest()
        with self._lock:
            self._repos[repo] = (commit, built)
            self._blobs.update({f.sha256: f for f in built.values() if f.sha256})
        return commit

    def add_redirect(self, old: str, new: str) -> None:
        """``old`` was renamed ``new``: every path of ``old`` answers 307."""
        with self._lock:
            self._redirects[old] = new

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request so far, hub and CDN, in arrival order."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forgets the requests so far."""
        with self._lock:
            self._log.clear()

    # ---- answers -------------------------------------------------------------------------------

    def handle(self, h: _Handler, role: str) -> None:
        path, _, query = h.path.partition("?")
        with self._lock:
            self._log.append((h.command, unquote(path) + (f"?{unquote(query)}" if query else "")))
        if role == "cdn":
            m = re.fullmatch(r"/lfs/([0-9a-f]{64})", path)
            with self._lock:
                blob = self._blobs.get(m.group(1)) if m else None
            return h.send_file(blob, {}) if blob else h.reply(404, b"NoSuchKey")
        if path == "/api/agent-harnesses":
            return h.reply(200, {"standardEnvVars": [], "harnesses": {}})
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/(revision|tree)/([^/]+)(/.*)?)?", path):
            return self._api(h, m.group(1), m.group(2), unquote(m.group(3) or "main"), (m.group(4) or "").strip("/"), parse_qs(query))
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(h, m.group(1), unquote(m.group(2)), unquote(m.group(3)))
        h.error("RepoNotFound", "Repository not found")

    def _repo(self, h: _Handler, prefix: str, repo: str, rev: str) -> tuple[str, dict[str, _File]] | None:
        """The commit and files of ``repo`` at ``rev``, or None when it answered (redirect, 404)."""
        with self._lock:
            new, found = self._redirects.get(repo), self._repos.get(repo)
        if new is not None:
            h.reply(307, {"error": "Repository moved"}, {"Location": prefix + new + h.path[len(prefix + repo) :]})
            return None
        if found is None:
            h.error("RepoNotFound", "Repository not found")
            return None
        if rev not in ("main", found[0]):
            h.error("RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return found

    def _api(self, h: _Handler, repo: str, op: str | None, rev: str, sub: str, query: dict[str, list[str]]) -> None:
        found = self._repo(h, "/api/models/", repo, rev)
        if found is None:
            return
        commit, files = found
        if op == "tree":
            listed = [f.tree_entry() for p, f in sorted(files.items()) if not sub or p.startswith(sub + "/")]
            dirs = sorted({p.rsplit("/", 1)[0] for p in files if "/" in p})
            listed += [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d} for d in dirs]
            return h.reply(200, listed)
        blobs = query.get("blobs", ["false"])[0] == "true"
        siblings = [{"rfilename": p, **({"size": f.size, "blobId": f.oid} if blobs else {})} for p, f in sorted(files.items())]
        h.reply(200, {"id": repo, "modelId": repo, "sha": commit, "private": False, "gated": False, "tags": [], "siblings": siblings})

    def _resolve(self, h: _Handler, repo: str, rev: str, path: str) -> None:
        found = self._repo(h, "/", repo, rev)
        if found is None:
            return
        commit, files = found
        f = files.get(path)
        if f is None:
            return h.error("EntryNotFound", f"{path} does not exist at {commit}", {"X-Repo-Commit": commit})
        headers = {"X-Repo-Commit": commit}
        if f.sha256 is None:
            return h.send_file(f, headers)
        headers |= {"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size), "ETag": f'"{f.oid}"'}
        headers["Location"] = f"{self.cdn_url}/lfs/{f.sha256}?filename={quote(path.rsplit('/', 1)[-1])}"
        h.reply(302, b"", headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client pools connections
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        try:
            self.server.hub.handle(self, self.server.role)  # type: ignore[attr-defined]
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_HEAD = do_GET  # noqa: N815 (the name http.server dispatches HEAD to)

    def reply(self, status: int, body: object, headers: Mapping[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        self.reply(404, {"error": message}, {**(headers or {}), "X-Error-Code": code, "X-Error-Message": message})

    def send_file(self, f: _File, headers: Mapping[str, str]) -> None:
        self.send_response(200)
        for k, v in {**headers, "ETag": f'"{f.etag}"', "Content-Type": "application/octet-stream", "Content-Length": str(f.size)}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            for chunk in _chunks(f.source):
                self.wfile.write(chunk)
