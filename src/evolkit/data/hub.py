"""Uploading an ``hf`` export to the Hugging Face Hub with huggingface_hub's own API."""

from __future__ import annotations

import os
from pathlib import Path

from evolkit.errors import EvolkitError, missing_extra

__all__ = ["HubPushError", "push_to_hub"]


class HubPushError(EvolkitError):
    """The upload to the Hub failed; the message says why and what to do."""


def push_to_hub(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str = "Upload an evolkit data set",
) -> str:
    """Create the data set repository ``repo_id`` (if needed) and upload ``folder`` (an ``hf``
    export) in one commit; returns the commit's URL. ``token`` defaults to huggingface_hub's
    own (``HF_TOKEN`` or ``hf auth login``), ``endpoint`` to ``HF_ENDPOINT``."""
    try:
        import httpx
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    except ImportError as exc:
        raise missing_extra("huggingface_hub", "hub", exc) from exc
    path = Path(folder)
    if not (path / "README.md").exists():
        raise HubPushError(f"{path} is not an hf export (no README.md): run `evolkit export` first")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=path,
            commit_message=commit_message,
        )
    except OfflineModeIsEnabled:
        raise HubPushError(
            f"cannot push to {repo_id}: HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set: unset it"
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        fix = {401: "log in with `hf auth login` or set HF_TOKEN", 403: "check the token's rights"}
        hint = fix.get(status or 0, "check the repository name and your connection")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HubPushError(f"cannot push to {repo_id}: {first} ({hint})") from None
    except (OSError, httpx.HTTPError) as exc:
        raise HubPushError(f"cannot reach the Hub to push {repo_id}: {exc}") from None
    return str(info.commit_url)
