"""The tokenizer of a Hugging Face folder as GGUF metadata (``tokenizer.ggml.*``).

Two models, as llama.cpp reads them:

* BPE from ``tokenizer.json`` (``tokenizer.ggml.model = "gpt2"``): the vocabulary in id order,
  the merges (``"a b"`` strings), and the pre-tokenizer type ``tokenizer.ggml.pre``.  llama.cpp
  picks its pre-tokenizer regexes by that name; it is read off the ``pre_tokenizer`` section
  (a plain GPT-2 ``ByteLevel`` with its regex → ``gpt-2``; a ``Split`` with Llama 3's pattern →
  ``llama-bpe``; Qwen2's → ``qwen2``), and anything else is written as ``default`` with a warning.
* SentencePiece from ``tokenizer.model`` (``tokenizer.ggml.model = "llama"``): pieces, scores
  and types, read through the ``sentencepiece`` library (a protobuf parse; nothing executes).

Token types follow llama.cpp (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte):
added tokens marked special are control tokens, other added tokens user-defined, and ids the
tokenizer lacks up to the model's ``vocab_size`` are ``[PAD<i>]`` unused tokens.  Special token
ids (bos/eos/unk/pad), ``add_bos_token``/``add_eos_token`` and the chat template come from
``tokenizer_config.json`` (then ``chat_template.jinja``, the tokenizer's post-processor, and
``config.json``'s ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.errors import MissingDependencyError, ModelLensError

__all__ = ["Vocab", "read_vocab", "NORMAL", "UNKNOWN", "CONTROL", "USER_DEFINED", "UNUSED",
           "BYTE"]

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# pre-tokenizer regexes llama.cpp knows by name (facts of those tokenizers)
_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
           r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
          r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT_NAMES = {_LLAMA3: "llama-bpe", _QWEN2: "qwen2"}


@dataclass
class Vocab:
    model: str  # "gpt2" (BPE) or "llama" (SentencePiece)
    tokens: list[str]
    types: list[int]
    scores: list[float] | None = None
    merges: list[str] = field(default_factory=list)
    pre: str | None = None
    special: dict[str, int] = field(default_factory=dict)  # bos/eos/unk/pad -> id
    add_bos: bool | None = None
    add_eos: bool | None = None
    add_space_prefix: bool | None = None
    chat_template: str | None = None
    warnings: list[str] = field(default_factory=list)

    def metadata(self) -> list[tuple[str, str, Any]]:
        """(key, GGUF value type, value) entries."""
        kv: list[tuple[str, str, Any]] = [("tokenizer.ggml.model", "str", self.model)]
        if self.pre is not None:
            kv.append(("tokenizer.ggml.pre", "str", self.pre))
        kv.append(("tokenizer.ggml.tokens", "[str]", self.tokens))
        if self.scores is not None:
            kv.append(("tokenizer.ggml.scores", "[f32]", self.scores))
        kv.append(("tokenizer.ggml.token_type", "[i32]", self.types))
        if self.merges:
            kv.append(("tokenizer.ggml.merges", "[str]", self.merges))
        for role in ("bos", "eos", "unk", "pad"):
            if role in self.special:
                kv.append((f"tokenizer.ggml.{role}_token_id", "u32", self.special[role]))
        if self.add_bos is not None:
            kv.append(("tokenizer.ggml.add_bos_token", "bool", self.add_bos))
        if self.add_eos is not None:
            kv.append(("tokenizer.ggml.add_eos_token", "bool", self.add_eos))
        if self.add_space_prefix is not None:
            kv.append(("tokenizer.ggml.add_space_prefix", "bool", self.add_space_prefix))
        if self.chat_template:
            kv.append(("tokenizer.chat_template", "str", self.chat_template))
        return kv


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ModelLensError(f"{path}: unreadable JSON ({e})") from e


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _pad(tokens: list[str | None], types: list[int], n_vocab: int,
         scores: list[float] | None = None) -> None:
    while len(tokens) < n_vocab:
        tokens.append(None)
        types.append(UNUSED)
        if scores is not None:
            scores.append(0.0)
    for i, t in enumerate(tokens):
        if t is None:
            tokens[i] = f"[PAD{i}]"
            types[i] = UNUSED


def _pre_name(pre: Any, warnings: list[str]) -> str:
    """llama.cpp's name for a tokenizers pre_tokenizer section."""
    def byte_level(p: dict) -> bool:
        return p.get("type") == "ByteLevel"

    if isinstance(pre, dict):
        if byte_level(pre) and pre.get("use_regex", True):
            return "gpt-2"
        if pre.get("type") == "Sequence":
            parts = pre.get("pretokenizers") or []
            splits = [p for p in parts if isinstance(p, dict) and p.get("type") == "Split"]
            if splits and all(byte_level(p) or p in splits for p in parts if isinstance(p, dict)):
                pattern = splits[0].get("pattern") or {}
                name = _SPLIT_NAMES.get(pattern.get("Regex", ""))
                if name and len(splits) == 1:
                    return name
    warnings.append("tokenizer.json: pre-tokenizer not recognised; wrote tokenizer.ggml.pre = "
                    "'default' (llama.cpp's generic byte-level split)")
    return "default"


