"""Remote sources as users type them.

    hf://org/repo[@revision][/path]        Hugging Face (revision: branch, tag or commit;
                                            URL-encode a '/' in it: @refs%2Fpr%2F1)
    ms://org/repo[@revision][/path]        ModelScope
    org/repo[@revision]                    Hugging Face, when no local path of that name exists
    https://huggingface.co/org/repo[/tree/<rev>[/path] | /blob/<rev>/path | /resolve/<rev>/path]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote

from ..core.errors import ModelLensError

__all__ = ["RemoteSpec", "parse_source", "is_remote_source"]

_SCHEMES = {"hf://": "hf", "ms://": "ms", "modelscope://": "ms"}
_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_REPO = re.compile(rf"^{_PART}$")
_BARE = re.compile(rf"^(?P<org>{_PART})/(?P<name>{_PART})(?:@(?P<rev>[^/\s]+))?$")
_HF_URL = re.compile(r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?P<rest>.+)$")
# A bare 'dir/file.ext' that does not exist is a mistyped local path, not a repo.
_FILE_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt", ".json", ".onnx", ".h5",
                  ".pkl", ".npz", ".npy", ".msgpack", ".tflite", ".joblib", ".zip", ".tar")


@dataclass(frozen=True)
class RemoteSpec:
    provider: str  # "hf" | "ms"
    repo: str  # "org/name"
    revision: str | None  # as typed; None = the hub's default branch
    subpath: str = ""  # a file or folder inside the repo; "" = the whole repo

    @property
    def display(self) -> str:
        """``hf://org/repo@rev/path``: how the source is named in reports and messages."""
        rev = f"@{self.revision}" if self.revision else ""
        sub = f"/{self.subpath}" if self.subpath else ""
        return f"{self.provider}://{self.repo}{rev}{sub}"

    @property
    def model_name(self) -> str:
        """The repo id, for commands that answer from a model's name (``org/name``)."""
        return self.repo

    def __str__(self) -> str:
        return self.display


def _bad(text: str, why: str) -> ModelLensError:
    return ModelLensError(f"{text}: {why} (expected hf://org/repo[@revision][/path] or ms://org/repo[@revision])")


def _clean_subpath(text: str, parts: list[str]) -> str:
    parts = [p for p in parts if p != ""]
    if any(p in (".", "..") or "\\" in p for p in parts):
        raise _bad(text, "the path inside the repo may not contain '.', '..' or '\\'")
    return "/".join(parts)


def _parse_scheme(text: str, provider: str, rest: str) -> RemoteSpec:
    segs = rest.split("/")
    if len(segs) < 2 or not segs[1]:
        raise _bad(text, "a repo id needs an organisation and a name")
    org, name = segs[0], segs[1]
    rev = None
    if "@" in name:
        name, rev = name.split("@", 1)
        rev = unquote(rev)
        if not rev:
            raise _bad(text, "empty revision after '@'")
    if not _REPO.match(org) or not _REPO.match(name) or ".." in org or ".." in name:
        raise _bad(text, f"invalid repo id {org}/{name!r}")
    return RemoteSpec(provider, f"{org}/{name}", rev, _clean_subpath(text, segs[2:]))


def _parse_hf_url(text: str, rest: str) -> RemoteSpec:
    segs = rest.split("?")[0].split("#")[0].split("/")
    if len(segs) < 2:
        raise _bad(text, "a repo URL needs an organisation and a name")
    repo = f"{segs[0]}/{segs[1]}"
    rev, sub = None, []
    if len(segs) >= 4 and segs[2] in ("tree", "blob", "resolve"):
        rev, sub = unquote(segs[3]), segs[4:]
    spec = _parse_scheme(text, "hf", repo)
    return RemoteSpec("hf", spec.repo, rev, _clean_subpath(text, sub))


def parse_source(text: str) -> RemoteSpec | None:
    """The remote source ``text`` names, or None when it is a local path.

    A bare ``org/repo`` is remote only when nothing of that name exists locally and it does not
    end like a file name.  A malformed ``hf://`` / ``ms://`` source is a ModelLensError."""
    if not isinstance(text, str):
        return None
    for prefix, provider in _SCHEMES.items():
        if text.startswith(prefix):
            return _parse_scheme(text, provider, text[len(prefix):])
    m = _HF_URL.match(text)
    if m:
        return _parse_hf_url(text, m["rest"])
    m = _BARE.match(text)
    if m and not os.path.exists(text) and not m["name"].lower().endswith(_FILE_SUFFIXES):
        if os.path.exists(text.split("@", 1)[0]):
            return None
        return RemoteSpec("hf", f"{m['org']}/{m['name']}", m["rev"], "")
    return None


def is_remote_source(text: str) -> bool:
    """Whether ``text`` names a hub repo (see :func:`parse_source`); malformed hub sources count
    as remote, so that parsing them reports the problem."""
    if isinstance(text, str) and text.startswith(tuple(_SCHEMES)):
        return True
    try:
        return parse_source(text) is not None
    except ModelLensError:
        return True
