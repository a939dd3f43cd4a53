"""Graph formats side by side with their reference libraries; prints ratios.

    python benchmarks/bench_graph.py [--external-gb 2] [--inline-mb 512] [--tflite-mb 512] [--keep DIR]

Cases (each side runs in a fresh process; time is wall time of the read + graph walk, memory is
the process's peak RSS, both after imports):

1. ONNX with external data (an MLP of 4096x4096 F32 layers, ``--external-gb`` of weights in one
   sparse ``.data`` file): ``modellens.layouts.read_path`` vs ``onnx.load(load_external_data=False)``
   + walking nodes and initializers.
2. A single-file ONNX with inline weights (``--inline-mb``): the same two.
3. A TFLite flatbuffer with large constant buffers (``--tflite-mb``), written with the ``tflite``
   package's generated builder: modellens vs ``tflite.Model.GetRootAsModel`` over the file's
   bytes + walking subgraphs, tensors and buffers.

The target: modellens no slower than the reference, memory independent of weight size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HIDDEN = 4096
LAYER_BYTES = HIDDEN * HIDDEN * 4


def make_onnx_external(path: Path, gb: float) -> None:
    from onnx import TensorProto, helper, save

    layers = max(1, int(gb * 2**30 // LAYER_BYTES))
    inits, nodes, x = [], [], "x"
    for i in range(layers):
        t = TensorProto(name=f"layer{i}.weight", data_type=TensorProto.FLOAT, dims=[HIDDEN, HIDDEN])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", path.name + ".data"), ("offset", str(i * LAYER_BYTES)),
                     ("length", str(LAYER_BYTES))):
            e = t.external_data.add()
            e.key, e.value = k, v
        inits.append(t)
        nodes += [helper.make_node("MatMul", [x, t.name], [f"h{i}"]), helper.make_node("Relu", [f"h{i}"], [f"r{i}"])]
        x = f"r{i}"
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", HIDDEN])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", HIDDEN])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with open(str(path) + ".data", "wb") as f:  # sparse: the bytes are never read by either side
        f.truncate(layers * LAYER_BYTES)


def make_onnx_inline(path: Path, mb: float) -> None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save

    n = 1024
    layers = max(1, int(mb * 2**20 // (n * n * 4)))
    rng = np.random.default_rng(0)
    inits, nodes, x = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.standard_normal((n, n), dtype=np.float32), f"layer{i}.weight"))
        nodes += [helper.make_node("MatMul", [x, f"layer{i}.weight"], [f"h{i}"]),
                  helper.make_node("Relu", [f"h{i}"], [f"r{i}"])]
        x = f"r{i}"
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", n])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def make_tflite(path: Path, mb: float) -> None:
    import flatbuffers
    import numpy as np
    import tflite

    n = 1024
    layers = max(1, int(mb * 2**20 // (n * n * 4)))
    b = flatbuffers.Builder(int(mb * 2**20) + 2**20)
    data = np.zeros(n * n * 4, np.uint8)
    buffers = []
    for _ in range(layers + 1):
        vec = b.CreateNumpyVector(data) if buffers else None
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        buffers.append(tflite.BufferEnd(b))
    tensors = []
    for i in range(2 * layers + 1):
        name = b.CreateString(f"t{i}")
        tflite.TensorStartShapeVector(b, 2)
        b.PrependInt32(n)
        b.PrependInt32(1 if i % 2 == 0 else n)
        shape = b.EndVector()
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, 0)
        tflite.TensorAddName(b, name)
        tflite.TensorAddBuffer(b, (i + 1) // 2 if i % 2 else 0)
        tensors.append(tflite.TensorEnd(b))
    ops = []
    for i in range(layers):
        ins = b.CreateNumpyVector(np.array([2 * i, 2 * i + 1], np.int32))
        outs = b.CreateNumpyVector(np.array([2 * i + 2], np.int32))
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, 0)
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        ops.append(tflite.OperatorEnd(b))

    def vec(start, items):
        start(b, len(items))
        for it in reversed(items):
            b.PrependUOffsetTRelative(it)
        return b.EndVector()

    t_vec = vec(tflite.SubGraphStartTensorsVector, tensors)
    o_vec = vec(tflite.SubGraphStartOperatorsVector, ops)
    i_vec = b.CreateNumpyVector(np.array([0], np.int32))
    out_vec = b.CreateNumpyVector(np.array([2 * layers], np.int32))
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, t_vec)
    tflite.SubGraphAddOperators(b, o_vec)
    tflite.SubGraphAddInputs(b, i_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    sg = tflite.SubGraphEnd(b)
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, 9)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, 9)
    code = tflite.OperatorCodeEnd(b)
    codes = vec(tflite.ModelStartOperatorCodesVector, [code])
    sgs = vec(tflite.ModelStartSubgraphsVector, [sg])
    bufs = vec(tflite.ModelStartBuffersVector, buffers)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, sgs)
    tflite.ModelAddBuffers(b, bufs)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    path.write_bytes(b.Output())


SIDES = {
    "modellens": """
        from modellens.layouts import layouts, read_path
        from modellens.formats import formats
        layouts(), formats()  # the registries import every reader once per process
        rss0 = hwm()
        t0 = time.perf_counter()
        info = read_path(PATH)
        n = (info.parameters, len(info.tensors), (info.graph or {}).get("node_count"))
    """,
    "onnx": """
        import onnx
        rss0 = hwm()
        t0 = time.perf_counter()
        m = onnx.load(PATH, load_external_data=False)
        ops = {}
        for node in m.graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
        params = 0
        for t in m.graph.initializer:
            p = 1
            for d in t.dims:
                p *= d
            params += p
        n = (params, len(m.graph.initializer), sum(ops.values()))
    """,
    "tflite": """
        import tflite
        rss0 = hwm()
        t0 = time.perf_counter()
        with open(PATH, "rb") as f:
            buf = f.read()
        m = tflite.Model.GetRootAsModel(buf, 0)
        params = count = 0
        for s in range(m.SubgraphsLength()):
            sg = m.Subgraphs(s)
            for i in range(sg.TensorsLength()):
                t = sg.Tensors(i)
                if m.Buffers(t.Buffer()).DataLength():
                    p = 1
                    for d in t.ShapeAsNumpy():
                        p *= int(d)
                    params += p
                    count += 1
            ops = sg.OperatorsLength()
        n = (params, count, ops)
    """,
}


# Peak RSS from /proc (kB): getrusage's ru_maxrss survives exec and would report the parent's peak.
# RssAnon after the read is the heap the reader built; VmHWM also counts file pages a memory map
# brought in (the kernel's readahead around each header touched), which the kernel can drop.
_HWM = """
def _status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0
def hwm():
    return _status("VmHWM")
