"""Remote sources against a local fake hub (tests/hub_server.py): the library side.

The fake hub serves real files with the Hugging Face and ModelScope API shapes and counts the
requests and bytes it sends; a remote inspect must equal the local one while transferring a
small fraction of the repo.
"""

from __future__ import annotations

import threading
import pytest

from modellens import ModelLensError
from modellens.hub import (HubAuthError, HubNotFoundError, HubOfflineError, HubRateLimitError,
                           HubUnreachableError, RangeNotSupportedError, RemoteSpec, is_remote_source,
                           open_source, parse_source, read_remote)
from modellens.hub.http import PAGE, HTTPRangeSource, Segments, TransferStats, Transport
from modellens.hub.tree import RemoteTree
from modellens.layouts import read_path, read_tree

from .hub_server import CLEARED_ENV, hub_environment, hf_url


@pytest.fixture
def hub(fake_hub, tmp_path, monkeypatch):
    for var in CLEARED_ENV:
        monkeypatch.delenv(var, raising=False)
    for k, v in hub_environment(fake_hub, tmp_path / "cache").items():
        monkeypatch.setenv(k, v)
    fake_hub.server.stats.reset()
    return fake_hub


def _comparable(info, *, offsets=True):
    d = info.to_dict()
    d.pop("source")
    d["metadata"] = {k: v for k, v in d["metadata"].items() if k not in ("hub", "tensor_offsets")}
    if not offsets:
        for t in d["tensors"]:
            t["offset"] = None
    return d


def _repo_size(fx, repo):
    return sum(p.stat().st_size for p in fx.folders[repo].rglob("*") if p.is_file())


# -- sources -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("hf://org/repo", RemoteSpec("hf", "org/repo", None, "")),
    ("hf://org/repo@v1.0", RemoteSpec("hf", "org/repo", "v1.0", "")),
    ("hf://org/repo@refs%2Fpr%2F3/sub/model.safetensors", RemoteSpec("hf", "org/repo", "refs/pr/3", "sub/model.safetensors")),
    ("hf://Qwen/Qwen3-235B-A22B-Instruct-2507/", RemoteSpec("hf", "Qwen/Qwen3-235B-A22B-Instruct-2507", None, "")),
    ("ms://qwen/Qwen2.5-7B@master", RemoteSpec("ms", "qwen/Qwen2.5-7B", "master", "")),
    ("meta-llama/Llama-3.1-8B", RemoteSpec("hf", "meta-llama/Llama-3.1-8B", None, "")),
    ("meta-llama/Llama-3.1-8B@main", RemoteSpec("hf", "meta-llama/Llama-3.1-8B", "main", "")),
    ("https://huggingface.co/org/repo/blob/main/config.json", RemoteSpec("hf", "org/repo", "main", "config.json")),
    ("https://huggingface.co/org/repo", RemoteSpec("hf", "org/repo", None, "")),
    ("model.safetensors", None),
    ("some/dir/model.gguf", None),
    ("folder/model.safetensors", None),
    ("./org/repo", None),
])
def test_parse_source(text, expected):
    assert parse_source(text) == expected


@pytest.mark.parametrize("text", ["hf://org", "hf://org/", "hf://org/repo@", "hf://org/../x", "hf://org/repo/../../etc"])
def test_parse_source_rejects(text):
    assert is_remote_source(text)
    with pytest.raises(ModelLensError, match="expected hf://org/repo"):
        parse_source(text)