def _special_ids(folder: Path, lookup: dict[str, int], config: dict[str, Any]
                 ) -> tuple[dict[str, int], dict[str, Any]]:
    tcfg_path = folder / "tokenizer_config.json"
    tcfg = _json(tcfg_path) if tcfg_path.is_file() else {}
    if not isinstance(tcfg, dict):
        tcfg = {}
    special: dict[str, int] = {}
    for role in ("bos", "eos", "unk", "pad"):
        text = _token_text(tcfg.get(f"{role}_token"))
        if text is not None and text in lookup:
            special[role] = lookup[text]
            continue
        cid = config.get(f"{role}_token_id")
        if isinstance(cid, list) and cid:
            cid = cid[0]
        if isinstance(cid, int) and cid >= 0:
            special[role] = cid
    return special, tcfg


def _chat_template(folder: Path, tcfg: dict[str, Any]) -> str | None:
    tpl = tcfg.get("chat_template")
    if isinstance(tpl, list):  # [{"name": ..., "template": ...}]: the default one
        named = {t.get("name"): t.get("template") for t in tpl if isinstance(t, dict)}
        tpl = named.get("default") or next(iter(named.values()), None)
    if isinstance(tpl, str) and tpl:
        return tpl
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    return None


def _template_flags(post: Any, special_ids: dict[str, int]) -> tuple[bool | None, bool | None]:
    """add_bos / add_eos from a TemplateProcessing post-processor."""
    if not isinstance(post, dict):
        return None, None
    if post.get("type") == "Sequence":
        for p in post.get("processors") or []:
            b, e = _template_flags(p, special_ids)
            if b is not None:
                return b, e
        return None, None
    if post.get("type") != "TemplateProcessing":
        return None, None
    single = post.get("single") or []
    ids = [s["SpecialToken"]["id"] for s in single if isinstance(s, dict) and "SpecialToken" in s]
    seq_pos = next((i for i, s in enumerate(single) if isinstance(s, dict) and "Sequence" in s), 0)
    before = [s for i, s in enumerate(single) if "SpecialToken" in s and i < seq_pos]
    after = [s for i, s in enumerate(single) if "SpecialToken" in s and i > seq_pos]
    return (bool(before) if ids else False), (bool(after) if ids else False)


def _bpe(folder: Path, config: dict[str, Any], n_vocab: int) -> Vocab:
    tj = _json(folder / "tokenizer.json")
    model = tj.get("model") or {}
    if model.get("type") != "BPE":
        raise ModelLensError(f"{folder}/tokenizer.json: a {model.get('type')} tokenizer; the GGUF "
                             "exporter writes BPE (tokenizer.json) and SentencePiece "
                             "(tokenizer.model) vocabularies")
    vocab: dict[str, int] = dict(model.get("vocab") or {})
    added = [a for a in tj.get("added_tokens") or [] if isinstance(a, dict)]
    for a in added:
        vocab[a["content"]] = a["id"]
    size = max(n_vocab, max(vocab.values(), default=-1) + 1)
    tokens: list[str | None] = [None] * size
    types = [NORMAL] * size
    for text, i in vocab.items():
        tokens[i] = text
    for a in added:
        types[a["id"]] = CONTROL if a.get("special") else USER_DEFINED
    warnings: list[str] = []
    if size > n_vocab:
        warnings.append(f"tokenizer has {size} tokens, config.json vocab_size {n_vocab}")
    _pad(tokens, types, size)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    lookup = {t: i for i, t in enumerate(tokens) if t is not None}
    special, tcfg = _special_ids(folder, lookup, config)
    add_bos, add_eos = _template_flags(tj.get("post_processor"), special)
    if isinstance(tcfg.get("add_bos_token"), bool):
        add_bos = tcfg["add_bos_token"]
    if isinstance(tcfg.get("add_eos_token"), bool):
        add_eos = tcfg["add_eos_token"]
    return Vocab("gpt2", [str(t) for t in tokens], types, None, merges,
                 _pre_name(tj.get("pre_tokenizer"), warnings), special,
                 add_bos if add_bos is not None else False,
                 add_eos if add_eos is not None else False,
                 None, _chat_template(folder, tcfg), warnings)


