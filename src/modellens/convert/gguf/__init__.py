"""Hugging Face folder → GGUF, with llama.cpp's quantization types and mixes.

    >>> from modellens.convert.gguf import export_gguf
    >>> report = export_gguf("Llama-3.2-1B/", "llama-q4_k_m.gguf", quant="q4_k_m", verify=True)

Modules: :mod:`.export` (the driver), :mod:`.archs` + ``data/gguf_archs.json`` (per-architecture
tables), :mod:`.tokenizer` (BPE / SentencePiece vocabularies), :mod:`.recipes` (which type each
tensor gets), :mod:`.quants` (numpy quantizers, bit-exact with llama.cpp), :mod:`.writer`
(streaming GGUF writer).  See docs/gguf-export.md.
"""

from __future__ import annotations

from .export import GGUFReport, export_gguf, plan_export
from .recipes import QUANT_NAMES

__all__ = ["export_gguf", "GGUFReport", "plan_export", "QUANT_NAMES"]
