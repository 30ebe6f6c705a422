"""`python -m app.weights fetch|list|verify`: the engines' published weights, in the layout they load.

Exit status: 0 done; 1 a file is missing or wrong, or a download failed (run `fetch` again to retry);
2 the command was refused (unknown model, licence not accepted, unreadable manifest).
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.config import Settings
from app.weights.fetch import ChecksumMismatch, clear_staging, fetch_file
from app.weights.manifest import EngineWeights, ManifestError, WeightFile, load_manifest, manifest_path
from app.weights.verify import check_file

OK, FAILED, REFUSED = 0, 1, 2


class Refused(Exception):
    """The command cannot run as asked; the message says why and what to do."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    weights_dir: Path = args.weights_dir or settings.weights_dir
    try:
        manifest = load_manifest(manifest_path(args.manifest))
        engines = _resolve(args.targets, manifest, settings.model_engines)
        if args.command == "fetch":
            return _fetch(engines, weights_dir, args.accept_licence)
        if args.command == "verify":
            return _verify(engines, weights_dir)
        return _list(engines, weights_dir, settings.model_engines)
    except (Refused, ManifestError) as error:
        print(f"error: {error}", file=sys.stderr)
        return REFUSED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.weights", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("fetch", "download and check the weights of these models (model2, model3, model4…), engines, or all"),
        ("verify", "check the files on disk: present, size, SHA-256 (default: all)"),
        ("list", "engines, their files, sizes, licences, and whether installed (default: all)"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("targets", nargs="+" if name == "fetch" else "*", metavar="MODEL")
        command.add_argument("--weights-dir", type=Path, help="default: the WEIGHTS_DIR setting")
        command.add_argument("--manifest", type=Path, help="default: $WEIGHTS_MANIFEST or app/weights/manifest.json")
        if name == "fetch":
            command.add_argument(
                "--accept-licence",
                action="store_true",
                help="accept the licence terms shown before (Wav2Lip: non-commercial; LatentSync: use restrictions)",
            )
    return parser


def _resolve(
    targets: Sequence[str], manifest: dict[str, EngineWeights], model_engines: dict[str, str]
) -> list[EngineWeights]:
    """Engines named by model choices, engine names or `all` (every engine of the manifest), in order."""
    if not targets or "all" in targets:
        return list(manifest.values())
    chosen: dict[str, EngineWeights] = {}
    for target in targets:
        engine = model_engines.get(target, target)
        if engine in manifest:
            chosen[engine] = manifest[engine]
        elif target in model_engines:
            print(f"{target} ({engine}) needs no weights to download")
        else:
            names = ", ".join([*sorted(c for c, e in model_engines.items() if e in manifest), *manifest, "all"])
            raise Refused(f"unknown model or engine {target!r}: choose from {names}")
    return list(chosen.values())


def _notice(engine: EngineWeights) -> None:
    licence = engine.licence
    print(f"== {engine.engine}: {engine.title}")
    print(f"   licence: {licence.name} ({licence.url}); commercial use: {'yes' if licence.commercial_use else 'no'}")
    if engine.source_note:
        print(f"   source: {engine.source_note}")


def _fetch(engines: list[EngineWeights], weights_dir: Path, accepted: bool) -> int:
    needing = [engine.engine for engine in engines if engine.licence.acceptance_required]
    if needing and not accepted:
        for engine in engines:
            if engine.licence.acceptance_required:
                _notice(engine)
        raise Refused(
            f"{', '.join(needing)}: these weights come under terms you must accept (above: non-commercial use, or "
            "use restrictions); read them and run the command again with --accept-licence to accept them. "
            "Nothing was downloaded."
        )
    status = OK
    for engine in engines:
        _notice(engine)
        if not _fetch_engine(engine, weights_dir):
            status = FAILED
    return status


def _fetch_engine(engine: EngineWeights, weights_dir: Path) -> bool:
    """Install every file of `engine` that is not already there and right; whether all are."""
    complete = True
    for weight in engine.files:
        final = weights_dir / weight.target
        present = check_file(final, weight)
        if present.ok:
            print(f"   {weight.target}: already installed: {present.detail}")
            continue
        if not weight.pinned:
            print(f"   note: {weight.repo_id} revision {weight.revision!r} is a branch, not a commit")
        if weight.sha256 is None:
            checked = "its size is checked only" if weight.size is not None else "only its presence is checked"
            print(f"   note: {weight.target} has no published checksum: {checked}")
        try:
            installed = fetch_file(weight, weights_dir)
        except ChecksumMismatch as error:
            print(f"   error: {error}", file=sys.stderr)
            complete = False
        except Exception as error:  # the hub's and the network's errors: report them, go on with the rest
            source = f"{weight.repo_id}@{weight.revision}, {weight.path}"
            print(f"   error: {weight.target} ({source}): {error}", file=sys.stderr)
            print("   run the same command again to retry (installed files are kept)", file=sys.stderr)
            complete = False
        else:
            print(f"   {weight.target}: installed and checked: {installed.detail}")
    if complete:
        clear_staging(weights_dir, engine.files)
    return complete


def _verify(engines: list[EngineWeights], weights_dir: Path) -> int:
    status = OK
    for engine in engines:
        for weight in engine.files:
            check = check_file(weights_dir / weight.target, weight)
            print(f"{'ok  ' if check.ok else 'FAIL'} {engine.engine}: {weights_dir / weight.target}: {check.detail}")
            if not check.ok:
                status = FAILED
    if status != OK:
        print("some files are missing or wrong: run `python -m app.weights fetch MODEL` to (re)install them")
    return status


def _list(engines: list[EngineWeights], weights_dir: Path, model_engines: dict[str, str]) -> int:
    for engine in engines:
        choices = ", ".join(choice for choice, name in model_engines.items() if name == engine.engine) or "none"
        _notice(engine)
        accept = "yes" if engine.licence.acceptance_required else "no"
        print(f"   model choices: {choices}; needs --accept-licence: {accept}")
        for weight in engine.files:
            print(f"   {weight.target:<45} {_size(weight.size):>9}  {_installed(weights_dir / weight.target, weight)}")
            print(f"       from {weight.repo_id}@{weight.revision[:12]} {weight.path}")
    return OK


def _installed(path: Path, weight: WeightFile) -> str:
    """Cheap (no hashing, unlike `verify`): present, and of the published size where there is one."""
    if not path.is_file():
        return "not installed"
    return "installed" if weight.size in (None, path.stat().st_size) else "wrong size"


def _size(size: int | None) -> str:
    if size is None:
        return "size ?"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
