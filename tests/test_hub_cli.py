"""``modellens inspect`` of hub sources, as a user runs it (a real process), against the fake hub."""

from __future__ import annotations

import pytest

from .conftest import assert_one_line_error, run_cli
from .hub_server import CLEARED_ENV, hub_environment


@pytest.fixture
def env(fake_hub, tmp_path, monkeypatch):
    for var in CLEARED_ENV:
        monkeypatch.delenv(var, raising=False)
    fake_hub.server.stats.reset()
    return hub_environment(fake_hub, tmp_path / "cache")


def _size(fx, repo):
    return sum(p.stat().st_size for p in fx.folders[repo].rglob("*") if p.is_file())


def test_inspect_json_reports_the_transfer_then_the_cache_answers(fake_hub, env):
    res = run_cli("inspect", "hf://org/sharded-st", "--json", env=env)
    assert res.code == 0, res.stderr
    d = res.json()
    local = run_cli("inspect", str(fake_hub.folders["org/sharded-st"]), "--json").json()
    assert d["parameters"] == local["parameters"] and d["tensor_type"] == local["tensor_type"]
    assert d["layout"] == "hf-transformers" and d["source"] == "hf://org/sharded-st"
    assert "transfer" not in local
    requests, sent = fake_hub.server.stats.snapshot()
    assert d["transfer"]["requests"] == requests and d["transfer"]["bytes"] == sent
    assert sent < 0.01 * _size(fake_hub, "org/sharded-st")
    fake_hub.server.stats.reset()
    again = run_cli("inspect", "hf://org/sharded-st", "--json", env=env)
    assert again.code == 0, again.stderr
    assert fake_hub.server.stats.snapshot() == (0, 0)
    assert again.json()["transfer"]["requests"] == 0 and again.json()["transfer"]["bytes"] == 0
    assert again.json()["parameters"] == d["parameters"]
    # --no-cache goes to the hub again
    fresh = run_cli("inspect", "hf://org/sharded-st", "--json", "--no-cache", env=env)
    assert fresh.json()["transfer"]["requests"] == requests


def test_text_output_names_the_cost_on_stderr(fake_hub, env):
    res = run_cli("inspect", "org/gguf", env=env)  # bare org/repo: Hugging Face
    assert res.code == 0, res.stderr
    assert "hf://org/gguf" in res.stdout and "gguf" in res.stdout
    assert "fetched" in res.stderr and "request" in res.stderr and "% of" in res.stderr


def test_offline(fake_hub, env):
    res = run_cli("inspect", "hf://org/bin-sharded", "--offline", env=env)
    assert_one_line_error(res, "hf://org/bin-sharded", "not in the modellens cache", "offline")
    res = run_cli("inspect", "hf://org/bin-sharded", env={**env, "HF_HUB_OFFLINE": "1"})
    assert_one_line_error(res, "not in the modellens cache")
    assert fake_hub.server.stats.snapshot() == (0, 0)
    assert run_cli("inspect", "hf://org/bin-sharded", "--json", env=env).code == 0
    fake_hub.server.stats.reset()
    for extra_env, args in (({"HF_HUB_OFFLINE": "1"}, ()), ({}, ("--offline",))):
        res = run_cli("inspect", "hf://org/bin-sharded", "--json", *args, env={**env, **extra_env})
        assert res.code == 0, res.stderr
        assert res.json()["transfer"]["requests"] == 0
    assert fake_hub.server.stats.snapshot() == (0, 0)


@pytest.mark.parametrize("source, fragments", [
    ("hf://org/gated", ("hf://org/gated", "gated", "HTTP 401", "HF_TOKEN")),
    ("hf://org/private", ("not found, or private", "HTTP 401", "hf auth login")),
    ("hf://org/missing", ("hf://org/missing", "not found (HTTP 404)")),
    ("hf://org/small@v9", ("hf://org/small@v9", "revision not found")),
    ("hf://org/ratelimited", ("rate limited", "HTTP 429", "retry after 17 s")),
    ("hf://org/norange", ("ignored the Range request", "whole")),
    ("hf://org/small/nope.safetensors", ("no file or folder 'nope.safetensors'",)),
    ("ms://org/missing", ("ms://org/missing", "not found")),
    ("hf://org", ("expected hf://org/repo",)),
])
def test_errors_are_one_line_exit_2(fake_hub, env, source, fragments):
    assert_one_line_error(run_cli("inspect", source, env=env), *fragments)


