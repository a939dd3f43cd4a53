"""``modellens serve-plan``: commands every engine accepts, every number explained.

The generated flags are checked against each engine's flag list kept in data/engines.json (read
from vLLM 0.33.0's and SGLang 0.5.23's own argument parsers and from llama.cpp's common/arg.cpp);
tests/test_advise_engines_real.py also runs them through the real parsers when a vLLM venv exists.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import advise_models as M  # noqa: E402
from conftest import assert_one_line_error, run_cli  # noqa: E402

from modellens.advise._data import load  # noqa: E402
from modellens.advise.modelfile import ModelfileError, parse_modelfile  # noqa: E402
from modellens.advise.serve import check_flags, family_for, serve_plan  # noqa: E402


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Hub ids are read from their names here: never reach the network."""
    monkeypatch.setenv("MODELLENS_OFFLINE", "1")

ENGINES = load("engines.json")["engines"]


def folder(tmp_path: Path, name: str, cfg: dict, template: str | None = None) -> str:
    p = tmp_path / name
    p.mkdir()
    (p / "config.json").write_text(json.dumps(cfg))
    if template:
        (p / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    return str(p)


@pytest.fixture
def models(tmp_path):
    return {
        "qwen3": folder(tmp_path, "Qwen3-8B", M.QWEN3_8B, M.CHATML),
        "llama70": folder(tmp_path, "Llama-3.1-70B-Instruct", M.LLAMA_31_70B),
        "glm": folder(tmp_path, "GLM-4.5-Air", M.GLM_45_AIR),
        "mistral": folder(tmp_path, "Mistral-7B-Instruct-v0.3", M.MISTRAL_7B),
        "awq": folder(tmp_path, "Qwen2.5-7B-Instruct-AWQ", M.QWEN25_7B_AWQ),
        "remote": folder(tmp_path, "custom-model", M.REMOTE_CODE),
    }


SPREAD = [("qwen3", {}), ("qwen3", {"gpu": "rtx4090"}), ("llama70", {}), ("llama70", {"gpus": 8}),
          ("llama70", {"gpu": "a100-40g", "gpus": 16}), ("glm", {}), ("mistral", {"quant": "fp8"}),
          ("awq", {"gpu": "l4"}), ("remote", {}), ("qwen3", {"context": 32768, "gpu": "rtx4090"})]
NAMES = ["Qwen/Qwen3-235B-A22B-Instruct-2507", "openai/gpt-oss-120b", "moonshotai/Kimi-K2-Instruct",
         "deepseek-ai/DeepSeek-R1-0528", "meta-llama/Llama-4-Scout-17B-16E-Instruct",
         "Qwen/Qwen3-Coder-30B-A3B-Instruct", "NousResearch/Hermes-3-Llama-3.1-8B", "ms://Qwen/Qwen2.5-7B-Instruct"]


def vllm_plans(models):
    for key, kw in SPREAD:
        yield serve_plan(models[key], engine="vllm", **kw)
    for name in NAMES:
        yield serve_plan(name, engine="vllm")


def test_vllm_flags_are_in_the_kept_list(models):
    for plan in vllm_plans(models):
        assert check_flags("vllm", plan.command) == [], plan.shell
        argv = list(plan.command)
        assert argv[:3] == ["vllm", "serve", plan.model.arg]
        for flag in ("--tensor-parallel-size", "--max-model-len", "--gpu-memory-utilization", "--dtype",
                     "--kv-cache-dtype", "--served-model-name", "--port"):
            assert flag in argv, (flag, plan.shell)
        if "--speculative-config" in argv:
            assert json.loads(argv[argv.index("--speculative-config") + 1])["method"] == "mtp"
        if "--enable-auto-tool-choice" in argv:
            assert "--tool-call-parser" in argv  # vLLM refuses one without the other


def test_vllm_numbers_are_explained(models):
    plan = serve_plan(models["llama70"], engine="vllm")
    d = plan.to_dict()
    assert d["schema"] == "modellens.serve_plan/1"
    s = d["sizing"]
    # 131 GiB of BF16 weights: one H100 cannot hold them, two leave ≈ 5 GiB each for the KV cache
    assert s["tensor_parallel"] == 2 and s["weights_per_gpu_bytes"] < 72 * 2**30
    why = {x["flag"]: x["why"] for x in d["explanation"]}
    assert "weights" in why["--tensor-parallel-size"] and "heads" in why["--tensor-parallel-size"]
    assert "KV cache budget" in why["--max-model-len"]
    assert s["max_model_len"] <= 131072 and s["max_model_len"] % 1024 == 0
    assert d["client"]["endpoint"] == "http://localhost:8000/v1/chat/completions"
    assert "curl http://localhost:8000/v1/chat/completions" in d["client"]["curl"]


def test_vllm_parallelism(models):
    big = serve_plan(models["llama70"], engine="vllm", gpu="a100-40g", gpus=16)
    argv = list(big.command)
    assert argv[argv.index("--tensor-parallel-size") + 1] == "8"
    assert argv[argv.index("--pipeline-parallel-size") + 1] == "2"
    small = serve_plan(models["qwen3"], engine="vllm", gpu="h100")
    assert "--pipeline-parallel-size" not in small.command


def test_vllm_family_table(models):
    def flags(plan):
        a = list(plan.command)
        return {f: a[a.index(f) + 1] for f in ("--tool-call-parser", "--reasoning-parser") if f in a}

    assert flags(serve_plan(models["qwen3"], engine="vllm")) == {"--tool-call-parser": "hermes", "--reasoning-parser": "qwen3"}
    assert flags(serve_plan(models["glm"], engine="vllm")) == {"--tool-call-parser": "glm45", "--reasoning-parser": "glm45"}
    assert flags(serve_plan("openai/gpt-oss-20b", engine="vllm")) == {"--tool-call-parser": "openai",
                                                                      "--reasoning-parser": "openai_gptoss"}
    assert family_for("zai-org/GLM-4.7")["vllm"]["tool_call_parser"] == "glm47"
    assert flags(serve_plan("deepseek-ai/DeepSeek-R1", engine="vllm"))["--reasoning-parser"] == "deepseek_r1"
    assert "--reasoning-parser" not in serve_plan("Qwen/Qwen3-30B-A3B-Instruct-2507", engine="vllm").command
    assert family_for("Llama-3.3-70B-Instruct")["vllm"]["tool_call_parser"] == "llama3_json"


def test_every_family_parser_is_registered():
    fams = load("serve_families.json")["families"]
    for f in fams:
        for engine in ("vllm", "sglang"):
            for key, value in f[engine].items():
                assert value in ENGINES[engine]["choices"]["--" + key.replace("_", "-")], (f["id"], engine, value)
        assert f["sources"], f["id"]


def test_vllm_details(models):
    glm = serve_plan(models["glm"], engine="vllm")
    assert "--speculative-config" in glm.command  # the checkpoint ships an MTP layer
    ms = serve_plan("ms://Qwen/Qwen2.5-7B-Instruct", engine="vllm")
    assert ms.env == {"VLLM_USE_MODELSCOPE": "true"} and ms.command[2] == "Qwen/Qwen2.5-7B-Instruct"
    assert ms.shell.startswith("VLLM_USE_MODELSCOPE=true vllm serve")
    awq = serve_plan(models["awq"], engine="vllm")
    assert "--quantization" not in awq.command  # read from the checkpoint's config
    fp8 = serve_plan(models["mistral"], engine="vllm", quant="fp8")
    a = list(fp8.command)
    assert a[a.index("--quantization") + 1] == "fp8"
    remote = serve_plan(models["remote"], engine="vllm")
    assert "--trust-remote-code" in remote.command and any("runs Python" in w for w in remote.warnings)


def test_does_not_fit_says_what_to_change(models):
    plan = serve_plan(models["llama70"], engine="vllm", gpu="rtx4090", gpus=1)
    assert plan.warnings and "--gpus" in plan.warnings[-1]
    assert plan.sizing.fits is False


def test_sglang(models):
    for key, kw in SPREAD[:6]:
        plan = serve_plan(models[key], engine="sglang", **kw)
        assert check_flags("sglang", plan.command) == [], plan.shell
        assert plan.command[:4] == ("python", "-m", "sglang.launch_server", "--model-path")
        assert plan.port == 30000
    glm = serve_plan(models["glm"], engine="sglang")
    assert "--speculative-algorithm" in glm.command


def test_llama_cpp(models, tmp_path):
    plan = serve_plan(models["qwen3"], engine="llama.cpp", gpu="rtx4090")
    assert check_flags("llama.cpp", plan.command) == []
    a = list(plan.command)
    assert a[0] == "llama-server" and "--jinja" in a and a[a.index("-ngl") + 1] == "999"
    assert plan.prepare[0][:2] == ("python", "convert_hf_to_gguf.py") and plan.prepare[1][0] == "llama-quantize"
    cpu = serve_plan(models["qwen3"], engine="llama.cpp")
    assert cpu.command[cpu.command.index("-ngl") + 1] == "0"
    partial = serve_plan(models["llama70"], engine="llama.cpp", gpu="rtx4090")
    assert 0 < int(partial.command[partial.command.index("-ngl") + 1]) < 80 and partial.warnings
    # a split GGUF: the first part
    d = tmp_path / "split"
    d.mkdir()
    for i in (1, 2):
        (d / f"m-Q4_K_M-0000{i}-of-00002.gguf").write_bytes(b"")
    (d / "config.json").write_text(json.dumps(M.QWEN3_8B))
    split = serve_plan(str(d), engine="llama.cpp")
    assert split.command[2].endswith("m-Q4_K_M-00001-of-00002.gguf") and not split.prepare
    assert serve_plan("Qwen/Qwen3-8B", engine="llama.cpp").port == 8080
    for plan in (plan, cpu, partial, split):
        for step in plan.prepare:  # conversion steps use only flags the tools accept
            if step[0] == "python":
                assert set(s for s in step if s.startswith("--")) <= {"--outfile", "--outtype", "--remote"}


def test_ollama_modelfile_parses(models):
    plan = serve_plan(models["qwen3"], engine="ollama")
    mf = plan.files["Modelfile"]
    ins = parse_modelfile(mf)
    names = [i.name for i in ins]
    assert names[0] == "FROM" and "TEMPLATE" in names
    params = {i.args[0]: i.args[1] for i in ins if i.name == "PARAMETER"}
    assert int(params["num_ctx"]) > 0 and "<|im_end|>" in [i.args[1] for i in ins if i.name == "PARAMETER" and i.args[0] == "stop"]
    template = next(i.args[0] for i in ins if i.name == "TEMPLATE")
    assert "{{ .Prompt }}" in template and "<|im_start|>" in template
    assert plan.prepare[-1][:2] == ("ollama", "create") and plan.port == 11434
    for name in ("meta-llama/Llama-3.1-8B-Instruct", "google/gemma-3-4b-it", "mistralai/Mistral-7B-Instruct-v0.3"):
        parse_modelfile(serve_plan(name, engine="ollama").files["Modelfile"])


@pytest.mark.parametrize("text, message", [
    ("PARAMETER num_ctx 4096\n", "exactly one FROM"),
    ("FROM x\nFROM y\n", "exactly one FROM"),
    ("FROM x\nBOGUS y\n", "unknown instruction"),
    ("FROM x\nPARAMETER num_ctxx 4096\n", "unknown parameter"),
    ("FROM x\nPARAMETER num_ctx many\n", "wants int"),
    ("FROM x\nTEMPLATE \"\"\"unterminated\n", "unterminated"),
    ("FROM x\nMESSAGE robot hi\n", "role"),
])
def test_modelfile_parser_rejects(text, message):
    with pytest.raises(ModelfileError, match=message):
        parse_modelfile(text)


def test_modelfile_parser_accepts_the_documented_example():
    ex = ('FROM llama3.2\n# sets the temperature to 1\nPARAMETER temperature 1\nPARAMETER num_ctx 4096\n\n'
          'SYSTEM You are Mario from super mario bros, acting as an assistant.\nMESSAGE user Is Toronto in Canada?\n'
          'MESSAGE assistant yes\nlicense """\nMIT\n"""\nREQUIRES 0.14.0\n')
    names = [i.name for i in parse_modelfile(ex)]
    assert names == ["FROM", "PARAMETER", "PARAMETER", "SYSTEM", "MESSAGE", "MESSAGE", "LICENSE", "REQUIRES"]


def test_transformers_snippet(models):
    plan = serve_plan(models["qwen3"], engine="transformers")
    code = plan.files["serve_transformers.py"]
    ast.parse(code)
    assert "apply_chat_template" in code and "trust_remote_code" not in code
    assert "trust_remote_code=True" in serve_plan(models["remote"], engine="transformers").files["serve_transformers.py"]
    assert plan.client() is None


def test_cli_json_and_errors(models):
    res = run_cli("serve-plan", models["qwen3"], "--engine", "vllm", "--gpu", "rtx4090", "--json")
    assert res.code == 0, res.stderr
    d = res.json()
    assert d["schema"] == "modellens.serve_plan/1" and isinstance(d["command"], list) and d["explanation"]
    text = run_cli("serve-plan", models["qwen3"], "--engine", "ollama")
    assert text.code == 0 and "Modelfile" in text.stdout
    assert_one_line_error(run_cli("serve-plan", models["qwen3"], "--engine", "tgi"), "--engine")
    assert_one_line_error(run_cli("serve-plan", "no such model!"), "not a hub id")
