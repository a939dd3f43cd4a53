"""Opt-in: the generated vLLM / SGLang commands go through the engines' own argument parsers.

vLLM cannot be installed into the project's environment (it pins torch and transformers 5), so
it lives in a separate venv: ``MODELLENS_VLLM_PYTHON`` (default ``/work/vllm-venv/bin/python``),
made with::

    python -m venv --system-site-packages /work/vllm-venv
    /work/vllm-venv/bin/pip install --no-deps vllm==0.33.0 sglang==0.5.23
    /work/vllm-venv/bin/pip install "transformers>=5.16.1,<5.21" cbor2 pyzmq aiohttp openai-harmony openai msgspec \
        pybase64 cachetools uvloop fastapi prometheus_client partial_json_parser xgrammar llguidance   # import-time deps

vLLM's parser is built without a GPU with ``VLLM_TARGET_DEVICE=cpu``.  The tests skip, saying
why, when the venv is absent; the kept-flag-list check in test_advise_serve.py always runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import advise_models as M  # noqa: E402

from modellens.advise._data import load  # noqa: E402
from modellens.advise.serve import serve_plan  # noqa: E402


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Hub ids are read from their names here: never reach the network."""
    monkeypatch.setenv("MODELLENS_OFFLINE", "1")

PY = os.environ.get("MODELLENS_VLLM_PYTHON", "/work/vllm-venv/bin/python")

pytestmark = pytest.mark.skipif(not Path(PY).exists(),
                                reason=f"no vLLM venv at {PY} (set MODELLENS_VLLM_PYTHON; see this file's docstring)")

_VLLM = r'''
import json, sys
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.entrypoints.common.cli_args import make_arg_parser, validate_parsed_serve_args
from vllm.tool_parsers import ToolParserManager
from vllm.reasoning import ReasoningParserManager
import vllm
tools, reasoning = set(ToolParserManager.list_registered()), set(ReasoningParserManager.list_registered())
out = {"version": vllm.__version__, "results": []}
for argv in json.load(sys.stdin):
    parser = make_arg_parser(FlexibleArgumentParser(prog="vllm serve"))
    try:
        args = parser.parse_args(argv)
        validate_parsed_serve_args(args)
        problems = []
        if args.tool_call_parser and args.tool_call_parser not in tools:
            problems.append("tool parser " + args.tool_call_parser)
        if getattr(args, "reasoning_parser", None) and args.reasoning_parser not in reasoning:
            problems.append("reasoning parser " + args.reasoning_parser)
        out["results"].append({"ok": not problems, "problems": problems, "model": args.model_tag,
                               "tp": args.tensor_parallel_size, "max_model_len": args.max_model_len})
    except SystemExit as e:
        out["results"].append({"ok": False, "problems": ["argparse exit %s" % e.code]})
    except Exception as e:
        out["results"].append({"ok": False, "problems": [repr(e)]})
json.dump(out, sys.stdout)
'''

_SGLANG = r'''
import argparse, json, sys
from sglang.srt.server_args import ServerArgs
import sglang
out = {"version": sglang.__version__, "results": []}
for argv in json.load(sys.stdin):
    p = argparse.ArgumentParser()
    ServerArgs.add_cli_args(p)
    try:
        a = p.parse_args(argv)
        out["results"].append({"ok": True, "model": a.model_path, "tp": a.tp_size})
    except SystemExit as e:
        out["results"].append({"ok": False, "problems": ["argparse exit %s" % e.code]})
json.dump(out, sys.stdout)
'''


def _run(script: str, argvs: list[list[str]]) -> dict:
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "VLLM_LOGGING_LEVEL": "ERROR"}
    proc = subprocess.run([PY, "-c", script], input=json.dumps(argvs), capture_output=True, text=True, timeout=600,
                          env=env, cwd="/tmp")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models")
    out = []
    for name, cfg in (("Qwen3-8B", M.QWEN3_8B), ("Llama-3.1-70B-Instruct", M.LLAMA_31_70B), ("GLM-4.5-Air", M.GLM_45_AIR),
                      ("Mistral-7B-Instruct-v0.3", M.MISTRAL_7B), ("Qwen2.5-7B-Instruct-AWQ", M.QWEN25_7B_AWQ),
                      ("custom-model", M.REMOTE_CODE)):
        d = tmp / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps(cfg))
        out.append(str(d))
    return out + ["Qwen/Qwen3-235B-A22B-Instruct-2507", "openai/gpt-oss-120b", "moonshotai/Kimi-K2-Instruct",
                  "deepseek-ai/DeepSeek-R1-0528", "meta-llama/Llama-4-Scout-17B-16E-Instruct",
                  "Qwen/Qwen3-Coder-30B-A3B-Instruct", "NousResearch/Hermes-3-Llama-3.1-8B",
                  "ms://Qwen/Qwen2.5-7B-Instruct", "Qwen/QwQ-32B", "ibm-granite/granite-3.2-8b-instruct"]


def test_vllm_accepts_the_generated_commands(spread):
    plans = [serve_plan(m, engine="vllm", **kw) for m in spread for kw in ({}, {"gpu": "a100-40g", "gpus": 16})]
    res = _run(_VLLM, [list(p.command[2:]) for p in plans])  # without the "vllm serve" program words
    assert res["version"] == load("engines.json")["engines"]["vllm"]["version"]
    for plan, r in zip(plans, res["results"]):
        assert r["ok"], (plan.shell, r)
        assert r["tp"] == plan.sizing.tensor_parallel and r["max_model_len"] == plan.sizing.max_model_len


def test_sglang_accepts_the_generated_commands(spread):
    plans = [serve_plan(m, engine="sglang") for m in spread]
    res = _run(_SGLANG, [list(p.command[3:]) for p in plans])
    assert res["version"] == load("engines.json")["engines"]["sglang"]["version"]
    for plan, r in zip(plans, res["results"]):
        assert r["ok"], (plan.shell, r)


def test_kept_vllm_flag_list_matches_the_installed_vllm():
    script = ("from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
              "from vllm.entrypoints.common.cli_args import make_arg_parser\nimport json, sys\n"
              "p = make_arg_parser(FlexibleArgumentParser())\n"
              "json.dump({'version': None, 'results': sorted({s for a in p._actions for s in a.option_strings "
              "if s.startswith('--')})}, sys.stdout)\n")
    res = _run(script, [])
    assert res["results"] == load("engines.json")["engines"]["vllm"]["flags"]