def _spm(folder: Path, config: dict[str, Any], n_vocab: int) -> Vocab:
    try:
        import sentencepiece as spm
    except ImportError as e:
        raise MissingDependencyError("sentencepiece", "gguf",
                                     "exporting a SentencePiece tokenizer") from e
    path = folder / "tokenizer.model"
    sp = spm.SentencePieceProcessor()
    try:
        sp.LoadFromSerializedProto(path.read_bytes())
    except (RuntimeError, OSError) as e:
        raise ModelLensError(f"{path}: not a SentencePiece model ({e})") from e
    size = max(n_vocab, sp.vocab_size())
    tokens: list[str | None] = [None] * size
    types = [UNUSED] * size
    scores = [0.0] * size
    for i in range(sp.vocab_size()):
        tokens[i] = sp.id_to_piece(i)
        scores[i] = float(sp.get_score(i))
        types[i] = (UNKNOWN if sp.is_unknown(i) else CONTROL if sp.is_control(i)
                    else UNUSED if sp.is_unused(i) else BYTE if sp.is_byte(i) else NORMAL)
    added_path = folder / "added_tokens.json"
    if added_path.is_file():
        for text, i in (_json(added_path) or {}).items():
            if isinstance(i, int) and 0 <= i < size and (tokens[i] is None or i >= sp.vocab_size()):
                tokens[i] = text
                types[i] = USER_DEFINED
                scores[i] = -1000.0
    _pad(tokens, types, size, scores)
    lookup = {t: i for i, t in enumerate(tokens) if t is not None}
    special, tcfg = _special_ids(folder, lookup, config)
    for role, fn in (("bos", sp.bos_id), ("eos", sp.eos_id), ("unk", sp.unk_id),
                     ("pad", sp.pad_id)):
        if role not in special and fn() >= 0:
            special[role] = fn()
    for entry in (tcfg.get("added_tokens_decoder") or {}).items():
        idx, info = entry
        if str(idx).isdigit() and isinstance(info, dict) and int(idx) < size:
            i = int(idx)
            if tokens[i] == info.get("content") and types[i] in (NORMAL, UNUSED):
                types[i] = CONTROL if info.get("special") else USER_DEFINED
    add_space = None
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb

        proto = pb.ModelProto()
        proto.ParseFromString(path.read_bytes())
        add_space = bool(proto.normalizer_spec.add_dummy_prefix)
    except Exception:  # noqa: BLE001 - protobuf missing or odd: keep llama.cpp's default
        add_space = None
    add_bos = tcfg.get("add_bos_token") if isinstance(tcfg.get("add_bos_token"), bool) else True
    add_eos = tcfg.get("add_eos_token") if isinstance(tcfg.get("add_eos_token"), bool) else False
    return Vocab("llama", [str(t) for t in tokens], types, scores, [], None, special, add_bos,
                 add_eos, add_space, _chat_template(folder, tcfg), [])


def read_vocab(folder: Path, config: dict[str, Any], n_vocab: int) -> Vocab:
    """The vocabulary of a Hugging Face folder: ``tokenizer.model`` (SentencePiece) when the
    folder has one, else ``tokenizer.json`` (BPE)."""
    if (folder / "tokenizer.model").is_file():
        return _spm(folder, config, n_vocab)
    if (folder / "tokenizer.json").is_file():
        return _bpe(folder, config, n_vocab)
    raise ModelLensError(f"{folder}: no tokenizer.json or tokenizer.model; llama.cpp needs the "
                         "tokenizer in the GGUF file")