def anon():
    return _status("RssAnon")
"""


def run_side(side: str, path: Path, repeat: int = 3) -> dict:
    code = "import time, json\nPATH = %r\n" % str(path) + _HWM + textwrap.dedent(SIDES[side]) + textwrap.dedent("""
        dt = time.perf_counter() - t0
        rss1 = hwm()
        print(json.dumps({"seconds": dt, "read_rss_mb": (rss1 - rss0) / 1024, "peak_rss_mb": rss1 / 1024,
                          "anon_mb": anon() / 1024,
                          "result": n}))
    """)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        runs.append({**json.loads(out), "process_seconds": time.perf_counter() - t})
    best = min(runs, key=lambda r: r["seconds"])
    best["process_seconds"] = min(r["process_seconds"] for r in runs)
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["read_rss_mb"] = max(r["read_rss_mb"] for r in runs)
    best["anon_mb"] = max(r["anon_mb"] for r in runs)
    return best


def compare(title: str, path: Path, ref: str, size: int) -> None:
    ours, theirs = run_side("modellens", path), run_side(ref, path)
    print(f"\n{title}  ({size / 2**30:.2f} GiB of weights)")
    for name, r in (("modellens", ours), (ref, theirs)):
        print(f"  {name:10s} read {r['seconds'] * 1000:9.1f} ms   whole process {r['process_seconds'] * 1000:7.0f} ms"
              f"   peak RSS {r['peak_rss_mb']:7.1f} MB (+{r['read_rss_mb']:.0f} in the read)"
              f"   anonymous RSS after {r['anon_mb']:7.1f} MB   {r['result']}")
    print(f"  ratio (reference / modellens): read time {theirs['seconds'] / ours['seconds']:.2f}x, whole process "
          f"{theirs['process_seconds'] / ours['process_seconds']:.2f}x, peak memory "
          f"{theirs['peak_rss_mb'] / ours['peak_rss_mb']:.2f}x, anonymous memory {theirs['anon_mb'] / ours['anon_mb']:.2f}x")
    if ours["result"][0] != theirs["result"][0]:
        print(f"  !! parameter counts differ: {ours['result'][0]} vs {theirs['result'][0]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--external-gb", type=float, default=2.0)
    ap.add_argument("--inline-mb", type=float, default=512)
    ap.add_argument("--tflite-mb", type=float, default=512)
    ap.add_argument("--keep", help="write the generated models here and keep them")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="modellens-bench-") as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        ext = out / "mlp_external.onnx"
        make_onnx_external(ext, args.external_gb)
        compare("ONNX, external data", ext, "onnx", os.path.getsize(str(ext) + ".data"))
        inline = out / "mlp_inline.onnx"
        make_onnx_inline(inline, args.inline_mb)
        compare("ONNX, inline weights (single file)", inline, "onnx", inline.stat().st_size)
        tfl = out / "mlp.tflite"
        make_tflite(tfl, args.tflite_mb)
        compare("TFLite", tfl, "tflite", tfl.stat().st_size)


if __name__ == "__main__":
    main()
