"""ModelScope, through its public HTTP API (the calls ``modelscope.hub.api.HubApi`` makes).

* listing: ``GET {endpoint}/api/v1/models/{org}/{name}/repo/files?Revision={rev}&Recursive=true``
  → ``{"Code": 200, "Success": true, "Data": {"Files": [{"Path", "Name", "Size", "Sha256",
  "Type": "blob" | "tree", "Revision", "IsLFS"}, …]}}``;
* files: ``GET {endpoint}/api/v1/models/{org}/{name}/repo?Revision={rev}&FilePath={path}``
  (``modelscope.hub.file_download.get_file_download_url``), which honours ``Range``;
* endpoint: ``MODELSCOPE_DOMAIN`` (a host, https assumed, or a full URL), default
  www.modelscope.cn; token: ``MODELSCOPE_API_TOKEN``, sent as a bearer token and as the
  ``m_session_id`` cookie the SDK uses; default revision ``master``; offline:
  ``MODELLENS_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import os
from urllib.parse import quote, quote_plus

from .errors import HubError, HubNotFoundError
from .http import ErrorHints, Transport
from .repo import Listing, RemoteFile
from .spec import RemoteSpec

__all__ = ["ModelScope"]

_TRUE = {"1", "on", "yes", "true"}
DEFAULT_DOMAIN = "www.modelscope.cn"


class ModelScope:
    id = "ms"
    default_revision = "master"
    hints = ErrorHints(
        hub="ModelScope",
        login="set MODELSCOPE_API_TOKEN to an SDK token from your ModelScope account",
        offline_env="--offline or MODELLENS_OFFLINE=1",
    )

    def __init__(self, endpoint: str | None = None, token: str | None = None):
        domain = (endpoint or os.environ.get("MODELSCOPE_DOMAIN") or DEFAULT_DOMAIN).strip().rstrip("/")
        self.endpoint = domain if "://" in domain else f"https://{domain}"
        self._token = token if token is not None else os.environ.get("MODELSCOPE_API_TOKEN")

    def offline_default(self) -> bool:
        return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("MODELLENS_OFFLINE", "HF_HUB_OFFLINE"))

    def file_headers(self) -> dict[str, str]:
        from .. import __version__

        h = {"User-Agent": f"modellens/{__version__}"}
        if self._token:
            h["Authorization"] = f"Bearer {self._token}"
            h["Cookie"] = f"m_session_id={self._token}"
        return h

    def list(self, transport: Transport, spec: RemoteSpec, revision: str) -> Listing:
        url = f"{self.endpoint}/api/v1/models/{spec.repo}/repo/files"
        r = transport.get(url, self.file_headers(), what=spec.display,
                          params={"Revision": revision, "Recursive": "true"})
        try:
            body = r.json()
        except ValueError as e:
            raise HubError(f"{spec.display}: ModelScope sent something other than JSON ({e})") from e
        if not isinstance(body, dict):
            raise HubError(f"{spec.display}: unexpected answer from ModelScope")
        code = body.get("Code")
        if body.get("Success") is False or (code is not None and code != 200):
            msg = str(body.get("Message") or f"code {code}")
            if "not exist" in msg.lower() or "not found" in msg.lower():
                raise HubNotFoundError(f"{spec.display}: not found on ModelScope ({msg})")
            raise HubError(f"{spec.display}: ModelScope answered: {msg}")
        data = body.get("Data") or {}
        entries = data.get("Files") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise HubError(f"{spec.display}: ModelScope's answer has no file list")
        files = []
        for e in entries:
            if not isinstance(e, dict) or e.get("Type") == "tree" or not isinstance(e.get("Path"), str):
                continue
            files.append(RemoteFile(e["Path"], int(e.get("Size") or 0), e.get("Sha256") or None,
                                    bool(e.get("IsLFS"))))
        return Listing(spec.repo, revision, None, tuple(files))

    def file_url(self, listing: Listing, path: str) -> str:
        return (f"{self.endpoint}/api/v1/models/{quote(listing.repo, safe='/')}/repo"
                f"?Revision={quote_plus(listing.revision)}&FilePath={quote_plus(path)}")
