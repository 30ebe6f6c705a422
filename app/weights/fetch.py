"""Downloading one weights file from a Hugging Face repository into WEIGHTS_DIR, never half-written.

huggingface_hub downloads into a staging folder inside WEIGHTS_DIR (`.download/`); a connection that
drops mid-file is resumed with an HTTP Range request (huggingface_hub 2.4 retries up to 5 times
without progress, but keeps no partial file between runs: a stopped command starts that file again).
The finished file is checked against the manifest and only then renamed to where the engine loads it
(same file system: the rename is atomic).
"""

import os
import shutil
from pathlib import Path

from huggingface_hub import hf_hub_download

from app.weights.manifest import WeightFile
from app.weights.verify import FileCheck, check_file

STAGING = ".download"
DEFAULT_ENDPOINT = "https://huggingface.co"


class ChecksumMismatch(RuntimeError):
    """A downloaded file is not the one the manifest names; it was deleted, nothing was installed."""


def hub_endpoint() -> str:
    """HF_ENDPOINT, read when a download starts (huggingface_hub reads it once, when imported, and
    would take an empty value, e.g. an unset Docker build argument, for a host)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_token() -> str | None:
    """HF_TOKEN, sent as `Authorization: Bearer` (None: huggingface_hub's own saved login, if any)."""
    return os.environ.get("HF_TOKEN") or None


def staging_folder(weights_dir: Path, weight: WeightFile) -> Path:
    return weights_dir / STAGING / f"{weight.repo_id.replace('/', '--')}@{weight.revision}"


def fetch_file(weight: WeightFile, weights_dir: Path) -> FileCheck:
    """Download `weight`, check it, and move it to WEIGHTS_DIR/<target>; what the check found.

    Raises ChecksumMismatch for a file that is not the manifest's, and huggingface_hub's or the
    network's errors as they are.
    """
    final = weights_dir / weight.target
    downloaded = Path(
        hf_hub_download(
            repo_id=weight.repo_id,
            filename=weight.path,
            revision=weight.revision,
            local_dir=staging_folder(weights_dir, weight),
            endpoint=hub_endpoint(),
            token=hub_token(),
        )
    )
    check = check_file(downloaded, weight)
    if not check.ok:
        downloaded.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"refused {weight.target} ({weight.repo_id}@{weight.revision}, {weight.path}): {check.detail}; "
            f"the download was deleted and nothing was installed at {final}"
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(downloaded, final)
    return check


def clear_staging(weights_dir: Path, weights: tuple[WeightFile, ...]) -> None:
    """Remove the staging folders of files that are installed (their download state is no longer needed)."""
    for folder in {staging_folder(weights_dir, weight) for weight in weights}:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        (weights_dir / STAGING).rmdir()
    except OSError:
        pass  # other downloads (another engine's partial files) are still there
