"""The bench's face set: real photographs of people under public-domain or permissive licences,
listed in `bench/faces.json` with each one's source, licence and what it shows.

    python -m bench.face_set [--mirror DIR] [--cache DIR]

The photographs are not kept in this repository. Each entry names a public git repository, a
commit and a path: a snapshot of the repository (the search tool's `fetch`) lies in the mirror
folder as `owner+name/` (a bare git directory or one holding it), and the file is read out of it
with git, checked against its SHA-256 and written to the cache folder. Entries with `"package"`
come with the test dependencies (scikit-image's astronaut, matplotlib's Grace Hopper).
Run as a module, it fills the cache and prints what it found.
"""

import argparse
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import imageio.v3 as iio
import numpy as np

MANIFEST = Path(__file__).with_name("faces.json")
DEFAULT_MIRROR = Path("/work/.mirror")
DEFAULT_CACHE = Path.home() / ".cache" / "modellab-bench-faces"


@dataclass(frozen=True)
class Face:
    name: str
    face_px: float  # how wide the face is filmed (pixels)
    licence: str
    attributes: list[str] = field(default_factory=list)
    repo: str | None = None
    commit: str | None = None
    path: str | None = None
    sha256: str | None = None
    package: str | None = None  # "astronaut" or "hopper": shipped with a test dependency
    crop: list[int] | None = None  # [x0, y0, x1, y1]: the person in a photo of several


def load_manifest(path: Path = MANIFEST) -> list[Face]:
    fields = set(Face.__dataclass_fields__)
    return [
        Face(**{key: value for key, value in entry.items() if key in fields})
        for entry in json.loads(path.read_text())["faces"]
    ]


def photo(face: Face, mirror: Path = DEFAULT_MIRROR, cache: Path = DEFAULT_CACHE) -> np.ndarray:
    """RGB uint8 of the face's photograph, read from the cache or the repository's snapshot."""
    if face.package is not None:
        return _packaged(face.package)
    cached = cache / f"{face.name}{Path(face.path).suffix}"
    if not cached.exists():
        data = read_from_mirror(face.repo, face.commit, face.path, mirror, face.name)
        cache.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    data = cached.read_bytes()
    if hashlib.sha256(data).hexdigest() != face.sha256:
        raise ValueError(f"{cached} is not the file the manifest names (SHA-256 differs)")
    image = iio.imread(data)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if face.crop is not None:
        x0, y0, x1, y1 = face.crop
        image = image[y0:y1, x0:x1]
    return np.ascontiguousarray(image[..., :3])


def read_from_mirror(repo: str, commit: str, path: str, mirror: Path, name: str = "") -> bytes:
    """The file `path` at `commit` of `repo`, out of its snapshot in the mirror folder."""
    for git_dir in _git_dirs(repo, mirror):
        shown = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], capture_output=True)
        if shown.returncode == 0:
            return shown.stdout
    raise FileNotFoundError(
        f"{name or path}: no snapshot of {repo} holding {path} at {commit} under {mirror} "
        "(bring it with the search tool's fetch)"
    )


def list_in_mirror(repo: str, commit: str, folder: str, mirror: Path) -> list[str]:
    """Paths of the files under `folder` at `commit` of `repo`, out of its snapshot."""
    for git_dir in _git_dirs(repo, mirror):
        listed = subprocess.run(
            ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", commit, folder],
            capture_output=True,
            text=True,
        )
        if listed.returncode == 0:
            return listed.stdout.split()
    raise FileNotFoundError(f"no snapshot of {repo} at {commit} under {mirror} (bring it with the search tool's fetch)")


def _git_dirs(repo: str, mirror: Path) -> list[Path]:
    """Where a snapshot of `repo` may keep its git directory: `owner+name/` or a folder in it."""
    folder = mirror / repo.replace("/", "+")
    return [folder] + sorted(path.parent for path in folder.glob("**/HEAD"))


def _packaged(name: str) -> np.ndarray:
    from tests import media_factory

    if name == "hopper":
        return media_factory.hopper_photo()
    import skimage.data

    return skimage.data.astronaut()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.face_set", description=__doc__.split("\n")[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    for face in load_manifest():
        image = photo(face, args.mirror, args.cache)
        print(
            f"{face.name}: {image.shape[1]}x{image.shape[0]}, filmed at {face.face_px:g} px, "
            f"{', '.join(face.attributes)}; {face.licence}"
        )


if __name__ == "__main__":
    main()
