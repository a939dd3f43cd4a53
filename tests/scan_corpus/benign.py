"""Honest model files that ``modellens scan`` must call **safe**, written by their own libraries.

    python -m tests.scan_corpus.benign DEST        # or: build(Path(DEST)) -> {name: path}

Everything here is what people really publish: torch state dicts (bf16, tied weights), whole
``torch.nn`` modules, optimizer / scheduler state, a transformers checkpoint and its
``training_args.bin``, scikit-learn estimators and pipelines (pickle and joblib with every
compression), pandas objects, numpy arrays and scalars, Keras files without Lambda layers,
GGUF files with ordinary chat templates, ONNX with ordinary external data.  Heavy writers
(torch, transformers, sklearn, h5py, onnx) are imported inside the builders; a builder whose
library is missing is skipped.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Callable

__all__ = ["build", "BUILDERS"]

BUILDERS: dict[str, Callable[[Path], list[Path]]] = {}


def _builder(fn: Callable[[Path], list[Path]]) -> Callable[[Path], list[Path]]:
    BUILDERS[fn.__name__.removeprefix("_b_")] = fn
    return fn


@_builder
def _b_torch(d: Path) -> list[Path]:
    import torch

    torch.manual_seed(0)
    out = []
    lin = torch.nn.Linear(8, 4)
    emb = torch.nn.Embedding(16, 8)
    head = torch.nn.Linear(8, 16, bias=False)
    head.weight = emb.weight  # tied weights
    sd = {"emb": emb.state_dict(), "head": head.state_dict(), "lin": lin.state_dict()}
    p = d / "state_dict.pt"
    torch.save(sd, p)
    out.append(p)
    p = d / "bf16.bin"
    torch.save({k: v.to(torch.bfloat16) for k, v in lin.state_dict().items()}, p)
    out.append(p)
    p = d / "mixed_dtypes.pth"
    torch.save({"f16": torch.zeros(3, dtype=torch.float16), "i64": torch.arange(4),
                "bool": torch.ones(2, dtype=torch.bool), "u8": torch.zeros(2, dtype=torch.uint8),
                "f8": torch.zeros(2).to(torch.float8_e4m3fn), "c64": torch.zeros(2, dtype=torch.complex64),
                "view": torch.arange(10.0)[2:6], "size": torch.Size([2, 3]),
                "device": torch.device("cpu"), "dtype": torch.float32, "epoch": 3}, p)
    out.append(p)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.LayerNorm(8),
                                torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                                torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.1))
    p = d / "whole_module.pt"
    torch.save(model, p)
    out.append(p)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    model[0](torch.randn(2, 4)).sum().backward()
    opt.step()
    sched.step()
    p = d / "training_state.ckpt"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "step": 1,
                "rng": torch.get_rng_state()}, p)
    out.append(p)
    sgd = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    lin(torch.randn(1, 8)).sum().backward()
    sgd.step()
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, 5)
    p = d / "optimizer.pt"
    torch.save({"optimizer": sgd.state_dict(), "scheduler": cos.state_dict()}, p)
    out.append(p)
    p = d / "legacy.pt"
    torch.save(lin.state_dict(), p, _use_new_zipfile_serialization=False)
    out.append(p)
    p = d / "legacy_p2.bin"
    torch.save({"w": torch.arange(6.0).reshape(2, 3)[:, 1]}, p, _use_new_zipfile_serialization=False,
               pickle_protocol=2)
    out.append(p)
    p = d / "torchscript.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())).save(str(p))
    out.append(p)
    p = d / "tensor_p4.pt"
    torch.save(torch.arange(5), p, pickle_protocol=4)
    out.append(p)
    return out


@_builder
def _b_transformers(d: Path) -> list[Path]:
    import torch
    import transformers

    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=32)
    model = transformers.GPT2LMHeadModel(cfg)  # lm_head tied to wte
    folder = d / "hf-gpt2"
    model.save_pretrained(folder, safe_serialization=False)
    args = transformers.TrainingArguments(output_dir=str(d / "unused-out"), report_to=[],
                                          per_device_train_batch_size=2)
    torch.save(args, folder / "training_args.bin")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model(torch.tensor([[1, 2, 3]]), labels=torch.tensor([[1, 2, 3]])).loss.backward()
    opt.step()
    sched = transformers.get_linear_schedule_with_warmup(opt, 2, 10)
    sched.step()
    torch.save(opt.state_dict(), folder / "optimizer.pt")
    torch.save(sched.state_dict(), folder / "scheduler.pt")
    torch.save({"python": 1, "numpy": __import__("numpy").random.get_state(),
                "cpu": torch.random.get_rng_state()}, folder / "rng_state.pth")
    bert = transformers.BertForMaskedLM(transformers.BertConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32,
        vocab_size=64, max_position_embeddings=32)).to(torch.bfloat16)
    bert.save_pretrained(d / "hf-bert-bf16", safe_serialization=False)
    return [folder, d / "hf-bert-bf16"]


def _sk_models() -> dict:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    X, y = make_classification(n_samples=60, n_features=6, random_state=0)
    models = {
        "logreg": LogisticRegression(max_iter=200).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y),
        "gbdt": GradientBoostingClassifier(n_estimators=3, random_state=0).fit(X, y),
        "hgb": HistGradientBoostingClassifier(max_iter=3).fit(X, y),
        "pipeline": Pipeline([("scale", StandardScaler()), ("pca", PCA(3)), ("svc", SVC(probability=True))]).fit(X, y),
        "knn": KNeighborsClassifier(3).fit(X, y),
        "kmeans": KMeans(2, n_init=2, random_state=0).fit(X),
        "tfidf": TfidfVectorizer().fit(["a cat", "a dog", "the bird sings"]),
    }
    cats = np.array([["a", 1.0], ["b", 2.0], ["a", 3.0]], dtype=object)
    models["columns"] = Pipeline([("ct", ColumnTransformer([("oh", OneHotEncoder(), [0])],
                                                          remainder="passthrough")),
                                  ("lr", LogisticRegression())]).fit(cats, [0, 1, 0])
    return models


@_builder
def _b_sklearn(d: Path) -> list[Path]:
    import joblib

    out = []
    for name, model in _sk_models().items():
        p = d / f"sk_{name}.pkl"
        p.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        out.append(p)
        p = d / f"sk_{name}.joblib"
        joblib.dump(model, p)
        out.append(p)
    model = _sk_models()["pipeline"]
    for comp in ("zlib", "gzip", "bz2", "lzma", "xz"):
        p = d / f"sk_pipeline_{comp}.joblib"
        joblib.dump(model, p, compress=(comp, 3))
        out.append(p)
    p = d / "sk_logreg_p2.pkl"
    p.write_bytes(pickle.dumps(_sk_models()["logreg"], protocol=2))
    out.append(p)
    return out


@_builder
def _b_pandas(d: Path) -> list[Path]:
    import numpy as np
    import pandas as pd

    df = pd.DataFrame({"a": np.arange(4), "b": np.linspace(0, 1, 4), "c": list("wxyz"),
                       "d": pd.Categorical(list("abab")),
                       "t": pd.date_range("2024-01-01", periods=4, tz="UTC")})
    out = []
    for name, obj in {"frame": df, "series": df["b"], "index": pd.Index([3, 1, 2]),
                      "multi": df.set_index(["c", "d"])}.items():
        p = d / f"pd_{name}.pkl"
        p.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        out.append(p)
    return out


@_builder
def _b_numpy(d: Path) -> list[Path]:
    import numpy as np

    out = []
    values = {"arrays": [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int8),
                         np.asfortranarray(np.ones((2, 2)))],
              "scalars": [np.float32(1.5), np.int64(3), np.bool_(True), np.datetime64("2024-01-01")],
              "dtype": np.dtype("<f4")}
    for proto in (2, 4, 5):
        p = d / f"np_p{proto}.pkl"
        p.write_bytes(pickle.dumps(values, protocol=proto))
        out.append(p)
    p = d / "array.npy"
    np.save(p, np.arange(10.0))
    out.append(p)
    p = d / "arrays.npz"
    np.savez(p, a=np.arange(3), b=np.ones((2, 2)))
    out.append(p)
    p = d / "arrays_compressed.npz"
    np.savez_compressed(p, a=np.arange(3))
    out.append(p)
    p = d / "strings_object.npy"
    np.save(p, np.array(["a", "bc", None], dtype=object), allow_pickle=True)
    out.append(p)
    p = d / "plain_p0.pkl"
    p.write_bytes(pickle.dumps({"lr": 0.1, "layers": [1, 2], "name": "x", "t": (1, b"\x00")}, protocol=0))
    out.append(p)
    return out


@_builder
def _b_safetensors(d: Path) -> list[Path]:
    import numpy as np
    from safetensors.numpy import save_file

    p = d / "model.safetensors"
    save_file({"w": np.ones((2, 3), dtype=np.float32), "b": np.zeros(3, dtype=np.float16)}, str(p),
              metadata={"format": "pt"})
    return [p]


@_builder
def _b_gguf(d: Path) -> list[Path]:
    import gguf
    import numpy as np

    p = d / "chat.gguf"
    w = gguf.GGUFWriter(str(p), "llama")
    w.add_chat_template(
        "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] | trim }}"
        "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
        "{% endfor %}{% if tools %}{{ tools | tojson }}{% endif %}{{ raise_exception('x') if false }}")
    w.add_tensor("w", np.ones((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return [p]


def _keras_config(lambda_layer: bool) -> dict:
    layers = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "in"}},
              {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "relu"}}]
    if lambda_layer:
        layers.append({"class_name": "Lambda", "config": {"name": "lam", "function": None}})
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}


@_builder
def _b_keras(d: Path) -> list[Path]:
    import h5py
    import numpy as np

    p = d / "model.h5"
    with h5py.File(p, "w") as f:
        f.attrs["model_config"] = json.dumps(_keras_config(False))
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        g = f.create_group("model_weights/dense/dense")
        g.create_dataset("kernel:0", data=np.ones((4, 2), dtype=np.float32))
    p2 = d / "model.keras"
    with zipfile.ZipFile(p2, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.writestr("config.json", json.dumps({"module": "keras", **_keras_config(False)}))
        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            f.create_dataset("layers/dense/vars/0", data=np.ones((4, 2), dtype=np.float32))
        z.writestr("model.weights.h5", buf.getvalue())
    return [p, p2]


@_builder
def _b_onnx(d: Path) -> list[Path]:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    folder = d / "onnx-external"
    folder.mkdir(exist_ok=True)
    w = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [1, 4])], [w])
    model = helper.make_model(graph)
    onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.data", size_threshold=0)
    return [folder]


def build(dest: Path, only: list[str] | None = None) -> dict[str, Path]:
    """Write every benign sample under ``dest``; returns name -> path (files and folders)."""
    dest.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    for key, fn in BUILDERS.items():
        if only is not None and key not in only:
            continue
        sub = dest / key
        sub.mkdir(exist_ok=True)
        try:
            paths = fn(sub)
        except ImportError:
            continue
        for p in paths:
            made[f"{key}/{p.name}"] = p
    return made


if __name__ == "__main__":  # pragma: no cover
    for name, path in build(Path(sys.argv[1])).items():
        print(name, path)
