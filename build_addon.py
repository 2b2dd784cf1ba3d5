"""Build the add-on: `python build_addon.py` writes dist/blender_vibe-<version>.zip.

The zip holds one folder, `blender_vibe/`, so it installs both as a Blender 4.2+ extension (its generated
`blender_manifest.toml`) and through the legacy add-on installer (`bl_info`). It carries what the add-on runs:
`smpl_rig/` and `backend/` (source only: no model files, no training code) and the backend's pinned requirements,
in the package `blender_vibe/_bundled/`. The version is `backend.__version__`, written into the manifest and
`bl_info` here.

Blender keeps an extension's code inside its own package: no `sys.path` entries, no top-level modules. In the
repository the three folders sit side by side and import each other as `from smpl_rig.x import y`; the build rewrites
every such import (of `smpl_rig`, `backend` and `blender_vibe` itself) into the package-relative form for the place
the module has in the zip, as vendoring tools do, so new files need no per-file work. The backend subprocess runs the
bundled copy as `python -m _bundled.backend` with the add-on folder on its PYTHONPATH (`blender_vibe/runner.py`).
"""

import argparse
import ast
import io
import json
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ADDON_ID = "blender_vibe"
BUNDLED = f"{ADDON_ID}/_bundled"
SOURCE_SUFFIXES = {".py", ".json", ".toml", ".txt"}
# training and evaluation: not what the add-on runs
RESEARCH_ONLY = ("backend/train/", "backend/evaluate.py", "backend/metrics.py", "backend/models/discriminator.py")
COMMAND_LINE_ONLY = ("blender_vibe/batch/",)  # runs the headless command with the bpy module, never inside Blender
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed, so the same sources give the same zip
# where each repository package lives in the zip, as a dotted module path
PLACES = {"blender_vibe": ADDON_ID, "smpl_rig": f"{ADDON_ID}._bundled.smpl_rig",
          "backend": f"{ADDON_ID}._bundled.backend"}
BUNDLED_INIT = '''"""The repository's `smpl_rig/` and `backend/`, carried by the add-on (see build_addon.py).

Their imports of each other were made relative by the build; a child interpreter runs the backend as
`python -m _bundled.backend` with the add-on folder on its PYTHONPATH.
"""
'''

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
             for path in _sources(root / ADDON_ID)
             if not path.relative_to(root).as_posix().startswith(COMMAND_LINE_ONLY)]
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


def relative_imports(source: str, zip_name: str) -> str:
    """`source` of the zip entry `zip_name` with every absolute import of a repository package (PLACES) rewritten
    relative to the module's place in the zip: in `blender_vibe/retarget/bake.py`, `from smpl_rig.rotations import f`
    becomes `from .._bundled.smpl_rig.rotations import f`; `import backend.video as video` becomes
    `from .._bundled.backend import video as video`. A form with no relative equivalent stops the build."""
    package = zip_name.removesuffix(".py").split("/")[:-1]  # the module's __package__
    lines = io.StringIO(source, newline="").readlines()  # split as Python's tokenizer does: \n, \r\n or \r
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line))

    def index(lineno: int, col: int) -> int:  # ast columns count UTF-8 bytes
        return line_starts[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))

    edits = []
    for node in ast.walk(ast.parse(source, filename=zip_name)):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        where = f"{zip_name}:{node.lineno}"
        if not any(_place(name) for name in names):
            continue
        if package[:2] == BUNDLED.split("/") and any(name.partition(".")[0] == ADDON_ID for name in names):
            raise SystemExit(f"{where}: smpl_rig/ and backend/ must not import blender_vibe: the backend runs "
                             "without the add-on, in its own interpreter")
        start = index(node.lineno, node.col_offset)
        if isinstance(node, ast.ImportFrom):
            module = _FROM_MODULE.match(source, start)
            edits.append((module.start(1), module.end(1), _relative(package, _place(node.module))))
        else:
            statements = [_import_statement(package, alias, where) for alias in node.names]
            edits.append((start, index(node.end_lineno, node.end_col_offset), "; ".join(statements)))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


_FROM_MODULE = re.compile(r"from(?:\s|\\\r?\n)+(\w+(?:(?:\s|\\\r?\n)*\.(?:\s|\\\r?\n)*\w+)*)")


def _place(module: str | None) -> list[str] | None:
    """The dotted path in the zip of a module of a repository package, as parts; None for anything else."""
    root, _, rest = (module or "").partition(".")
    if root not in PLACES:
        return None
    return PLACES[root].split(".") + (rest.split(".") if rest else [])


def _relative(package: list[str], target: list[str]) -> str:
    """`target` relative to `package` (both inside the add-on): ".x", "..y.z", or "." for the package itself."""
    common = 0
    while common < min(len(package), len(target)) and package[common] == target[common]:
        common += 1
    return "." * (len(package) - common + 1) + ".".join(target[common:])


def _import_statement(package: list[str], alias: ast.alias, where: str) -> str:
    """One name of an `import` statement: unchanged, or `from <relative parent> import <last part> as <name>`."""
    target = _place(alias.name)
    as_name = f" as {alias.asname}" if alias.asname else ""
    if target is None:
        return f"import {alias.name}{as_name}"
    if len(target) < 2 or ("." in alias.name and not alias.asname):  # the add-on itself; `import a.b` binds `a`
        raise SystemExit(f"{where}: 'import {alias.name}{as_name}' has no package-relative form in the add-on; "
                         f"write 'from {alias.name.rpartition('.')[0] or alias.name} import ...' instead")
    return f"from {_relative(package, target[:-1])} import {target[-1]}{as_name}"


def build(out_dir: str | Path = ROOT / "dist", root: Path = ROOT) -> Path:
    """Write the zip and return its path."""
    version = project_version(root)
    out = Path(out_dir) / f"{ADDON_ID}-{version}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = {name: path.read_bytes() for path, name in addon_files(root)}
    entries[f"{BUNDLED}/__init__.py"] = BUNDLED_INIT.encode("utf-8")
    for name in [name for name in entries if name.endswith(".py")]:
        entries[name] = relative_imports(entries[name].decode("utf-8"), name).encode("utf-8")
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
