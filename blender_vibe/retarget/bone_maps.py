"""Which bone of a character plays each SMPL joint: built-in maps, user maps saved as JSON, detection from bone names.

Pure Python (no bpy). A map file looks like
    {"label": "Mixamo", "bones": {"Pelvis": "mixamorig:Hips", "Spine3": ["spine_05", "spine_03"], ...},
     "switch_properties": {"IK_FK": 1.0}}
Keys of "bones" are SMPL joint names (`smpl_rig.skeleton.JOINT_NAMES`); a value is a bone name or a list of
alternatives, the first one the armature has wins. Names match exactly, else ignoring case and any namespace prefix
(so "mixamorig1:Hips" and "Hips" both match "mixamorig:Hips"). "switch_properties" are custom properties to set on any
pose bone that has them (Rigify's IK/FK switches) so that the mapped controls drive the deforming bones.
"""

import functools
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smpl_rig.skeleton import JOINT_NAMES

BUILTIN_DIR = Path(__file__).resolve().parent / "presets"
BUILTIN_ORDER = ("mixamo", "rigify_fk", "rigify_deform", "unreal", "makehuman")  # tie-break order for detection
REQUIRED_JOINTS = (
    "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Head",
    "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist",
)


class BoneMapError(ValueError):
    """A bone map that cannot be used; the message names what is wrong and how to fix it."""


@dataclass(frozen=True)
class BoneMapPreset:
    name: str  # file stem, e.g. "mixamo"
    label: str
    bones: dict[str, tuple[str, ...]]  # SMPL joint -> candidate bone names, best first
    switch_properties: dict[str, float] = field(default_factory=dict)
    description: str = ""


def _normalized(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower()


def load_preset(path: str | os.PathLike) -> BoneMapPreset:
    """Read and check a map file; raises BoneMapError naming the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BoneMapError(f"Cannot read bone map {path}: {error}. Save the map again from the Retarget panel.") \
            from None
    bones = data.get("bones") if isinstance(data, dict) else None
    if not isinstance(bones, dict):
        raise BoneMapError(f"Bone map {path} has no \"bones\" object mapping SMPL joints to bone names.")
    unknown = sorted(set(bones) - set(JOINT_NAMES))
    if unknown:
        raise BoneMapError(
            f"Bone map {path} names unknown SMPL joints: {', '.join(unknown)}. Valid keys: {', '.join(JOINT_NAMES)}."
        )
    candidates: dict[str, tuple[str, ...]] = {}
    for joint, value in bones.items():
        names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else None
        if not names or not all(isinstance(n, str) and n for n in names):
            raise BoneMapError(f"Bone map {path}: the entry for {joint} must be a bone name or a list of names.")
        candidates[joint] = names
    switches = data.get("switch_properties", {})
    if not isinstance(switches, dict) or not all(isinstance(v, int | float) for v in switches.values()):
        raise BoneMapError(f"Bone map {path}: \"switch_properties\" must map property names to numbers.")
    return BoneMapPreset(
        name=path.stem,
        label=str(data.get("label") or path.stem),
        bones=candidates,
        switch_properties={str(k): float(v) for k, v in switches.items()},
        description=str(data.get("description", "")),
    )


@functools.cache
def builtin_presets() -> tuple[BoneMapPreset, ...]:
    """The maps shipped with the add-on, in detection tie-break order."""
    return tuple(load_preset(BUILTIN_DIR / f"{name}.json") for name in BUILTIN_ORDER)


def save_preset(
    path: str | os.PathLike,
    bone_map: Mapping[str, str],
    label: str | None = None,
    switch_properties: Mapping[str, float] | None = None,
) -> Path:
    """Write a user's map (SMPL joint -> bone, empty entries dropped) as JSON, atomically."""
    path = Path(path)
    unknown = sorted(set(bone_map) - set(JOINT_NAMES))
    if unknown:
        raise BoneMapError(f"Cannot save the bone map: unknown SMPL joints {', '.join(unknown)}.")
    data = {"label": label or path.stem, "bones": {j: bone_map[j] for j in JOINT_NAMES if bone_map.get(j)}}
    if switch_properties:
        data["switch_properties"] = dict(switch_properties)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def resolve_preset(preset: BoneMapPreset, bone_names: Iterable[str]) -> dict[str, str]:
    """SMPL joint -> the armature's bone for every joint of `preset` the armature has (each bone used once)."""
    bone_names = list(bone_names)
    exact = set(bone_names)
    loose: dict[str, str] = {}
    for name in bone_names:
        loose.setdefault(_normalized(name), name)
    resolved: dict[str, str] = {}
    used: set[str] = set()
    for joint in JOINT_NAMES:
        for candidate in preset.bones.get(joint, ()):
            bone = candidate if candidate in exact else loose.get(_normalized(candidate))
            if bone is not None and bone not in used:
                resolved[joint] = bone
                used.add(bone)
                break
    return resolved


def best_preset_match(
    bone_names: Iterable[str], presets: Iterable[BoneMapPreset] | None = None
) -> tuple[BoneMapPreset, dict[str, str], list[str]]:
    """The preset matching most required joints (then most joints; ties go to the earlier preset), its resolved map
    and the required joints it could not find."""
    bone_names = list(bone_names)
    matches = [(preset, resolve_preset(preset, bone_names)) for preset in (presets or builtin_presets())]
    preset, resolved = max(matches, key=lambda item: (sum(j in item[1] for j in REQUIRED_JOINTS), len(item[1])))
    return preset, resolved, [j for j in REQUIRED_JOINTS if j not in resolved]


def detect_bone_map(
    bone_names: Iterable[str], presets: Iterable[BoneMapPreset] | None = None, armature_name: str = "the armature"
) -> tuple[BoneMapPreset, dict[str, str]]:
    """The best preset and its resolved map; BoneMapError listing the required SMPL joints it could not find."""
    preset, resolved, missing = best_preset_match(bone_names, presets)
    if missing:
        raise BoneMapError(
            f"Could not map {armature_name} onto the SMPL skeleton: no bone found for {', '.join(missing)} "
            f"(closest built-in map: {preset.label}). Pick those bones in the Retarget panel's bone map, or load a "
            f"saved map."
        )
    return preset, resolved


def check_bone_map(bone_map: Mapping[str, str], bone_names: Iterable[str], armature_name: str = "the armature") -> None:
    """Raise BoneMapError listing every problem of a user's map: unknown joints, missing required joints, bones the
    armature does not have, bones used twice."""
    bone_names = set(bone_names)
    used = {j: b for j, b in bone_map.items() if b}
    problems = []
    unknown = sorted(set(used) - set(JOINT_NAMES))
    if unknown:
        problems.append(f"unknown SMPL joints {', '.join(unknown)}")
    missing = [j for j in REQUIRED_JOINTS if j not in used]
    if missing:
        problems.append(f"no bone chosen for {', '.join(missing)}")
    absent = [f"{j} -> {b}" for j, b in used.items() if b not in bone_names]
    if absent:
        problems.append(f"bones not in {armature_name}: {', '.join(absent)}")
    counts: dict[str, list[str]] = {}
    for joint, bone in used.items():
        counts.setdefault(bone, []).append(joint)
    shared = [f"{bone} ({', '.join(joints)})" for bone, joints in counts.items() if len(joints) > 1]
    if shared:
        problems.append(f"bones used for more than one joint: {', '.join(shared)}")
    if problems:
        raise BoneMapError(f"The bone map for {armature_name} cannot be used: {'; '.join(problems)}.")