def test_unreachable_and_dns_failure(env):
    res = run_cli("inspect", "hf://org/small", env={**env, "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert_one_line_error(res, "cannot reach 127.0.0.1:9", "connection refused", "--offline")
    res = run_cli("inspect", "hf://org/small", env={**env, "HF_ENDPOINT": "http://no-such-host.invalid"})
    assert_one_line_error(res, "cannot reach no-such-host.invalid")


def test_token_reaches_a_private_repo(fake_hub, env):
    res = run_cli("inspect", "hf://org/private", "--json", env={**env, "HF_TOKEN": fake_hub.private_token})
    assert res.code == 0, res.stderr
    assert res.json()["parameters"] == 1024 * 1024 + 1024


def test_modelscope(fake_hub, env):
    res = run_cli("inspect", "ms://org/bin-sharded", "--json", env=env)
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["metadata"]["hub"]["provider"] == "ms" and d["layout"] == "hf-transformers"
    assert d["transfer"]["bytes"] < 0.01 * _size(fake_hub, "org/bin-sharded")
    assert all(t["offset"] is None for t in d["tensors"])


def test_local_paths_are_unchanged(fake_hub, env, tmp_path, monkeypatch):
    monkeypatch.chdir(fake_hub.folders["org/small"].parent)
    res = run_cli("inspect", "small/model.safetensors", "--json", env=env)
    assert res.code == 0 and "transfer" not in res.json()
    assert fake_hub.server.stats.snapshot() == (0, 0)


def test_estimate_and_name_accept_remote_sources(fake_hub, env):
    local = run_cli("estimate", str(fake_hub.folders["org/sharded-st"]), "--mode", "inference", "--json").json()
    res = run_cli("estimate", "hf://org/sharded-st", "--mode", "inference", "--json", env=env)
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["model"]["parameters"] == local["model"]["parameters"]
    assert d["breakdown_bytes"]["weights"] == local["breakdown_bytes"]["weights"]
    # offline and uncached: answered from the name, with a warning on stderr
    named = run_cli("estimate", "hf://Qwen/Qwen3-8B", "--json", env={**env, "HF_HUB_OFFLINE": "1"})
    assert named.code == 0, named.stderr
    assert named.json()["model"]["parameters"] == 8_000_000_000
    assert "estimated from the name" in named.stderr
    n = run_cli("name", "hf://Qwen/Qwen3-235B-A22B-Instruct-2507@main", "--json", env=env)
    assert n.code == 0 and n.json()["active_parameters"] == 22_000_000_000


class _Evil:
    """A pickle payload: calls os.system when unpickled (never, here: only scanned)."""

    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_scan_of_remote_repos_reads_only_headers_and_pickles(fake_hub, env, tmp_path):
    import torch

    evil = tmp_path / "evil-repo"
    evil.mkdir()
    torch.save({"w": torch.zeros(20_000_000), "x": _Evil()}, evil / "pytorch_model.bin")  # 80 MB zip
    fake_hub.server.add_repo("org/evil", evil)
    for repo in ("org/sharded-st", "org/bin-sharded", "org/gguf"):
        local = run_cli("scan", str(fake_hub.folders[repo]), "--json").json()
        fake_hub.server.stats.reset()
        res = run_cli("scan", f"hf://{repo}", "--json", env=env)
        assert res.code == 0, res.stderr
        assert res.json()["verdict"] == local["verdict"] == "safe"
        assert len(res.json()["files"]) == len(local["files"])
        _, sent = fake_hub.server.stats.snapshot()
        assert sent < 0.05 * _size(fake_hub, repo), (repo, sent)
    fake_hub.server.stats.reset()
    res = run_cli("scan", "hf://org/evil", "--json", env=env)
    assert res.code == 1, res.stderr
    d = res.json()
    assert d["verdict"] == "dangerous"
    assert any("system" in f["message"] for f in d["files"][0]["findings"])
    _, sent = fake_hub.server.stats.snapshot()
    assert sent < 0.01 * (evil / "pytorch_model.bin").stat().st_size


def test_serve_plan_and_recommend_read_the_remote_config(fake_hub, env):
    # the plan sizes the model from its config.json (the fixture's weights are stand-ins)
    cfg = str(fake_hub.folders["org/sharded-st"] / "config.json")
    local = run_cli("estimate", cfg, "--mode", "inference", "--json").json()
    res = run_cli("serve-plan", "hf://org/sharded-st", "--engine", "vllm", "--json", env=env)
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["model"]["source"] == "hub" and d["model"]["approximate"] is False
    assert d["model"]["parameters"] == local["model"]["parameters"]
    assert d["command"][:3] == ["vllm", "serve", "org/sharded-st"]
    res = run_cli("recommend", "--target", "cpu", "--model", "hf://org/sharded-st", "--json", env=env)
    assert res.code == 0, res.stderr
