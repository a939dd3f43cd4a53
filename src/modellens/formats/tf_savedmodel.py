"""TensorFlow SavedModel folders, read without TensorFlow.

A SavedModel (``tf.saved_model.save``, Keras ``model.export``;
``tensorflow/core/protobuf/saved_model.proto``, ``meta_graph.proto``) is a folder::

    saved_model.pb                     SavedModel { saved_model_schema_version 1, meta_graphs 2 }
    variables/variables.index          a tensor bundle index (see ``tf_checkpoint``)
    variables/variables.data-*-of-*    the variables' bytes
    assets/                            vocabularies and other files the graph reads
    fingerprint.pb                     FingerprintDef (hashes of the parts; TF >= 2.12)

Fields read from each MetaGraphDef::

    1 meta_info_def   { 4 tags, 5 tensorflow_version, 1 meta_graph_version }
    2 graph_def       { 1 node { 2 op }, 2 library { 1 function { 3 node_def { 2 op } } }, 4 versions }
    5 signature_def   map<string, SignatureDef { 1 inputs, 2 outputs: map<string, TensorInfo
                      { 1 name, 2 dtype, 3 tensor_shape }>, 3 method_name }>
    6 asset_file_def  { 2 filename }
    7 object_graph_def { 1 nodes: SavedObject { 1 children { 1 node_id, 2 local_name },
                        7 variable { 1 dtype, 2 shape, 3 trainable, 6 name } } }

The variables are listed from ``variables.index`` under their checkpoint keys (what
``tf.train.list_variables`` prints).  A key is the path of local names from the root object
(``/``-joined, ``.`` and ``/`` escaped as ``..`` and ``./``) and names a SavedVariable of the
object graph: its name and ``trainable`` flag come from there.  Keras' ``export`` tracks each
weight twice (``variables/N`` and ``_all_variables/M``, two objects with the same bytes); a
variable whose name, dtype, shape and crc32c equal an earlier one's is listed as its alias, so
the parameter count matches ``model.count_params()``.

This module shares the checkpoint reader and the DataType table with ``tf_checkpoint`` (one
family, one table), the only cross-format import of the package.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core.errors import CorruptFileError, UnsupportedFormatError
from ..core.io import ByteSource, LocalTree, Tree, check_limit
from ..core.model import FileInfo, ModelInfo, TensorInfo
from . import FormatSpec, Probe, register
from ._protobuf import Buffer, WireError, fields, text, to_signed
from .tf_checkpoint import (checkpoint_tensors, data_file_names, dtype_name, read_index,
                            shape_of)

__all__ = ["parse_saved_model", "read_folder", "FORMAT_ID"]

FORMAT_ID = "tf-savedmodel"
MAX_NODES_COUNTED = 5_000_000
MAX_SIGNATURES = 10_000
MAX_SAVED_MODEL_BYTES = 2**31  # protobuf's own message limit
_INIT_SIGNATURE = "__saved_model_init_op"


def _map_entries(buf: Buffer, span: tuple[int, int]) -> tuple[str, tuple[int, int] | None]:
    key, value = "", None
    for fno, wt, v in fields(buf, *span):
        if fno == 1 and wt == 2:
            key = text(buf, v, 4096)
        elif fno == 2 and wt == 2:
            value = v
    return key, value


def _tensor_info(buf: Buffer, key: str, span: tuple[int, int] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": key, "dtype": None, "shape": None}
    if span is None:
        return entry
    for fno, wt, v in fields(buf, *span):
        if fno == 1 and wt == 2:
            entry["tensor"] = text(buf, v, 4096)
        elif fno == 2 and wt == 0:
            entry["dtype"] = dtype_name(v)
        elif fno == 3 and wt == 2:
            dims, unknown = shape_of(buf, v)
            entry["shape"] = None if unknown else [d if d >= 0 else None for d in dims]
        elif fno in (4, 5):
            entry["encoding"] = "coo_sparse" if fno == 4 else "composite_tensor"
    return entry


def _signature(buf: Buffer, span: tuple[int, int]) -> dict[str, Any]:
    sig: dict[str, Any] = {"inputs": [], "outputs": [], "method_name": None}
    for fno, wt, v in fields(buf, *span):
        if fno in (1, 2) and wt == 2:
            key, value = _map_entries(buf, v)
            sig["inputs" if fno == 1 else "outputs"].append(_tensor_info(buf, key, value))
        elif fno == 3 and wt == 2:
            sig["method_name"] = text(buf, v, 4096)
    for side in ("inputs", "outputs"):
        sig[side].sort(key=lambda e: e["name"])
    return sig


def _count_ops(buf: Buffer, span: tuple[int, int], ops: Counter, budget: list[int]) -> int:
    """Count the op types of a GraphDef's nodes and of its function library; returns the number
    of functions."""
    functions = 0
    for fno, wt, v in fields(buf, *span):
        if fno == 1 and wt == 2:
            _node_op(buf, v, ops, budget)
        elif fno == 2 and wt == 2:  # FunctionDefLibrary
            for f2, w2, v2 in fields(buf, *v):
                if f2 == 1 and w2 == 2:
                    functions += 1
                    for f3, w3, v3 in fields(buf, *v2):
                        if f3 == 3 and w3 == 2:
                            _node_op(buf, v3, ops, budget)
    return functions


def _node_op(buf: Buffer, span: tuple[int, int], ops: Counter, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        return
    for fno, wt, v in fields(buf, *span):
        if fno == 2 and wt == 2:
            ops[text(buf, v, 256)] += 1
            return


def _object_graph(buf: Buffer, span: tuple[int, int]) -> list[dict[str, Any]]:
    """Each SavedObject: its children {local_name: node_id} and, for variables, name/dtype/
    shape/trainable; other kinds only by name."""
    nodes: list[dict[str, Any]] = []
    for fno, wt, v in fields(buf, *span):
        if fno != 1 or wt != 2:
            continue
        node: dict[str, Any] = {"children": {}, "kind": None}
        for f2, w2, v2 in fields(buf, *v):
            if f2 == 1 and w2 == 2:
                node_id, local = 0, ""
                for f3, w3, v3 in fields(buf, *v2):
                    if f3 == 1 and w3 == 0:
                        node_id = v3
                    elif f3 == 2 and w3 == 2:
                        local = text(buf, v3, 4096)
                node["children"][local] = node_id
            elif f2 == 7 and w2 == 2:
                var: dict[str, Any] = {"name": "", "dtype": None, "shape": None, "trainable": False}
                for f3, w3, v3 in fields(buf, *v2):
                    if f3 == 1 and w3 == 0:
                        var["dtype"] = dtype_name(v3)
                    elif f3 == 2 and w3 == 2:
                        dims, unknown = shape_of(buf, v3)
                        var["shape"] = None if unknown else dims
                    elif f3 == 3 and w3 == 0:
                        var["trainable"] = bool(v3)
                    elif f3 == 6 and w3 == 2:
                        var["name"] = text(buf, v3, 4096)
                node["kind"] = "variable"
                node["variable"] = var
            elif w2 == 2 and f2 in _KINDS and node["kind"] is None:
                node["kind"] = _KINDS[f2]
        nodes.append(node)
        if len(nodes) > MAX_NODES_COUNTED:
            raise WireError(f"more than {MAX_NODES_COUNTED} saved objects", v[0])
    return nodes


_KINDS = {4: "user_object", 5: "asset", 6: "function", 8: "bare_concrete_function",
          9: "constant", 10: "resource", 12: "captured_tensor"}


def _meta_graph(buf: Buffer, span: tuple[int, int], budget: list[int]) -> dict[str, Any]:
    mg: dict[str, Any] = {"tags": [], "signatures": {}, "assets": [], "operators": Counter(),
                          "functions": 0, "object_graph": []}
    for fno, wt, v in fields(buf, *span):
        if wt != 2:
            continue
        if fno == 1:
            for f2, w2, v2 in fields(buf, *v):
                if f2 == 4 and w2 == 2:
                    mg["tags"].append(text(buf, v2, 1024))
                elif f2 == 5 and w2 == 2:
                    mg["tensorflow_version"] = text(buf, v2, 256)
                elif f2 == 1 and w2 == 2:
                    mg["meta_graph_version"] = text(buf, v2, 256)
        elif fno == 2:
            mg["functions"] += _count_ops(buf, v, mg["operators"], budget)
            for f2, w2, v2 in fields(buf, *v):
                if f2 == 4 and w2 == 2:
                    for f3, w3, v3 in fields(buf, *v2):
                        if f3 == 1 and w3 == 0:
                            mg["graph_def_version"] = to_signed(v3)
        elif fno == 5:
            key, value = _map_entries(buf, v)
            if value is not None and len(mg["signatures"]) < MAX_SIGNATURES:
                mg["signatures"][key] = _signature(buf, value)
        elif fno == 6:
            for f2, w2, v2 in fields(buf, *v):
                if f2 == 2 and w2 == 2:
                    mg["assets"].append(text(buf, v2, 4096))
        elif fno == 7:
            mg["object_graph"] = _object_graph(buf, v)
    return mg


def parse_saved_model(buf: Buffer, name: str) -> dict[str, Any]:
    """The parts of ``saved_model.pb`` that inspect shows (see the module docstring)."""
    out: dict[str, Any] = {"schema_version": None, "meta_graphs": []}
    budget = [MAX_NODES_COUNTED]
    try:
        for fno, wt, v in fields(buf, 0, len(buf)):
            if fno == 1 and wt == 0:
                out["schema_version"] = to_signed(v)
            elif fno == 2 and wt == 2:
                out["meta_graphs"].append(_meta_graph(buf, v, budget))
            else:
                raise WireError(f"unexpected field {fno} (wire type {wt}) in a SavedModel", 0)
    except WireError as e:
        raise e.corrupt(name, "saved_model.pb is not a SavedModel message") from None
    if not out["meta_graphs"]:
        raise CorruptFileError(name, "saved_model.pb holds no meta graph")
    return out


# -- checkpoint keys -> saved objects ---------------------------------------------------------

def _key_path(key: str) -> list[str] | None:
    """The local names of a checkpoint key up to ``.ATTRIBUTES`` (unescaped), or None."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(key):
        c = key[i]
        if c == "." and i + 1 < len(key) and key[i + 1] in "./":
            cur.append(key[i + 1])
            i += 2
            continue
        if c == "/":
            parts.append("".join(cur))
            cur = []
            if key.startswith(".ATTRIBUTES/", i + 1):
                return parts
        else:
            cur.append(c)
        i += 1
    return None


