"""A local fake of the Hugging Face Hub and of ModelScope, for the hub tests and the benchmark.

It serves folders of real files (written by safetensors / torch / gguf in tmp) with the API
shapes the clients use:

Hugging Face (what ``huggingface_hub`` 0.2x–0.3x calls)::

    GET  /api/models/{org}/{name}[/revision/{rev}][?blobs=true]   model_info: sha, siblings
    GET  /api/models/{org}/{name}/tree/{rev}[/{path}]             list_repo_tree
    HEAD/GET /{org}/{name}/resolve/{rev}/{path}                   ETag, X-Repo-Commit; LFS files
         answer 302 to /cdn-lfs/{sha256} with X-Linked-Etag / X-Linked-Size, like the Hub
    GET  /cdn-lfs/{sha256}                                        the bytes, Range honoured

ModelScope (what ``modelscope.hub.api.HubApi`` calls)::

    GET  /api/v1/models/{org}/{name}/repo/files?Revision=&Recursive=   {"Code", "Data": {"Files"}}
    GET  /api/v1/models/{org}/{name}/repo?Revision=&FilePath=          the bytes, Range honoured

Errors as the Hub sends them (``X-Error-Code``): a gated repo (listing public, files 401
GatedRepo), a private one (401 RepoNotFound without the token), a missing repo / revision /
file (404), a rate-limited repo (429 + Retry-After), a repo whose files ignore Range.

It counts every request and every body byte it sends (``stats``), binds 127.0.0.1 on a free
port, and stops by itself after ``max_seconds`` or ``max_requests``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["HubServer", "FakeRepo", "ServerStats"]

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".msgpack")
_CHUNK = 1 << 20


def _sha256_file(path: Path) -> str:
    st = path.stat()
    if st.st_size > 64 * 2**20:  # big fixtures: a stable stand-in (hashing GBs slows the tests)
        return hashlib.sha256(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeFile:
    path: str
    local: Path
    size: int
    lfs: bool
    sha256: str
    blob_id: str


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, FakeFile]
    commit: str
    revisions: dict[str, str]  # branch / tag -> commit
    gated: bool = False
    token: str | None = None  # private: needs this bearer token
    rate_limited: bool = False
    no_range: bool = False


@dataclass
class ServerStats:
    requests: int = 0
    bytes: int = 0
    log: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # method, path, range, status, bytes
    auth: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.bytes = 0
            self.log.clear()
            self.auth.clear()

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return self.requests, self.bytes


class HubServer:
    """``with HubServer() as hub: hub.add_repo("org/name", folder); hub.url``"""

    def __init__(self, max_seconds: float = 900, max_requests: int = 200_000):
        self.repos: dict[str, FakeRepo] = {}
        self.ms_repos: dict[str, FakeRepo] = {}
        self.by_sha: dict[str, FakeFile] = {}
        self.stats = ServerStats()
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- repos ---------------------------------------------------------------------------------

    def add_repo(self, repo_id: str, folder: Path, *, ms: bool = False, hf: bool = True,
                 gated: bool = False, token: str | None = None, rate_limited: bool = False,
                 no_range: bool = False, tags: tuple[str, ...] = ("v1.0",)) -> FakeRepo:
        folder = Path(folder)
        files: dict[str, FakeFile] = {}
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                rel = p.relative_to(folder).as_posix()
                lfs = rel.endswith(LFS_SUFFIXES) or p.stat().st_size > 10 * 2**20
                sha = _sha256_file(p)
                files[rel] = FakeFile(rel, p, p.stat().st_size, lfs, sha,
                                      _git_blob_id(p) if not lfs else hashlib.sha1(sha.encode()).hexdigest())
                self.by_sha[sha] = files[rel]
        commit = hashlib.sha1(f"{repo_id}:{sorted((f.path, f.sha256) for f in files.values())}".encode()).hexdigest()
        revs = {"main": commit, "master": commit, **{t: commit for t in tags}}
        repo = FakeRepo(repo_id, files, commit, revs, gated, token, rate_limited, no_range)
        if hf:
            self.repos[repo_id] = repo
        if ms:
            self.ms_repos[repo_id] = repo
        return repo

    # -- life ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HubServer":
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="fake-hub")
        self._thread.start()
        started = time.monotonic()

        def watchdog() -> None:  # the server stops by itself, whatever the tests do
            while not self._stop.wait(0.5):
                if time.monotonic() - started > self.max_seconds or self.stats.requests > self.max_requests:
                    self.stop()
                    return

        threading.Thread(target=watchdog, daemon=True, name="fake-hub-watchdog").start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that hung up (a refused Range answer): expected
        super().handle_error(request, client_address)


_RESOLVE = re.compile(r"^/(?P<org>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_API = re.compile(r"^/api/models/(?P<org>[^/]+)/(?P<name>[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_TREE = re.compile(r"^/api/models/(?P<org>[^/]+)/(?P<name>[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$")
_MS_FILES = re.compile(r"^/api/v1/models/(?P<org>[^/]+)/(?P<name>[^/]+)/repo/files$")
_MS_FILE = re.compile(r"^/api/v1/models/(?P<org>[^/]+)/(?P<name>[^/]+)/repo$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------

    def _count(self, status: int, nbytes: int, log: bool = True) -> None:
        st = self.server_hub.stats
        with st.lock:
            st.bytes += nbytes
            if log:
                st.log.append((self.command, self.path, self.headers.get("Range", ""), status, nbytes))

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              ctype: str = "application/json") -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        # counted before the headers go out: once the client has them, a test may read the stats
        self._count(status, len(body) if self.command != "HEAD" else 0)
        self.end_headers()
        if self.command != "HEAD" and body:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self._count(status, -len(body), log=False)

    def _json(self, obj: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _error(self, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
        self._json({"error": message}, status, {"X-Error-Code": code, "X-Error-Message": message, **(extra or {})})

    def _file(self, f: FakeFile, headers: dict[str, str], *, ranges: bool = True) -> None:
        size = f.size
        rng = self.headers.get("Range") if ranges else None
        start, end, status = 0, size, 200
        if rng:
            m = _RANGE.match(rng.strip())
            if not m or int(m[1]) >= size:
                self._send(416, b"", {"Content-Range": f"bytes */{size}"})
                return
            start = int(m[1])
            end = min(size, int(m[2]) + 1) if m[2] else size
            status = 206
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes" if ranges else "none")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self._count(status, 0 if self.command == "HEAD" else end - start)  # before the headers go out
        self.end_headers()
        if self.command == "HEAD":
            return
        left = end - start
        try:
            with open(f.local, "rb") as fh:
                fh.seek(start)
                while left > 0:
                    chunk = fh.read(min(_CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self._count(status, -left, log=False)

    def _begin(self) -> tuple[str, dict[str, list[str]]] | None:
        hub = self.server_hub
        with hub.stats.lock:
            hub.stats.requests += 1
            hub.stats.auth.append(self.headers.get("Authorization"))
            over = hub.stats.requests > hub.max_requests
        if over:
            self._send(503, b"request limit reached")
            return None
        u = urlsplit(self.path)
        return unquote(u.path), parse_qs(u.query)

    def _repo(self, table: dict[str, FakeRepo], org: str, name: str, *, files: bool) -> FakeRepo | None:
        """The repo if this request may see it, else None after sending the Hub's error."""
        repo = table.get(f"{org}/{name}")
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {org}/{name} not found")
            return None
        if repo.rate_limited:
            self._error(429, "RateLimited", "Too many requests", {"Retry-After": "17"})
            return None
        auth = self.headers.get("Authorization")
        authorised = repo.token is not None and auth == f"Bearer {repo.token}"
        if repo.token is not None and not authorised:
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        if repo.gated and files and not authorised and auth is None:
            self._error(401, "GatedRepo", f"Access to model {repo.repo_id} is restricted. You must have access to it "
                                          "and be authenticated to access it. Please log in.")
            return None
        return repo

    def _commit(self, repo: FakeRepo, rev: str | None) -> str | None:
        rev = unquote(rev) if rev else "main"
        if rev in repo.revisions:
            return repo.revisions[rev]
        if rev == repo.commit:
            return rev
        self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return None

    # -- routes --------------------------------------------------------------------------------

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        begun = self._begin()
        if begun is None:
            return
        path, query = begun
        hub = self.server_hub
        if path.startswith("/cdn-lfs/"):
            f = hub.by_sha.get(path[len("/cdn-lfs/"):])
            if f is None:
                self._send(404, b"no such object")
                return
            self._file(f, {"ETag": f'"{f.sha256}"'})
            return
        if m := _MS_FILES.match(path):
            self._ms_files(m, query)
            return
        if m := _MS_FILE.match(path):
            self._ms_file(m, query)
            return
        if m := _TREE.match(path):
            self._tree(m, query)
            return
        if m := _API.match(path):
            self._model_info(m, query)
            return
        if m := _RESOLVE.match(path):
            self._resolve(m)
            return
        self._send(404, b"not found", ctype="text/plain")

    def _model_info(self, m: re.Match, query: dict[str, list[str]]) -> None:
        repo = self._repo(self.server_hub.repos, m["org"], m["name"], files=False)
        if repo is None:
            return
        commit = self._commit(repo, m["rev"])
        if commit is None:
            return
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for f in repo.files.values():
            s: dict[str, object] = {"rfilename": f.path}
            if blobs:
                s.update(size=f.size, blobId=f.blob_id)
                if f.lfs:
                    s["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": 134}
            siblings.append(s)
        self._json({"_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
                    "modelId": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": commit,
                    "lastModified": "2025-01-01T00:00:00.000Z", "private": repo.token is not None,
                    "gated": "manual" if repo.gated else False, "disabled": False, "downloads": 0,
                    "likes": 0, "tags": [], "library_name": "transformers", "siblings": siblings,
                    "createdAt": "2025-01-01T00:00:00.000Z"})

    def _tree(self, m: re.Match, query: dict[str, list[str]]) -> None:
        repo = self._repo(self.server_hub.repos, m["org"], m["name"], files=False)
        if repo is None or self._commit(repo, m["rev"]) is None:
            return
        base = (m["path"] or "").strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        out: list[dict[str, object]] = []
        dirs: set[str] = set()
        for f in repo.files.values():
            if base and not f.path.startswith(base + "/"):
                continue
            rest = f.path[len(base) + 1:] if base else f.path
            if "/" in rest and not recursive:
                dirs.add((f"{base}/" if base else "") + rest.split("/", 1)[0])
                continue
            if recursive:
                parts = f.path.split("/")[:-1]
                for i in range(len(base.split("/")) if base else 0, len(parts)):
                    dirs.add("/".join(parts[: i + 1]))
            item: dict[str, object] = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path}
            if f.lfs:
                item["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
            out.append(item)
        out += [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                for d in sorted(dirs)]
        self._json(out)

    def _resolve(self, m: re.Match) -> None:
        repo = self._repo(self.server_hub.repos, m["org"], m["name"], files=True)
        if repo is None:
            return
        commit = self._commit(repo, m["rev"])
        if commit is None:
            return
        f = repo.files.get(m["path"])
        if f is None:
            self._error(404, "EntryNotFound", f"{m['path']} does not exist on \"{m['rev']}\"",
                        {"X-Repo-Commit": commit})
            return
        common = {"X-Repo-Commit": commit}
        if f.lfs and not repo.no_range:
            host, port = self.server.server_address[:2]
            loc = f"http://{host}:{port}/cdn-lfs/{f.sha256}?X-Amz-Signature=fake"
            self._send(302, b"", {**common, "Location": loc, "ETag": f'"{f.blob_id}"',
                                  "X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size)})
            return
        self._file(f, {**common, "ETag": f'"{f.sha256 if f.lfs else f.blob_id}"'}, ranges=not repo.no_range)

    def _ms_files(self, m: re.Match, query: dict[str, list[str]]) -> None:
        repo = self.server_hub.ms_repos.get(f"{m['org']}/{m['name']}")
        if repo is None:
            self._json({"Code": 10010205001, "Message": "model not exist", "Success": False}, 404)
            return
        rev = query.get("Revision", ["master"])[0]
        if rev not in repo.revisions and rev != repo.commit:
            self._json({"Code": 10010205001, "Message": f"revision {rev} not exist", "Success": False}, 404)
            return
        files = [{"Name": f.path.rsplit("/", 1)[-1], "Path": f.path, "Size": f.size, "Sha256": f.sha256,
                  "Type": "blob", "Revision": repo.commit, "IsLFS": f.lfs, "Mode": "33188"}
                 for f in repo.files.values()]
        self._json({"Code": 200, "Data": {"Files": files, "LatestCommitter": {"Id": repo.commit}},
                    "Message": "success", "RequestId": "fake", "Success": True})

    def _ms_file(self, m: re.Match, query: dict[str, list[str]]) -> None:
        repo = self.server_hub.ms_repos.get(f"{m['org']}/{m['name']}")
        path = query.get("FilePath", [""])[0]
        f = repo.files.get(path) if repo else None
        if f is None:
            self._json({"Code": 10010205001, "Message": "file not exist", "Success": False}, 404)
            return
        self._file(f, {"ETag": f'"{f.sha256}"'})


def hf_url(server: HubServer, repo: str, path: str, rev: str = "main") -> str:
    return f"{server.url}/{repo}/resolve/{quote(rev, safe='')}/{quote(path)}"


if __name__ == "__main__":  # serve a folder of repos by hand: python tests/hub_server.py DIR
    import sys

    root = Path(sys.argv[1])
    with HubServer(max_seconds=float(os.environ.get("HUB_SECONDS", 600))) as hub:
        for org in sorted(p for p in root.iterdir() if p.is_dir()):
            for r in sorted(p for p in org.iterdir() if p.is_dir()):
                hub.add_repo(f"{org.name}/{r.name}", r, ms=True)
        print(hub.url, flush=True)
        hub._stop.wait(hub.max_seconds)


# -- fixture repos (written by the formats' own libraries) and pytest fixtures -----------------

MB = 2**20


def _config(**extra: object) -> dict:
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 1024,
            "intermediate_size": 4096, "num_hidden_layers": 12, "num_attention_heads": 8,
            "num_key_value_heads": 8, "vocab_size": 32000, "torch_dtype": "float16", **extra}


def _json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=1))


