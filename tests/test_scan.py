"""modellens scan: policy, pickle judging, containers, other formats, output and CLI.

Hostile inputs are built inline (opcodes with struct) or by the corpus generators in
``tests/scan_corpus``; nothing here loads them (see test_scan_corpus.py for the firing checks).
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modellens.core.pickle_vm import walk
from modellens.security import load_policy, scan_bytes, scan_path
from modellens.security.findings import Severity
from tests.scan_corpus.malicious import T1, R, STOP, P2, P4, _call, _g, _sg, _u

from .conftest import run_cli


def verdict(data: bytes, name: str = "x.pkl", **kw) -> str:
    return scan_bytes(data, name, **kw).verdict


def rules(data: bytes, name: str = "x.pkl") -> set[str]:
    return {f.rule for f in scan_bytes(data, name).findings}


class Obj:
    def __init__(self):
        self.a = [1, 2]


# -- policy -----------------------------------------------------------------------------------

@pytest.mark.parametrize("module,name,status", [
    ("os", "system", "deny"), ("posix", "system", "deny"), ("nt", "spawnl", "deny"),
    ("builtins", "eval", "deny"), ("builtins", "getattr", "deny"), ("runpy", "_run_code", "deny"),
    ("torch.serialization", "load", "deny"), ("numpy.testing._private.utils", "runstring", "deny"),
    ("somepkg.util", "Popen", "deny"),  # re-export of subprocess.Popen: judged by name
    ("numpy", "__builtins__", "deny"), ("numpy", "core._internal.sys.modules", "deny"),
    ("torch._utils", "_rebuild_tensor_v2", "allow"), ("collections", "OrderedDict", "allow"),
    ("sklearn.linear_model._logistic", "LogisticRegression", "allow"), ("uuid", "UUID", "allow"),
    ("mypkg", "Thing", "unknown"), ("builtins", "print", "unknown"),
])
def test_policy_judges(module, name, status):
    assert load_policy().judge(module, name).status == status


def test_policy_modes_and_user_allow(tmp_path):
    pol = load_policy()
    assert pol.judge("torch", "float32").mode == "reference"
    assert pol.judge("sklearn.svm._classes", "SVC").mode == "class"
    allow_file = tmp_path / "allow.toml"
    allow_file.write_text('[scan]\nallow = ["mypkg.*"]\n')
    user = load_policy(["other.Thing"], [allow_file])
    assert user.custom == ("other.Thing", "mypkg.*")
    assert user.judge("mypkg.sub", "Model").user and user.judge("other", "Thing").status == "allow"
    assert load_policy().judge("mypkg", "Model").status == "unknown"  # the default is untouched


def test_policy_is_data():
    from importlib import resources

    data = json.loads(resources.files("modellens.data").joinpath("scan_policy.json").read_text())
    assert {"allow", "deny", "dangerous_names"} <= data.keys()
    assert "os.*" in data["deny"] and "torch._utils._rebuild_tensor_v2" in data["allow"]["call"]


# -- judging calls ----------------------------------------------------------------------------

def test_plain_data_and_honest_objects_are_safe():
    assert verdict(pickle.dumps({"a": [1, 2.0, "x", b"y", (None, True)], "s": {1}}, protocol=0)) == "safe"
    assert verdict(pickle.dumps(np.arange(5), protocol=5)) == "safe"
    assert verdict(pickle.dumps(np.float32(2.0))) == "safe"


def test_unknown_class_is_suspicious_naming_it():
    rep = scan_bytes(pickle.dumps(Obj()), "x.pkl")
    assert rep.verdict == "suspicious"
    assert any("tests.test_scan.Obj" in f.message for f in rep.findings)


def test_class_mode_global_called_as_function_is_suspicious():
    # a lower-case sklearn function is not vouched for by the class allowlist
    data = P4 + _call(_sg("sklearn.utils.validation", "check_array"), _u("x")) + STOP
    assert "pickle.unvouched-call" in rules(data)
    # a reference-only global called with arguments
    data = P4 + _call(_sg("torch.nn.functional", "relu"), _u("x")) + STOP
    assert "pickle.unvouched-call" in rules(data)


def test_higher_order_callable_argument_is_judged():
    data = P4 + _call(_sg("torch._tensor", "_rebuild_from_type_v2"),
                      _sg("sklearn.utils.validation", "check_array"), _sg("torch", "Tensor"),
                      b")", b"}") + STOP
    assert "pickle.unvouched-call" in rules(data)


def test_computed_callable_and_obfuscated_global_are_dangerous():
    inner = _call(_sg("builtins", "str"), _u("os"))
    data = P4 + inner + _u("system") + b"\x93" + _u("id") + T1 + R + STOP
    assert "pickle.obfuscated-global" in rules(data) and verdict(data) == "dangerous"
    data = P4 + _call(_call(_sg("mypkg", "factory")), _u("id")) + STOP
    assert "pickle.computed-callable" in rules(data)


def test_build_on_a_global_and_dunder_slot_state_are_dangerous():
    data = P2 + _g("mypkg", "Thing") + b"N}" + _u("x") + b"K\x01s" + b"\x86b." 
    assert "pickle.anomaly" in rules(data) or verdict(data) != "safe"
    data = P2 + _g("numpy", "prod") + b"N}" + _u("x") + b"K\x01s\x86b."
    assert verdict(data) != "safe"
    data = P4 + _call(_sg("collections", "OrderedDict")) + b"N}" + _u("__class__") + \
        _sg("os", "system") + b"s\x86b." 
    assert "pickle.build-dunder" in rules(data)


def test_parse_error_is_error_never_safe():
    assert verdict(P2 + b"]\xff", "x.pkl") == "error"
    assert verdict(b"\x80\x02(K\x01", "x.pkl") == "error"
    # a dangerous call before the error stays dangerous: the unpickler already ran it
    assert verdict(P2 + _call(_g("os", "system"), _u("id")) + b"\xff") == "dangerous"


def test_memo_overwrite_anomaly_core_change():
    data = P4 + _u("a") + b"q\x00" + _u("b") + b"q\x00" + b"0." 
    r = walk(data, name="x", strict=False)
    assert any("memo entry 0 overwritten" in e.detail for e in r.anomalies)
    assert "pickle.anomaly" in rules(data)


def test_call_events_carry_their_node_core_change():
    r = walk(pickle.dumps(Obj(), protocol=2), name="x")
    (c,) = [e for e in r.events if e.kind == "call"]
    assert c.node is not None and c.node.callable.name == "Obj"
    folded = walk(pickle.dumps({1, 2}, protocol=2), name="x")
    assert all(e.node is None for e in folded.events if e.kind == "call")


def test_trailing_data_and_several_pickles():
    good = pickle.dumps([1, 2], protocol=4)
    assert "pickle.trailing-data" in rules(good + b"\x00\x01garbage")
    rep = scan_bytes(good + pickle.dumps(Obj(), protocol=4), "x.pkl")
    assert rep.verdict == "suspicious" and "pickle.multiple-streams" in {f.rule for f in rep.findings}


def test_nested_pickle_in_bytes_is_judged():
    inner = pickle.dumps(Obj(), protocol=2)
    outer = pickle.dumps({"blob": inner}, protocol=4)
    rep = scan_bytes(outer, "x.pkl")
    assert rep.verdict == "suspicious"
    assert any(f.location.member and "nested pickle" in f.location.member for f in rep.findings)


def test_persistent_ids_ext_and_buffers_outside_torch():
    assert "pickle.persistent-id" in rules(b"\x80\x02X\x01\x00\x00\x00aQ.")
    assert "pickle.extension-code" in rules(b"\x80\x02\x82\x05.")
    assert "pickle.out-of-band" in rules(b"\x80\x05\x97.")


def test_protocol0_text_forms():
    assert verdict(b"(S'id'\nios\nsystem\n.") == "dangerous"  # INST
    assert verdict(b"(cos\nsystem\nS'id'\no.") == "dangerous"  # OBJ
    assert verdict(b"c__builtin__\neval\n(S'1'\ntR.") == "dangerous"  # fix_imports


# -- containers -------------------------------------------------------------------------------

def test_torch_zip_reads_only_pickle_members(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "m.pt"
    torch.save({"w": torch.zeros(1000, 1000)}, p)
    rep = scan_path(p)
    assert rep.verdict == "safe" and rep.files[0].format == "pytorch-zip"


def test_pickle_hidden_in_storage_member_is_found(tmp_path):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(4)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n in src.namelist():
            z.writestr(n, src.read(n))
        z.writestr("archive/extra/evil", pickle.dumps(Obj(), protocol=2))
    rep = scan_bytes(out.getvalue(), "m.pt")
    assert rep.verdict == "suspicious"
    assert any("archive/extra/evil" in (f.location.member or "") for f in rep.findings)


@pytest.mark.parametrize("pad", [0, 10_000, 100_000], ids=["at-start", "past-window", "past-probe"])
def test_pickle_in_a_real_storage_member(tmp_path, pad):
    """torch.save itself writes the pickle bytes as a tensor's storage (a uint8 tensor over them),
    read from disk (the pread path); a long text prefix pushes the import past the first 4 KiB
    window (found by the 64 KiB walk) or past the probe (not looked for: documented bound)."""
    torch = pytest.importorskip("torch")
    payload = (b"S'" + b"x" * pad + b"'\n0") if pad else b""
    payload += pickle.dumps(Obj(), protocol=0)
    p = tmp_path / "m.pt"
    torch.save({"w": torch.zeros(4), "blob": torch.frombuffer(bytearray(payload), dtype=torch.uint8)},
               p)
    assert pickle.loads(payload).__class__.__name__ == "Obj"  # the bytes really are a pickle
    rep = scan_path(p)
    hits = [f for f in rep.files[0].findings if f.rule == "zip.pickle-in-storage"]
    if pad < 64 << 10:
        assert rep.verdict == "suspicious" and hits and "/data/" in hits[0].location.member
        assert any(f.rule == "pickle.unknown-global" and "tests.test_scan.Obj" in f.message
                   for f in rep.files[0].findings)
    else:
        assert rep.verdict == "safe" and not hits


def test_zip_anomalies():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.txt", "x")
        z.writestr("/abs.txt", "x")
        with pytest.warns(UserWarning):
            z.writestr("a.txt", "y")
        z.writestr(zipfile.ZipInfo("big.bin"), b"\x00" * (3 << 20), compress_type=zipfile.ZIP_DEFLATED)
    r = rules(out.getvalue(), "a.zip")
    assert {"zip.path-traversal", "zip.duplicate-name", "zip.compression-ratio"} <= r


def test_zip_hidden_local_entry_and_prefix():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.txt", "x")
    raw = out.getvalue()
    hidden = io.BytesIO()
    with zipfile.ZipFile(hidden, "w") as z:
        z.writestr("evil.pkl", pickle.dumps(Obj(), protocol=2))
    local_only = hidden.getvalue()[: hidden.getvalue().find(b"PK\x01\x02")]
    # a local entry the directory does not list, placed before the real archive
    cd = raw.find(b"PK\x01\x02")
    data = local_only + raw
    rep = scan_bytes(data, "a.zip")
    assert {"zip.hidden-entry", "zip.prefix-data"} & {f.rule for f in rep.findings}
    assert rep.verdict == "suspicious" and cd > 0


def test_npy_object_array_and_plain_npy():
    buf = io.BytesIO()
    np.save(buf, np.arange(3))
    assert verdict(buf.getvalue(), "a.npy") == "safe"
    buf = io.BytesIO()
    np.save(buf, np.array([Obj()], dtype=object), allow_pickle=True)
    rep = scan_bytes(buf.getvalue(), "a.npy")
    assert rep.verdict == "suspicious" and "numpy.object-array" in {f.rule for f in rep.findings}


def test_decompression_bomb_is_bounded(monkeypatch):
    import gzip

    from modellens.core import io as core_io
    from modellens.security import containers

    monkeypatch.setattr(containers, "LIMITS", core_io.Limits(max_decompressed_bytes=1 << 20))
    data = gzip.compress(b"\x00" * (4 << 20))
    rep = scan_bytes(data, "a.joblib")
    assert rep.verdict == "error" and "archive.bomb" in {f.rule for f in rep.findings}


def test_unknown_content_with_model_name_is_error_and_text_is_skipped(tmp_path):
    assert verdict(b"\x01\x02\x03\x04" * 10, "weights.pt") == "error"
    (tmp_path / "README.md").write_text("# hello")
    (tmp_path / "notes.txt").write_text("cos\nsystem\n")  # not claimed: no pickle structure
    (tmp_path / "m.bin").write_bytes(b"\x00" * 16)
    rep = scan_path(tmp_path)
    assert [Path(f.path).name for f in rep.files] == ["m.bin"] and rep.verdict == "error"


# -- other formats ----------------------------------------------------------------------------

def test_chat_templates(tmp_path):
    from modellens.security.context import ScanContext
    from modellens.security.templates import check_template

    def judge(t: str) -> str:
        ctx = ScanContext(load_policy(), "x")
        check_template(ctx, t, None)
        return max((f.severity for f in ctx.findings), default=Severity.INFO).verdict

    ok = ("{% set ns = namespace(found=false) %}{% for m in messages %}{{ m['role'] | upper }}"
          "{% if loop.last %}{{ raise_exception('no') }}{% endif %}{% endfor %}{{ tools | tojson }}")
    assert judge(ok) == "safe"
    assert judge("{{ ''.__class__.__mro__[1].__subclasses__() }}") == "dangerous"
    assert judge("{{ lipsum.__globals__['os'] }}") == "dangerous"
    assert judge("{{ joiner.__init__.__globals__ }}") == "dangerous"
    assert judge("{{ x|attr('__cla' ~ 'ss__') }}") != "safe"
    assert judge("{{ x[('__cla' ~ 'ss__')] }}") == "dangerous"
    assert judge("{{ '{0.__class__}'.format(x) }}") == "dangerous"
    assert judge("{{ func.__code__ }}") == "dangerous"
    assert judge("{% if %}") == "error"
    cfg = tmp_path / "tokenizer_config.json"
    cfg.write_text(json.dumps({"chat_template": "{{ cycler.__init__.__globals__.os }}"}))
    assert scan_path(tmp_path).verdict == "dangerous"


def test_gguf_and_safetensors_header_abuse():
    assert verdict(b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 30), "m.gguf") == "suspicious"
    hdr = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\xff":{}}'
    assert verdict(struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 4, "m.safetensors") == "suspicious"


def test_onnx_symlink_escape(tmp_path):
    onnx = pytest.importorskip("onnx")
    from tests.scan_corpus.malicious import _onnx_external

    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\x00" * 16)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "w.bin").symlink_to(outside)
    (model_dir / "m.onnx").write_bytes(_onnx_external(tmp_path, "w.bin"))
    rep = scan_path(model_dir / "m.onnx")
    assert rep.verdict == "dangerous" and onnx is not None


# -- report, JSON, SARIF, CLI -----------------------------------------------------------------

def _mal(tmp_path: Path) -> Path:
    p = tmp_path / "evil.pkl"
    p.write_bytes(P2 + _call(_g("os", "system"), _u("id")) + STOP)
    return p


def test_json_contract(tmp_path):
    _mal(tmp_path)
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps([1]))
    d = scan_path(tmp_path).to_dict()
    assert d["schema"] == "modellens.scan/1" and d["verdict"] == "dangerous"
    assert d["summary"]["files"] == 2 and d["summary"]["by_verdict"]["dangerous"] == 1
    f = next(x for x in d["files"] if x["path"].endswith("evil.pkl"))
    assert {"path", "format", "verdict", "findings"} <= f.keys()
    finding = f["findings"][0]
    assert {"severity", "rule", "message", "location"} <= finding.keys()
    assert finding["location"]["offset"] is not None and finding["severity"] == "dangerous"


def test_sarif(tmp_path):
    s = scan_path(_mal(tmp_path)).to_sarif()
    assert s["version"] == "2.1.0" and s["runs"][0]["tool"]["driver"]["name"] == "modellens"
    res = s["runs"][0]["results"][0]
    assert res["level"] == "error" and res["ruleId"] == "pickle.dangerous-global"


def test_cli_exit_codes_and_outputs(tmp_path):
    evil = _mal(tmp_path)
    ok = tmp_path / "ok.pkl"
    ok.write_bytes(pickle.dumps({"a": 1}))
    sus = tmp_path / "sus.pkl"
    sus.write_bytes(pickle.dumps(Obj()))
    res = run_cli("scan", ok)
    assert res.code == 0 and res.stdout.startswith("SAFE")
    res = run_cli("scan", evil)
    assert res.code == 1 and res.stdout.startswith("DANGEROUS") and "os.system" in res.stdout
    assert run_cli("scan", sus).code == 1
    assert run_cli("scan", sus, "--fail-on", "dangerous").code == 0
    res = run_cli("scan", sus, "--allow", "tests.test_scan.Obj", "--json")
    d = res.json()
    assert res.code == 0 and d["verdict"] == "safe" and d["policy"]["custom"] is True
    res = run_cli("scan", evil, ok, "--json")
    assert res.code == 1 and res.json()["summary"]["files"] == 2
    res = run_cli("scan", evil, "--sarif")
    assert json.loads(res.stdout)["version"] == "2.1.0"
    res = run_cli("scan", tmp_path / "missing.pkl")
    assert res.code == 2 and res.stderr.startswith("modellens: error:")
    res = run_cli("scan", ok, "--fail-on", "bogus")
    assert res.code == 2
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02\xff\xff")
    assert run_cli("scan", bad, "--fail-on", "dangerous").code == 1  # error never passes


def test_savedmodel_and_tar_links(tmp_path):
    import tarfile

    sm = tmp_path / "sm"
    sm.mkdir()
    (sm / "saved_model.pb").write_bytes(b"\x08\x01" + b"op: EagerPyFunc" + b"\x00" * 8)
    (sm / "keras_metadata.pb").write_bytes(b'{"class_name": "Lambda", "config": {}}')
    rep = scan_path(sm)
    assert rep.verdict == "dangerous" and len(rep.files) == 2
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        ti = tarfile.TarInfo("../up.txt")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
        link = tarfile.TarInfo("ln")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    r = rules(out.getvalue(), "m.tar.gz")
    assert {"archive.path-traversal", "archive.link"} <= r
