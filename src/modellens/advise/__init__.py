"""Advice from knowledge kept as data: which format for which job, what a tensor type means,
which format to ship for a target, and a ready, explained command to serve a model.

    >>> from modellens import advise
    >>> advise.formats_report("gguf", lang="zh")          # modellens.formats/1
    >>> advise.dtypes_report("BF16·I32·F32")               # modellens.dtypes/1
    >>> advise.recommend("laptop", model="Qwen/Qwen2.5-7B-Instruct", memory="16GB")   # modellens.recommend/1
    >>> advise.serve_plan("Qwen/Qwen3-8B", engine="vllm", gpu="h100", gpus=1)        # modellens.serve_plan/1

The knowledge files (``modellens/data/formats.json``, ``dtypes_kb.json``, ``engines.json``,
``serve_families.json``) are validated when first loaded; docs/advise.md describes them.
"""

from __future__ import annotations

from typing import Any

from ._data import LANGS, KnowledgeError
from .dtypes import describe_dtype, dtypes_report, explain_tensor_type
from .kb import conversions_for, describe_format, format_ids, formats_report, knowledge

__all__ = ["LANGS", "KnowledgeError", "knowledge", "format_ids", "describe_format", "formats_report", "conversions_for",
           "describe_dtype", "explain_tensor_type", "dtypes_report", "recommend", "TARGETS", "serve_plan", "ENGINES"]


def __getattr__(name: str) -> Any:  # serve / recommend pull in the estimator: load them on use
    if name in ("serve_plan", "ENGINES", "ServePlan"):
        from . import serve

        return getattr(serve, name)
    if name in ("recommend", "TARGETS"):
        from . import recommend as _r

        return getattr(_r, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