def build_sharded_safetensors(folder: Path, shards: int = 3, shard_mb: int = 100) -> Path:
    """A transformers folder: config, generation/tokenizer config, index, ``shards`` F16 shards."""
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    weight_map: dict[str, str] = {}
    total = 0
    per = max(1, shard_mb * MB // (1024 * 4096 * 2))
    layer = 0
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        ts = {}
        for _ in range(per):
            ts[f"model.layers.{layer}.mlp.up_proj.weight"] = np.zeros((4096, 1024), np.float16)
            ts[f"model.layers.{layer}.input_layernorm.weight"] = np.ones((1024,), np.float32)
            layer += 1
        save_file(ts, str(folder / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in ts})
        total += sum(a.nbytes for a in ts.values())
    _json(folder / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
    _json(folder / "config.json", _config(num_hidden_layers=layer))
    _json(folder / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2, "temperature": 0.6})
    _json(folder / "tokenizer_config.json", {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>",
                                             "chat_template": "{{ messages }}", "model_max_length": 4096})
    (folder / "README.md").write_text("# a fake model\n")
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
    return folder


def build_sharded_bin(folder: Path, shards: int = 2, shard_mb: int = 100) -> Path:
    """``torch.save`` shards with ``pytorch_model.bin.index.json`` (transformers' .bin layout)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    weight_map: dict[str, str] = {}
    per = max(1, shard_mb * MB // (4096 * 1024 * 2))
    layer = 0
    total = 0
    for s in range(shards):
        name = f"pytorch_model-{s + 1:05d}-of-{shards:05d}.bin"
        sd = {}
        for _ in range(per):
            sd[f"model.layers.{layer}.mlp.down_proj.weight"] = torch.zeros((1024, 4096), dtype=torch.float16)
            sd[f"model.layers.{layer}.post_attention_layernorm.weight"] = torch.ones(1024)
            layer += 1
        torch.save(sd, folder / name)
        weight_map.update({k: name for k in sd})
        total += sum(t.numel() * t.element_size() for t in sd.values())
    _json(folder / "pytorch_model.bin.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
    _json(folder / "config.json", _config(num_hidden_layers=layer))
    return folder


def build_gguf(folder: Path, vocab: int = 32000, tensor_mb: int = 96, name: str = "model-Q8_0.gguf") -> Path:
    """One GGUF by gguf-py's writer, with a real-sized vocabulary (the header is ~1 MB)."""
    import numpy as np
    from gguf import GGUFWriter, LlamaFileType

    folder.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(str(folder / name), "llama")
    w.add_name("fake")
    w.add_context_length(4096)
    w.add_embedding_length(1024)
    w.add_block_count(4)
    w.add_head_count(8)
    w.add_head_count_kv(8)
    w.add_feed_forward_length(4096)
    w.add_file_type(LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"<tok_{i}_{'x' * (i % 13)}>" for i in range(vocab)])
    w.add_token_scores([float(-i) for i in range(vocab)])
    w.add_token_types([1] * vocab)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    rows = max(1, tensor_mb * MB // (1024 * 2 * 4))
    for i in range(4):
        w.add_tensor(f"blk.{i}.ffn_up.weight", np.zeros((rows, 1024), np.float16))
    w.add_tensor("output_norm.weight", np.ones((1024,), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return folder


def build_small(folder: Path) -> Path:
    """A small safetensors model (2 MB) for the error repos."""
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.zeros((1024, 1024), np.float16), "b": np.zeros((1024,), np.float32)},
              str(folder / "model.safetensors"))
    _json(folder / "config.json", _config(num_hidden_layers=1))
    return folder


@dataclass
class HubFixture:
    server: HubServer
    folders: dict[str, Path]
    private_token: str = "hf_fake_private_token"

    @property
    def url(self) -> str:
        return self.server.url


def start_fake_hub(root: Path) -> HubFixture:
    folders = {
        "org/sharded-st": build_sharded_safetensors(root / "sharded-st"),
        "org/bin-sharded": build_sharded_bin(root / "bin-sharded"),
        "org/gguf": build_gguf(root / "gguf"),
        "org/small": build_small(root / "small"),
    }
    server = HubServer(max_seconds=1800).start()
    for repo_id, folder in folders.items():
        server.add_repo(repo_id, folder, ms=True)
    fx = HubFixture(server, folders)
    server.add_repo("org/gated", folders["org/small"], gated=True)
    server.add_repo("org/private", folders["org/small"], token=fx.private_token)
    server.add_repo("org/ratelimited", folders["org/small"], rate_limited=True)
    server.add_repo("org/norange", folders["org/small"], no_range=True)
    return fx


def hub_environment(fx: HubFixture, cache: Path) -> dict[str, str]:
    """Environment pointing huggingface_hub and ModelScope at the fake hub, cache in tmp."""
    return {"HF_ENDPOINT": fx.url, "MODELSCOPE_DOMAIN": fx.url, "XDG_CACHE_HOME": str(cache),
            "HF_HOME": str(cache / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}


CLEARED_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "MODELLENS_OFFLINE",
               "MODELSCOPE_API_TOKEN", "MODELLENS_CACHE_DIR", "MODELLENS_HUB_CACHE_TTL")
