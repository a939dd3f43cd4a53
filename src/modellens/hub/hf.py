"""Hugging Face, through ``huggingface_hub``'s conventions.

* listing: ``GET {endpoint}/api/models/{repo}[/revision/{rev}]?blobs=true`` (what
  ``HfApi.model_info(files_metadata=True)`` sends), parsed by ``huggingface_hub``'s
  ``ModelInfo``: the commit sha and every file with its size and etag (LFS sha256, else the git
  blob id).  modellens sends it through its own counted session, so ``transfer`` is exact.
* files: ``hf_hub_url(repo, path, revision=<commit sha>)`` (``/{repo}/resolve/{sha}/{path}``);
  LFS files redirect to a CDN, which modellens then addresses directly for later ranges.
* auth: ``huggingface_hub.utils.build_hf_headers`` (``HF_TOKEN``, or the token stored by
  ``huggingface-cli login`` / ``hf auth login``); endpoint: ``HF_ENDPOINT``; offline:
  ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from .http import ErrorHints, Transport, require
from .repo import Listing, RemoteFile
from .spec import RemoteSpec

__all__ = ["HuggingFace"]

_TRUE = {"1", "on", "yes", "true"}


class HuggingFace:
    id = "hf"
    default_revision = "main"
    hints = ErrorHints(
        hub="the Hugging Face Hub",
        login="log in with 'hf auth login' (or 'huggingface-cli login') or set HF_TOKEN",
        offline_env="--offline or HF_HUB_OFFLINE=1",
    )

    def __init__(self, endpoint: str | None = None, token: str | bool | None = None):
        constants = require("huggingface_hub.constants")

        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
        self._token = token

    def offline_default(self) -> bool:
        constants = require("huggingface_hub.constants")

        return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE or bool(constants.HF_HUB_OFFLINE) \
            or os.environ.get("MODELLENS_OFFLINE", "").strip().lower() in _TRUE

    def _headers(self) -> dict[str, str]:
        from huggingface_hub.utils import build_hf_headers

        from .. import __version__

        return build_hf_headers(token=self._token, library_name="modellens", library_version=__version__)

    def file_headers(self) -> dict[str, str]:
        return self._headers()

    def list(self, transport: Transport, spec: RemoteSpec, revision: str) -> Listing:
        from huggingface_hub.hf_api import ModelInfo

        url = f"{self.endpoint}/api/models/{spec.repo}"
        if spec.revision:
            url += f"/revision/{quote(spec.revision, safe='')}"
        r = transport.get(url, self._headers(), what=spec.display, params={"blobs": "true"})
        try:
            info = ModelInfo(**r.json())
        except (ValueError, TypeError, KeyError) as e:
            from .errors import HubError

            raise HubError(f"{spec.display}: unexpected answer from {self.endpoint} ({e})") from e
        files = []
        for s in info.siblings or ():
            etag = s.lfs.sha256 if s.lfs is not None else s.blob_id
            size = s.lfs.size if s.lfs is not None and s.size is None else s.size
            files.append(RemoteFile(s.rfilename, int(size or 0), etag, s.lfs is not None))
        return Listing(spec.repo, revision, info.sha, tuple(files), gated=info.gated or False)

    def file_url(self, listing: Listing, path: str) -> str:
        from huggingface_hub import hf_hub_url

        return hf_hub_url(listing.repo, path, revision=listing.commit or listing.revision, endpoint=self.endpoint)
