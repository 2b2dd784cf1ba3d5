"""Build the add-on: `python build_addon.py` writes dist/blender_vibe-<version>.zip.

The zip holds one folder, `blender_vibe/`, so it installs both as a Blender 4.2+ extension (its generated
`blender_manifest.toml`) and through the legacy add-on installer (`bl_info`). It carries what the add-on runs:
`smpl_rig/` and `backend/` (source only: no model files, no training code) and the backend's pinned requirements,
under `blender_vibe/_bundled/`. The version is `backend.__version__`, written into the manifest and `bl_info` here.
"""

import argparse
import ast
import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ADDON_ID = "blender_vibe"
BUNDLED = f"{ADDON_ID}/_bundled"
SOURCE_SUFFIXES = {".py", ".json", ".toml", ".txt"}
# training and evaluation: not what the add-on runs
RESEARCH_ONLY = ("backend/train/", "backend/evaluate.py", "backend/metrics.py", "backend/models/discriminator.py")
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed, so the same sources give the same zip

MANIFEST = {
    "schema_version": "1.0.0",
    "id": ADDON_ID,
    "name": "blender-vibe",
    "tagline": "Turn a video of people into animated SMPL armatures",
    "maintainer": "blender-vibe contributors",
    "type": "add-on",
    "tags": ["Animation", "Import-Export"],
    "blender_version_min": "4.2.0",
    "license": ["SPDX:GPL-3.0-or-later"],
}
PERMISSIONS = {"files": "Read videos and model files, write motions and the backend setup"}


def project_version(root: Path = ROOT) -> str:
    """`__version__` from backend/__init__.py, read without importing it."""
    tree = ast.parse((root / "backend" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("backend/__init__.py has no __version__ = '...': the version is set there")


def manifest_text(version: str) -> str:
    """blender_manifest.toml; JSON string and list syntax is valid TOML for these plain values."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in {**MANIFEST, "version": version}.items()]
    lines += ["", "[permissions]"] + [f"{key} = {json.dumps(value)}" for key, value in PERMISSIONS.items()]
    return "\n".join(lines) + "\n"


def stamp_bl_info(init_source: str, version: str) -> str:
    """Add `"version": (x, y, z)` as the first entry of `bl_info`."""
    marker = "bl_info = {\n"
    if init_source.count(marker) != 1:
        raise SystemExit(f"{ADDON_ID}/__init__.py must contain exactly one '{marker.strip()}' line")
    numbers = tuple(int(part) for part in version.split(".")[:3])
    return init_source.replace(marker, f"{marker}    \"version\": {numbers},\n")


def addon_files(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(source file, name in the zip) for the add-on and what it carries; caches and model files stay out."""
    files = [(path, f"{ADDON_ID}/{path.relative_to(root / ADDON_ID).as_posix()}")
             for path in _sources(root / ADDON_ID)]
    for package in ("smpl_rig", "backend"):
        files += [(path, f"{BUNDLED}/{name}") for path in _sources(root / package)
                  if not (name := path.relative_to(root).as_posix()).startswith(RESEARCH_ONLY)]
    files.append((root / "requirements.txt", f"{BUNDLED}/requirements.txt"))
    files.append((root / "NOTICE", f"{ADDON_ID}/NOTICE"))  # third-party credits (the detector's model)
    return files


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts
                  and "_bundled" not in p.relative_to(folder).parts)


def build(out_dir: str | Path = ROOT / "dist", root: Path = ROOT) -> Path:
    """Write the zip and return its path."""
    version = project_version(root)
    out = Path(out_dir) / f"{ADDON_ID}-{version}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = {name: path.read_bytes() for path, name in addon_files(root)}
    init_name = f"{ADDON_ID}/__init__.py"
    entries[init_name] = stamp_bl_info(entries[init_name].decode("utf-8"), version).encode("utf-8")
    entries[f"{ADDON_ID}/blender_manifest.toml"] = manifest_text(version).encode("utf-8")
    tmp = out.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    args = parser.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
