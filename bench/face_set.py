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
        data = _from_mirror(face, mirror)
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


def _from_mirror(face: Face, mirror: Path) -> bytes:
    folder = mirror / face.repo.replace("/", "+")
    git_dirs = [folder] + sorted(path.parent for path in folder.glob("**/HEAD"))
    for git_dir in git_dirs:
        shown = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{face.commit}:{face.path}"], capture_output=True
        )
        if shown.returncode == 0:
            return shown.stdout
    raise FileNotFoundError(
        f"{face.name}: no snapshot of {face.repo} holding {face.path} at {face.commit} under {mirror} "
        "(bring it with the search tool's fetch)"
    )


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
