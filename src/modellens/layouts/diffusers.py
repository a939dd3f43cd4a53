"""The ``diffusers`` layout: a pipeline folder (Stable Diffusion, SDXL, FLUX …).

::

    model_index.json        {"_class_name": "StableDiffusionPipeline", "_diffusers_version": …,
                             "unet": ["diffusers", "UNet2DConditionModel"], "vae": [...],
                             "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": [...],
                             "scheduler": ["diffusers", "PNDMScheduler"], …}
    unet/ (or transformer/)  config.json + diffusion_pytorch_model[.fp16].safetensors (or sharded)
    vae/                     config.json + diffusion_pytorch_model.safetensors
    text_encoder/ …          config.json + model.safetensors (a transformers folder)
    tokenizer/ scheduler/    no weights

Each component with weights is read as a model folder of its own (``layouts.hf.read_folder``);
the pipeline's totals are the sums.
"""

from __future__ import annotations

from typing import Any

from ..core.io import Tree
from ..core.model import FileInfo, ModelInfo
from . import LayoutSpec, register
from .hf import read_folder, read_json


def _detect(tree: Tree) -> int:
    return 90 if tree.exists("model_index.json") else 0


def read(tree: Tree) -> ModelInfo:
    index = read_json(tree, "model_index.json")
    index = index if isinstance(index, dict) else {}
    folders = {f.split("/", 1)[0] for f in tree.list() if "/" in f}
    components: list[ModelInfo] = []
    names: list[str] = []
    pipeline: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in index.items():
        if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library, cls = value
        pipeline[key] = {"library": library, "class": cls}
        if library is None or key not in folders:
            if library is not None:
                pipeline[key]["missing"] = True
                warnings.append(f"component {key!r} ({cls}) has no folder")
            continue
        comp = read_folder(tree, key, layout=None)
        if comp.tensors:
            components.append(comp)
            names.append(key)
            warnings += [f"{key}: {w}" for w in comp.warnings]
    weight_formats = {f.path: f.format for c in components for f in c.files if f.format}
    fmts = sorted(set(weight_formats.values()))
    return ModelInfo(
        source=tree.name,
        format=fmts[0] if len(fmts) == 1 else ("mixed" if fmts else None),
        layout="diffusers",
        files=tuple(FileInfo(rel, weight_formats.get(rel), tree.size(rel)) for rel in tree.list()),
        tensors=tuple(t for c in components for t in c.tensors),
        metadata={"pipeline": pipeline, "diffusers_version": index.get("_diffusers_version")},
        architecture={"name": index.get("_class_name"), "components": names},
        warnings=tuple(warnings),
        components=tuple(components),
        component_names=tuple(names),
    )


register(LayoutSpec("diffusers", _detect, read, "diffusers pipeline folder (model_index.json)"))