def test_bare_name_that_exists_locally_is_local(tmp_path, monkeypatch):
    (tmp_path / "org" / "repo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert parse_source("org/repo") is None
    assert not is_remote_source("org/repo")
    assert parse_source("org/other") == RemoteSpec("hf", "org/other", None, "")


def test_display_and_name():
    spec = parse_source("hf://org/repo@v1/sub")
    assert spec.display == "hf://org/repo@v1/sub" and spec.model_name == "org/repo"


# -- safetensors -------------------------------------------------------------------------------

def test_sharded_safetensors_equals_local_and_costs_under_one_percent(hub):
    res = read_remote("hf://org/sharded-st")
    local = read_path(hub.folders["org/sharded-st"])
    assert _comparable(res.info) == _comparable(local)
    assert res.info.layout == "hf-transformers" and res.info.parameters == local.parameters
    assert res.info.source == "hf://org/sharded-st"
    meta = res.info.metadata["hub"]
    assert meta["repo"] == "org/sharded-st" and len(meta["commit"]) == 40 and meta["revision"] == "main"
    requests, sent = hub.server.stats.snapshot()
    size = _repo_size(hub, "org/sharded-st")
    assert size > 250 * 2**20
    assert sent < 0.01 * size, (sent, size)
    # the client counts what the server sent
    assert (res.transfer.requests, res.transfer.bytes) == (requests, sent)
    # 1 listing + 4 small JSON files + per shard a 302 and the first page (the header), and at
    # most one read of the last page (format detectors that look at a file's footer)
    assert requests <= 1 + 4 + 3 * 3, hub.server.stats.log
    weights = [e for e in hub.server.stats.log if e[1].startswith("/cdn-lfs/")]
    assert sum(e[2] == f"bytes=0-{PAGE - 1}" for e in weights) == 3
    others = [e for e in weights if e[2] != f"bytes=0-{PAGE - 1}"]
    assert len(others) <= 3 and all(e[4] <= PAGE and int(e[2][6:].split("-")[0]) > 50 * 2**20 for e in others)


def test_large_header_takes_a_second_request(hub, tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "many"
    folder.mkdir()
    save_file({f"t{i:05d}.with.a.long.tensor.name": np.zeros((2,), np.float32) for i in range(3000)},
              str(folder / "model.safetensors"))
    hub.server.add_repo("org/many-tensors", folder)
    res = read_remote("hf://org/many-tensors")
    assert len(res.info.tensors) == 3000
    ranges = [e[2] for e in hub.server.stats.log if e[1].startswith("/cdn-lfs/")]
    assert ranges[0] == f"bytes=0-{PAGE - 1}" and ranges[1].startswith(f"bytes={PAGE}-")
    assert len(ranges) == 2 or (len(ranges) == 3 and ranges[2].endswith(f"-{(folder / 'model.safetensors').stat().st_size - 1}"))


def test_revision_tag_commit_and_missing_revision(hub):
    by_tag = read_remote("hf://org/small@v1.0")
    commit = by_tag.info.metadata["hub"]["commit"]
    by_commit = read_remote(f"hf://org/small@{commit}")
    assert by_tag.info.parameters == by_commit.info.parameters == 1024 * 1024 + 1024
    with pytest.raises(HubNotFoundError, match="revision not found"):
        read_remote("hf://org/small@no-such-branch")


def test_subpaths(hub):
    index = read_remote("hf://org/sharded-st/model.safetensors.index.json")
    assert index.info.layout == "hf-transformers" and len(index.info.tensors) == 3 * 12 * 2
    one = read_remote("hf://org/sharded-st/model-00002-of-00003.safetensors")
    assert one.info.format == "safetensors" and len(one.info.tensors) == 24
    assert one.info.source == "hf://org/sharded-st/model-00002-of-00003.safetensors"
    with pytest.raises(HubNotFoundError, match="no file or folder 'nope.bin'"):
        read_remote("hf://org/sharded-st/nope.bin")


# -- GGUF and pytorch ----------------------------------------------------------------------------

def test_gguf_equals_local_reading_only_the_header(hub):
    from modellens.core.io import LocalFile
    from modellens.formats.gguf import read_header

    res = read_remote("hf://org/gguf")
    path = hub.folders["org/gguf"] / "model-Q8_0.gguf"
    local = read_path(hub.folders["org/gguf"])
    assert _comparable(res.info) == _comparable(local)
    with LocalFile(path) as f:
        header_bytes = read_header(f).data_offset
    assert header_bytes > 600_000  # the vocabulary makes the header span many pages
    _, sent = hub.server.stats.snapshot()
    # growing reads: at most twice the header (a real GGUF's header is well under 1% of it)
    assert sent <= 2 * header_bytes + PAGE, (sent, header_bytes)
    ranged = [e for e in hub.server.stats.log if e[1].startswith("/cdn-lfs/")]
    assert len(ranged) <= 6 + 1, ranged  # 64K, 128K, … 1M, 2M; + a footer look by a detector


def test_sharded_bin_reads_only_pickles(hub):
    res = read_remote("hf://org/bin-sharded")
    local = read_path(hub.folders["org/bin-sharded"])
    assert _comparable(res.info, offsets=False) == _comparable(local, offsets=False)
    assert all(t.offset is None for t in res.info.tensors)
    assert res.info.metadata["file_metadata"]["tensor_offsets"].startswith("not read") \
        if "file_metadata" in res.info.metadata else True
    _, sent = hub.server.stats.snapshot()
    size = _repo_size(hub, "org/bin-sharded")
    assert size > 150 * 2**20 and sent < 0.01 * size, (sent, size)
    ranged = [e for e in hub.server.stats.log if e[1].startswith("/cdn-lfs/")]
    assert len(ranged) <= 3 * 2, ranged  # per shard: the first page, then the central directory


def test_open_source_gives_a_tree_or_a_byte_source(hub):
    tree, repo = open_source("hf://org/sharded-st")
    with repo:
        assert isinstance(tree, RemoteTree) and "config.json" in tree.list()
        assert ".gitattributes" not in tree.list()  # hidden files skipped, as LocalTree does
        assert read_tree(tree).parameters == read_path(hub.folders["org/sharded-st"]).parameters
    src, repo = open_source("hf://org/gguf/model-Q8_0.gguf")
    with repo:
        assert src.remote and src.size == (hub.folders["org/gguf"] / "model-Q8_0.gguf").stat().st_size
        assert src.read(0, 4) == b"GGUF"
    assert repo.transfer.requests >= 2


def test_library_inspect_routes_remote_sources(hub):
    import modellens

    info = modellens.inspect("hf://org/small")
    assert info.parameters == 1024 * 1024 + 1024
    assert modellens.inspect("org/small").parameters == info.parameters  # bare org/repo


# -- ModelScope ----------------------------------------------------------------------------------

def test_modelscope_equals_local(hub, monkeypatch):
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", "ms-token")
    res = read_remote("ms://org/sharded-st")
    assert _comparable(res.info) == _comparable(read_path(hub.folders["org/sharded-st"]))
    assert res.info.metadata["hub"]["provider"] == "ms"
    log = hub.server.stats.log
    assert log[0][1].startswith("/api/v1/models/org/sharded-st/repo/files?Revision=master")
    assert all(a == "Bearer ms-token" for a in hub.server.stats.auth)
    size = _repo_size(hub, "org/sharded-st")
    assert hub.server.stats.bytes < 0.01 * size
    with pytest.raises(HubNotFoundError):
        read_remote("ms://org/missing")


# -- cache and offline ---------------------------------------------------------------------------

def test_second_read_transfers_nothing_and_no_cache_refetches(hub):
    first = read_remote("hf://org/sharded-st")
    assert first.transfer.requests > 0
    hub.server.stats.reset()
    second = read_remote("hf://org/sharded-st")
    assert hub.server.stats.snapshot() == (0, 0)
    assert second.transfer.requests == 0 and second.transfer.cached_bytes > 0
    assert _comparable(second.info) == _comparable(first.info)
    third = read_remote("hf://org/sharded-st", use_cache=False)
    assert third.transfer.requests == first.transfer.requests
    assert hub.server.stats.snapshot() == (third.transfer.requests, third.transfer.bytes)


def test_expired_listing_refetches_only_the_listing(hub, monkeypatch):
    read_remote("hf://org/sharded-st")
    monkeypatch.setenv("MODELLENS_HUB_CACHE_TTL", "0")
    hub.server.stats.reset()
    read_remote("hf://org/sharded-st")
    assert [e[1].split("?")[0] for e in hub.server.stats.log] == ["/api/models/org/sharded-st"]


def test_offline_uses_the_cache_or_fails(hub, monkeypatch):
    with pytest.raises(HubOfflineError, match="not in the modellens cache"):
        read_remote("hf://org/small", offline=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubOfflineError):
        read_remote("hf://org/small")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    online = read_remote("hf://org/small")
    hub.server.stats.reset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = read_remote("hf://org/small")
    assert hub.server.stats.snapshot() == (0, 0)
    assert offline.info.parameters == online.info.parameters


def test_unreachable_hub_falls_back_to_the_cache(hub, monkeypatch):
    from .hub_server import HubServer

    with HubServer(max_seconds=60) as other:  # a hub that goes away after the first run
        other.add_repo("org/small", hub.folders["org/small"])
        monkeypatch.setenv("HF_ENDPOINT", other.url)
        first = read_remote("hf://org/small")
    with pytest.raises(HubUnreachableError, match="cannot reach .*connection refused"):
        read_remote("hf://org/sharded-st")  # not cached
    monkeypatch.setenv("MODELLENS_HUB_CACHE_TTL", "0")  # the listing must be asked for again
    res = read_remote("hf://org/small")
    assert any("unreachable" in w and "answered from the cache" in w for w in res.info.warnings)
    assert res.info.parameters == first.info.parameters
    assert res.transfer.requests == 1  # the failed attempt


# -- errors --------------------------------------------------------------------------------------

def test_gated_private_missing_ratelimited(hub, monkeypatch):
    with pytest.raises(HubAuthError, match="gated.*HF_TOKEN"):
        read_remote("hf://org/gated")
    with pytest.raises(HubAuthError, match="private.*HF_TOKEN"):
        read_remote("hf://org/private")
    monkeypatch.setenv("HF_TOKEN", hub.private_token)
    assert read_remote("hf://org/private").info.parameters == 1024 * 1024 + 1024
    assert f"Bearer {hub.private_token}" in hub.server.stats.auth
    with pytest.raises(HubNotFoundError, match="not found"):
        read_remote("hf://org/missing")
    with pytest.raises(HubRateLimitError, match="retry after 17 s") as e:
        read_remote("hf://org/ratelimited")
    assert e.value.retry_after == 17


def test_server_ignoring_range_is_refused(hub):
    with pytest.raises(RangeNotSupportedError, match="ignored the Range request"):
        read_remote("hf://org/norange")
    src, repo = open_source("hf://org/norange/model.safetensors")
    with pytest.raises(RangeNotSupportedError):
        src.read(0, 8)
    # it stopped reading at the status line: the 2 MB body was not received
    assert repo.transfer.bytes < 64 * 1024


# -- the range source ------------------------------------------------------------------------------

def _source(hub, repo="org/gguf", path="model-Q8_0.gguf"):
    f = hub.folders[repo] / path
    t = Transport(TransferStats())
    return HTTPRangeSource(hf_url(hub.server, repo, path), f.stat().st_size, {}, t), f.read_bytes()


def test_range_source_pages_and_coalescing(hub):
    src, data = _source(hub)
    assert src.read(0, 8) == data[:8]  # the first read fetches the first page
    assert src.read(100, 1000) == data[100:1100]
    assert src.transport.stats.requests == 2  # 302 + 206
    assert src.read(3 * PAGE + 5, 10) == data[3 * PAGE + 5 : 3 * PAGE + 15]
    assert src.read(PAGE - 4, 2 * PAGE + 20) == data[PAGE - 4 : 3 * PAGE + 16]  # only the gap
    ranges = [e[2] for e in hub.server.stats.log if e[1].startswith("/cdn-lfs/")]
    assert ranges == [f"bytes=0-{PAGE - 1}", f"bytes={3 * PAGE}-{4 * PAGE - 1}", f"bytes={PAGE}-{3 * PAGE - 1}"]
    # after the first redirect, ranges go straight to the CDN
    assert sum(1 for e in hub.server.stats.log if "/resolve/" in e[1]) == 1
    assert bytes(src.view(10, 20)) == data[10:30]
    tail = src.read(src.size - 3, 3)
    assert tail == data[-3:]
    with pytest.raises(ModelLensError, match="needs bytes"):
        src.read(src.size - 1, 2)


def test_range_source_refuses_a_whole_file_view(hub, monkeypatch):
    import modellens.hub.http as http

    monkeypatch.setattr(http, "MAX_VIEW_BYTES", 4 * PAGE)
    src, _ = _source(hub)
    with pytest.raises(ModelLensError, match="over the .* limit for a remote read"):
        src.view(0, src.size)
    assert hub.server.stats.requests == 0


def test_range_source_detects_a_changed_file(hub):
    f = hub.folders["org/gguf"] / "model-Q8_0.gguf"
    src = HTTPRangeSource(hf_url(hub.server, "org/gguf", "model-Q8_0.gguf"), f.stat().st_size + 10, {},
                          Transport(TransferStats()))
    with pytest.raises(ModelLensError, match="listed .* bytes but the file has"):
        src.read(0, 8)


def test_range_source_is_thread_safe(hub):
    src, data = _source(hub)
    errors = []

    def worker(k):
        try:
            for i in range(20):
                off = (k * 7919 + i * 104729) % (src.size - 100)
                assert src.read(off, 100) == data[off : off + 100]
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_segments():
    s = Segments()
    s.add(10, b"abc")
    s.add(20, b"xyz")
    assert s.gaps(0, 30) == [(0, 10), (13, 20), (23, 30)]
    s.add(13, b"1234567")  # bridges the two
    assert list(s) == [(10, b"abc1234567xyz")]
    assert s.get(12, 3) == b"c12" and s.get(9, 2) is None
    s.add(0, b"0123456789ab")  # overlaps the start
    assert list(s) == [(0, b"0123456789abc1234567xyz")]


def test_offline_transport_never_connects():
    t = Transport(TransferStats(), offline=True)
    src = HTTPRangeSource("http://127.0.0.1:9/x", 100, {}, t)
    with pytest.raises(HubOfflineError):
        src.read(0, 10)


# -- huggingface_hub sees the fake hub as a hub --------------------------------------------------------

def test_huggingface_hub_agrees_with_the_fake_hub(hub, tmp_path):
    import huggingface_hub
    from huggingface_hub import HfApi, hf_hub_download

    api = HfApi(endpoint=hub.url, token=False)
    meta = api.get_safetensors_metadata("org/sharded-st")
    ours = read_remote("hf://org/sharded-st").info
    assert sum(meta.parameter_count.values()) == ours.parameters
    tree = {f.path for f in api.list_repo_tree("org/sharded-st", recursive=True)}
    assert "config.json" in tree and "model-00001-of-00003.safetensors" in tree
    p = hf_hub_download("org/sharded-st", "config.json", cache_dir=tmp_path / "hf", endpoint=hub.url, token=False)
    assert open(p).read() == (hub.folders["org/sharded-st"] / "config.json").read_text()
    with pytest.raises(huggingface_hub.errors.GatedRepoError):
        hf_hub_download("org/gated", "config.json", cache_dir=tmp_path / "hf", endpoint=hub.url, token=False)
    info = api.model_info("org/sharded-st", files_metadata=True)
    assert info.sha == ours.metadata["hub"]["commit"]
