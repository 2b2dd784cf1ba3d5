"""Import a motion into the scene: one new collection per import, one armature and body per tracked person.

Naming: collection "VIBE <file stem>", armature object and data "Person <track id>" (custom property
`vibe_track_id`; Blender appends .001 on a second import), body "<armature> body", action "<armature> motion".
Video frame f is keyed at Blender frame f + 1; the scene's fps and frame range are set from the motion. A person is
visible only on the frames where it was tracked: `hide_viewport` and `hide_render` are keyed on the armature and
body (constant interpolation), and the pose keys interpolate across the hidden gaps.

A motion with a world frame (`smpl_rig.world`) is imported in it: Blender's world is the motion's (floor z = 0, z up),
a floor object lies at z = 0, each armature keys its foot contacts as custom properties, and planted feet are locked
for the very skeleton the armature is built with (re-solved when it differs from the one the backend locked for).
The collection's custom property `vibe_world` says how the world was found, or why the people stay in the camera
frame. Official .pkl files have no world: `import_motion_file` finds it, as the backend does.

The import is all or nothing: on any error every data-block it created is removed, the scene's timing and active
object are restored, and the error is re-raised.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from smpl_rig.blender.action import key_visibility
from smpl_rig.blender.armature import create_armature, key_contacts, key_motion, rest_rotations
from smpl_rig.blender.body import create_proxy_body, create_smpl_body
from smpl_rig.foot_lock import lock_feet
from smpl_rig.motion import Motion, Person, load_motion
from smpl_rig.rest_skeleton import SMPL_MODEL_FILE, person_rest_joints, smpl_model_in
from smpl_rig.rig_pose import blender_rest_joints, visibility_keys
from smpl_rig.smpl_model import SmplModel
from smpl_rig.world import place_in_world

from .floor import create_floor

FIRST_FRAME = 1  # the Blender frame of video frame 0
_ID_COLLECTIONS = ("objects", "armatures", "meshes", "actions", "collections", "shape_keys")


def import_motion_file(
    context: bpy.types.Context,
    filepath: str | Path,
    data_dir: str | Path | None,
    person_ids: Iterable[int] | None = None,
    world: bool = True,
    foot_lock: bool = True,
) -> list[bpy.types.Object]:
    """Read `motion.npz`, `vibe_output.pkl` or `tcmr_output.pkl` and import it; see `import_motion`.

    world: place the people in the world (a file the backend wrote has it already; official files get it here,
    with planted feet locked when `foot_lock`); False imports them in the camera frame, as the file has them.
    """
    motion = load_motion(filepath)
    if not world:
        motion.world = None
    elif not motion.world_note:  # nobody looked for a floor yet: official outputs
        model = _find_smpl_model(data_dir)
        rest_joints = {pid: person_rest_joints(person, model) for pid, person in motion.people.items()}
        motion = place_in_world(motion, rest_joints, foot_lock)
    return import_motion(context, motion, data_dir, person_ids, collection_name=f"VIBE {Path(filepath).stem}")


def import_motion(
    context: bpy.types.Context,
    motion: Motion,
    data_dir: str | Path | None,
    person_ids: Iterable[int] | None = None,
    collection_name: str = "VIBE motion",
) -> list[bpy.types.Object]:
    """Import the people `person_ids` (all when None) of `motion`; returns their armatures.

    data_dir: a folder laid out like VIBE's `vibe_data`; with its SMPL_NEUTRAL.pkl the rig gets the SMPL rest
    joints and mesh, otherwise (also when empty or None) the default skeleton and a proxy body.
    """
    people = _select_people(motion, person_ids)
    model = _find_smpl_model(data_dir)
    if not np.isfinite(motion.fps) or motion.fps <= 0:
        raise ValueError(f"the motion's frame rate {motion.fps} is not positive; the file is damaged")
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    state = _SceneState.capture(context)
    try:
        collection = bpy.data.collections.new(collection_name)
        context.scene.collection.children.link(collection)
        collection["vibe_world"] = motion.world_note
        last_frame = FIRST_FRAME + max(int(person.frame_ids[-1]) for person in people.values())
        armatures = [
            _import_person(context, track_id, person, collection, model, last_frame, motion)
            for track_id, person in people.items()
        ]
        if motion.world is not None:
            create_floor(collection, [person.world_root for person in people.values()], motion.world)
        _set_timing(context.scene, motion.fps, last_frame)
    except BaseException:
        state.restore(context)
        raise
    context.view_layer.objects.active = armatures[0]
    return armatures


def _select_people(motion: Motion, person_ids: Iterable[int] | None) -> dict[int, Person]:
    if not motion.people:
        raise ValueError("the motion file holds no people: no one was tracked long enough in the video")
    wanted = sorted(motion.people) if person_ids is None else [int(i) for i in person_ids]
    missing = [i for i in wanted if i not in motion.people]
    if missing or not wanted:
        raise ValueError(
            f"no person with track id {', '.join(map(str, missing)) or '(none given)'} in the file; "
            f"it holds track ids {', '.join(map(str, sorted(motion.people)))}"
        )
    for track_id in wanted:
        _check_person(track_id, motion.people[track_id])
    return {i: motion.people[i] for i in wanted}


def _check_person(track_id: int, person: Person) -> None:
    frames = person.frame_ids
    if len(frames) == 0:
        raise ValueError(f"person {track_id} has no frames; import the others by track id")
    if frames[0] < 0 or np.any(np.diff(frames) <= 0):
        raise ValueError(f"person {track_id}'s frame ids are negative or not increasing: the file is damaged")
    used = (person.pose, person.betas, person.trans if person.root is None else person.root,
            *(values for values in (person.world_pose, person.world_root) if values is not None))
    if not all(np.isfinite(values).all() for values in used):
        raise ValueError(f"person {track_id} has non-finite pose, shape or translation values: re-run the estimator")


def _find_smpl_model(data_dir: str | Path | None) -> SmplModel | None:
    if not data_dir:
        return None
    folder = Path(bpy.path.abspath(str(data_dir)))
    if not folder.is_dir():
        raise ValueError(
            f"data folder not found: {folder}. Choose the folder holding {SMPL_MODEL_FILE} (VIBE's vibe_data), "
            "or leave it empty to use the default skeleton"
        )
    return smpl_model_in(folder)


def _import_person(
    context: bpy.types.Context,
    track_id: int,
    person: Person,
    collection: bpy.types.Collection,
    model: SmplModel | None,
    last_frame: int,
    motion: Motion,
) -> bpy.types.Object:
    name = f"Person {track_id}"
    betas = person.betas.mean(axis=0)
    rest_joints = person_rest_joints(person, model)
    armature = create_armature(context, name, collection, blender_rest_joints(rest_joints))
    armature["vibe_track_id"] = track_id
    frames = person.frame_ids + FIRST_FRAME
    if motion.world is not None and person.world_pose is not None:
        pose, root = _world_motion(person, rest_joints, motion)
        key_motion(armature, frames, pose, root - rest_joints[0], rest_joints, to_blender=np.eye(3))
        key_contacts(armature, frames, person.contacts)
    else:
        key_motion(armature, frames, person.pose, person.transl_for(rest_joints[0]), rest_joints)
    if model is not None:
        body = create_smpl_body(f"{armature.name} body", collection, armature, model, betas)
    else:
        body = create_proxy_body(f"{armature.name} body", collection, armature, rest_rotations(armature))
    key_frames, hidden = visibility_keys(frames, FIRST_FRAME, last_frame)
    if len(key_frames):
        for obj in (armature, body):
            key_visibility(obj, key_frames, hidden)
    return armature


def _world_motion(person: Person, rest_joints: np.ndarray, motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """The person's world pose and pelvis, with the feet locked for this armature's skeleton when the motion's are
    locked for another (the backend had another data folder) or not recorded."""
    pose, root = person.world_pose, person.world_root
    same = person.rest_joints is not None and np.allclose(person.rest_joints, rest_joints, atol=1e-5)
    if motion.foot_lock and not same:
        pose, root = lock_feet(pose, root, rest_joints, person.contacts, person.frame_ids, motion.fps)
    return pose, root


def _set_timing(scene: bpy.types.Scene, fps: float, last_frame: int) -> None:
    """Scene fps as Blender stores it (integer fps / fps_base, e.g. 30 / 1.001 for 29.97) and the motion's range."""
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps
    scene.frame_start, scene.frame_end = FIRST_FRAME, last_frame
    scene.frame_set(FIRST_FRAME)


@dataclass
class _SceneState:
    """What an import touches, to put back when it fails: data-blocks that existed, timing, active object."""

    existing: set[int]
    timing: tuple
    active_name: str | None

    @staticmethod
    def capture(context: bpy.types.Context) -> "_SceneState":
        scene = context.scene
        return _SceneState(
            existing={block.as_pointer() for block in _data_blocks()},
            timing=(scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end, scene.frame_current),
            active_name=getattr(context.view_layer.objects.active, "name", None),
        )

    def restore(self, context: bpy.types.Context) -> None:
        if context.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        bpy.data.batch_remove([block for block in _data_blocks() if block.as_pointer() not in self.existing])
        scene = context.scene
        scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end, frame = self.timing
        scene.frame_set(frame)
        context.view_layer.objects.active = bpy.data.objects.get(self.active_name or "")


def _data_blocks():
    for name in _ID_COLLECTIONS:
        yield from getattr(bpy.data, name)