def _variable_of(key: str, nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    path = _key_path(key)
    if path is None or not nodes:
        return None
    node = nodes[0]
    for local in path:
        nid = node["children"].get(local)
        if nid is None or nid >= len(nodes):
            return None
        node = nodes[nid]
    return node.get("variable")


def _dedupe(tensors: list[TensorInfo], entries: dict[str, Any],
            nodes: list[dict[str, Any]]) -> tuple[list[TensorInfo], int, int]:
    """Alias variables stored twice; returns (tensors, aliases, trainable parameters)."""
    first: dict[tuple, str] = {}
    out: list[TensorInfo] = []
    aliases = 0
    trainable = 0
    for t in tensors:
        var = _variable_of(t.name, nodes)
        e = entries.get(t.name)
        if var is not None and e is not None and e.crc32c is not None:
            sig = (var["name"], t.dtype, t.shape, e.crc32c, e.size)
            if sig in first:
                out.append(replace(t, alias_of=first[sig]))
                aliases += 1
                continue
            first[sig] = t.name
        if var is not None and var["trainable"]:
            trainable += t.parameters
        out.append(t)
    return out, aliases, trainable


# -- reading ----------------------------------------------------------------------------------

def _graph(mg: dict[str, Any]) -> dict[str, Any]:
    sigs = {k: v for k, v in mg["signatures"].items() if k != _INIT_SIGNATURE}
    main = sigs.get("serving_default") or (next(iter(sigs.values())) if sigs else None)
    ops = mg["operators"]
    graph: dict[str, Any] = {
        "inputs": main["inputs"] if main else [],
        "outputs": main["outputs"] if main else [],
        "operators": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "opsets": {},
        "node_count": sum(ops.values()),
        "signatures": sigs,
        "tags": mg["tags"],
        "functions": mg["functions"],
    }
    if mg.get("graph_def_version") is not None:
        graph["graph_def_version"] = mg["graph_def_version"]
    return graph


def read_folder(tree: Tree, *, source: str | None = None) -> ModelInfo:
    """Read a SavedModel folder (``saved_model.pb`` at the tree's root)."""
    if not tree.exists("saved_model.pb"):
        raise UnsupportedFormatError(f"{tree.name}: no saved_model.pb (not a SavedModel folder)")
    src = tree.open("saved_model.pb")
    try:
        check_limit(src.name, src.size, MAX_SAVED_MODEL_BYTES, "saved_model.pb size")
        sm = parse_saved_model(src.view(0, src.size), src.name)
        pb_size = src.size
    finally:
        src.close()
    mg = sm["meta_graphs"][0]
    files = [FileInfo("saved_model.pb", FORMAT_ID, pb_size)]
    warnings: list[str] = []
    tensors: list[TensorInfo] = []
    metadata: dict[str, Any] = {
        "saved_model_schema_version": sm["schema_version"],
        "meta_graphs": len(sm["meta_graphs"]),
        "tags": [t for m in sm["meta_graphs"] for t in m["tags"]],
        "tensorflow_version": mg.get("tensorflow_version"),
        "signatures": sorted(k for k in mg["signatures"] if k != _INIT_SIGNATURE),
        "saved_objects": len(mg["object_graph"]),
    }
    if mg["assets"]:
        metadata["assets"] = mg["assets"]
    index_rel = "variables/variables.index"
    if tree.exists(index_rel):
        isrc = tree.open(index_rel)
        try:
            header, entries = read_index(isrc)
            files.append(FileInfo(index_rel, FORMAT_ID, isrc.size))
        finally:
            isrc.close()
        shards = data_file_names("variables/variables", header["num_shards"])
        sizes = [tree.size(f) if tree.exists(f) else None for f in shards]
        files += [FileInfo(f, FORMAT_ID, s) for f, s in zip(shards, sizes) if s is not None]
        if any(s is None for s in sizes):
            warnings.append("variables data shard missing: " + ", ".join(
                f for f, s in zip(shards, sizes) if s is None)[:300])
        listed, more, _ = checkpoint_tensors(entries, shards, sizes, f"{tree.name}/{index_rel}")
        warnings += more
        tensors, aliases, trainable = _dedupe(listed, {e.name: e for e in entries},
                                              mg["object_graph"])
        metadata["variables"] = len(tensors)
        metadata["trainable_parameters"] = trainable
        if aliases:
            warnings.append(f"{aliases} variables are stored twice under different object paths "
                            "(Keras export tracks them twice); each is counted once")
    elif any(n.get("kind") == "variable" for n in mg["object_graph"]):
        warnings.append("variables/variables.index is missing: the variables are not listed")
    for rel in tree.list():
        if rel.startswith("assets/") or rel == "fingerprint.pb" or rel.startswith("assets.extra/"):
            files.append(FileInfo(rel, None, tree.size(rel)))
    fp = _fingerprint(tree)
    if fp:
        metadata["fingerprint"] = fp
    return ModelInfo(source=source or tree.name, format=FORMAT_ID, layout=FORMAT_ID,
                     files=tuple(files), tensors=tuple(tensors), metadata=metadata,
                     warnings=tuple(warnings), graph=_graph(mg))


def _fingerprint(tree: Tree) -> dict[str, Any] | None:
    if not tree.exists("fingerprint.pb") or tree.size("fingerprint.pb") > 1 << 16:
        return None
    buf = tree.read_bytes("fingerprint.pb", 1 << 16)
    names = {1: "saved_model_checksum", 2: "graph_def_program_hash", 3: "signature_def_hash",
             4: "saved_object_graph_hash", 5: "checkpoint_hash"}
    out: dict[str, Any] = {}
    try:
        for fno, wt, v in fields(buf, 0, len(buf)):
            if fno in names and wt == 0:
                out[names[fno]] = str(v)  # uint64: a string, so JSON readers keep every digit
            elif fno == 7 and wt == 2:
                out["uuid"] = text(buf, v, 256)
    except WireError:
        return {"error": "fingerprint.pb is not a FingerprintDef"}
    return out


# -- format registration (``saved_model.pb`` named on its own) --------------------------------

def detect(probe: Probe) -> int:
    base = os.path.basename(probe.name)
    if base != "saved_model.pb" or len(probe.head) < 2:
        return 0
    # a SavedModel opens with field 1 (varint) or field 2 (a meta graph)
    return 90 if probe.head[0] in (0x08, 0x12) else 0


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    path = getattr(src, "path", None)
    if isinstance(path, Path):
        return read_folder(LocalTree(path.parent), source=src.name)
    check_limit(src.name, src.size, MAX_SAVED_MODEL_BYTES, "saved_model.pb size")
    sm = parse_saved_model(src.view(0, src.size), src.name)
    mg = sm["meta_graphs"][0]
    return ModelInfo(source=src.name, format=FORMAT_ID,
                     files=(FileInfo(src.name, FORMAT_ID, src.size),),
                     metadata={"tags": mg["tags"], "tensorflow_version": mg.get("tensorflow_version")},
                     graph=_graph(mg), warnings=("variables not read (saved_model.pb only)",))


register(FormatSpec(id=FORMAT_ID, detect=detect, read=read, extensions=(".pb",),
                    description="TensorFlow SavedModel (saved_model.pb + variables/)"))
