"""People in a world inside Blender: floor, armatures in the world with locked feet, contacts, footage camera, and
planted feet surviving retargeting (real bpy)."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_vibe import import_op, retarget_op  # noqa: E402
from blender_vibe.footage import place_footage  # noqa: E402
from blender_vibe.preview import joint_pixels  # noqa: E402
from smpl_rig.blender.armature import CONTACT_PROPERTIES  # noqa: E402
from smpl_rig.motion import Motion, save_motion  # noqa: E402
from smpl_rig.rest_skeleton import person_rest_joints  # noqa: E402
from smpl_rig.skeleton import JOINT_NAMES  # noqa: E402
from smpl_rig.smpl_model import load_smpl_model  # noqa: E402
from smpl_rig.world import place_in_world  # noqa: E402
from tests.retarget_rigs import build_armature, mixamo_rig, register_with_parent_panel  # noqa: E402
from tests.synthetic import write_smpl_model  # noqa: E402
from tests.videos import write_video  # noqa: E402
from tests.walking import filmed, pitched_camera, walk  # noqa: E402

ANKLES = [JOINT_NAMES.index("L_Ankle"), JOINT_NAMES.index("R_Ankle")]


@pytest.fixture(scope="module", autouse=True)
def operators():
    import_op.register()
    stand_ins = register_with_parent_panel()
    yield
    retarget_op.unregister()
    for cls in stand_ins:
        bpy.utils.unregister_class(cls)
    import_op.unregister()


@pytest.fixture(autouse=True)
def scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


def world_motion(yaw=0.0) -> tuple[Motion, list]:
    """Two people walking in front of a camera 2.5 m high looking 15 degrees down (panning when `yaw` varies)."""
    scenes = [walk((-1.0, 5.0), 70, seconds=3), walk((1.0, 8.0), 250, seconds=3)]
    camera = pitched_camera(2.5, 15, yaw)
    rotations = None
    if np.ndim(yaw):
        rotations = np.swapaxes(camera.rotation[0], -1, -2) @ camera.rotation
    people = {k + 1: filmed(s, camera, seed=k) for k, s in enumerate(scenes)}
    motion = Motion(fps=30.0, width=camera.width, height=camera.height, estimator="test", people=people,
                    camera_frame_ids=None if rotations is None else np.arange(len(rotations)),
                    camera_rotations=rotations)
    return place_in_world(motion, {k + 1: s.rest for k, s in enumerate(scenes)}), scenes


def evaluated_heads(armature, frames) -> np.ndarray:
    """(F, 24, 3) world positions of the armature's bone heads on scene frames."""
    heads = []
    for frame in frames:
        bpy.context.scene.frame_set(int(frame))
        world = np.array(armature.matrix_world)
        heads.append([tuple(world[:3, :3] @ np.array(bone.head) + world[:3, 3]) for bone in
                      (armature.pose.bones[name] for name in JOINT_NAMES)])
    return np.array(heads)


def skate_mm(ankles: np.ndarray, planted: np.ndarray) -> float:
    steps = np.linalg.norm(np.diff(ankles, axis=0), axis=-1)
    return float(steps[planted[1:] & planted[:-1]].mean() * 1000)


def test_world_import_stands_people_on_a_floor_with_feet_locked_for_the_imported_skeleton(tmp_path):
    motion, _ = world_motion()
    path = save_motion(motion, tmp_path / "motion.npz")
    write_smpl_model(tmp_path / "vibe_data" / "SMPL_NEUTRAL.pkl")  # another skeleton than the backend's
    assert bpy.ops.vibe.import_motion(filepath=str(path), data_dir=str(tmp_path / "vibe_data")) == {"FINISHED"}
    collection = bpy.data.collections["VIBE motion"]
    assert collection["vibe_world"].startswith("Floor found")
    floor = bpy.data.objects["Floor"]
    corners = np.array([v.co for v in floor.data.vertices])
    assert np.all(corners[:, 2] == 0.0) and floor.hide_render and floor.display_type == "WIRE"
    model = load_smpl_model(tmp_path / "vibe_data" / "SMPL_NEUTRAL.pkl")
    for pid, person in motion.people.items():
        armature = bpy.data.objects[f"Person {pid}"]
        assert not np.allclose(person_rest_joints(person, model), person.rest_joints, atol=1e-3)
        frames = person.frame_ids + 1
        heads = evaluated_heads(armature, frames)
        assert corners[:, :2].min() < heads[:, 0, :2].min() and heads[:, 0, :2].max() < corners[:, :2].max()
        planted = person.contacts
        assert skate_mm(heads[:, ANKLES[0]], planted[:, 0]) < 1.0
        assert skate_mm(heads[:, ANKLES[1]], planted[:, 1]) < 1.0
        assert np.abs(heads[:, ANKLES][planted][:, 2]).max() < 0.2  # planted ankles are just above the floor
        np.testing.assert_allclose(np.linalg.norm(heads[:, 0, :2] - person.world_root[:, :2], axis=1), 0.0,
                                   atol=0.06)  # the lock moves the root a little at most
        keyed = []
        for frame in frames:
            bpy.context.scene.frame_set(int(frame))
            keyed.append([armature[name] for name in CONTACT_PROPERTIES])
        np.testing.assert_array_equal(np.array(keyed) > 0.5, planted)


def test_without_the_world_the_file_imports_in_the_camera_frame(tmp_path):
    motion, _ = world_motion()
    path = save_motion(motion, tmp_path / "motion.npz")
    assert bpy.ops.vibe.import_motion(filepath=str(path), world=False) == {"FINISHED"}
    assert "Floor" not in bpy.data.objects
    armature = bpy.data.objects["Person 1"]
    assert CONTACT_PROPERTIES[0] not in armature
    person = motion.people[1]
    head = evaluated_heads(armature, person.frame_ids[:1] + 1)[0, 0]
    np.testing.assert_allclose(head, [person.root[0, 0], person.root[0, 2], -person.root[0, 1]], atol=1e-4)


def test_footage_camera_at_its_pose_sees_the_people_where_the_video_has_them(tmp_path):
    yaw = np.linspace(-10.0, 10.0, 90)
    motion, scenes = world_motion(yaw)
    video = write_video(tmp_path / "clip.mp4", np.zeros((90, 480, 640, 3), dtype=np.uint8), fps=30.0)
    path = save_motion(motion, tmp_path / "motion.npz")
    assert bpy.ops.vibe.import_motion(filepath=str(path)) == {"FINISHED"}
    armatures = [bpy.data.objects["Person 1"], bpy.data.objects["Person 2"]]
    camera = place_footage(bpy.context, str(video), 640, 480, armatures[0].users_collection[0], motion.world)
    assert bpy.context.scene.camera == camera and camera.animation_data.action is not None  # keyed: it pans
    truth_camera = pitched_camera(2.5, 15, yaw)
    for frame in (0, 45, 89):
        bpy.context.scene.frame_set(frame + 1)
        looks = np.array(camera.matrix_world.to_3x3()) @ [0.0, 0.0, -1.0]
        found = motion.world.camera_rotation[frame] @ [0.0, 0.0, 1.0]
        np.testing.assert_allclose(looks, found, atol=1e-5)
        for armature, scene, person in zip(armatures, scenes, motion.people.values(), strict=True):
            row = np.searchsorted(person.frame_ids, frame)
            if row == len(person.frame_ids) or person.frame_ids[row] != frame:
                continue
            seen = truth_camera.project(np.einsum("ji,kj->ki", truth_camera.rotation[frame],
                                                  scene.joints()[row] - truth_camera.position))
            drawn = joint_pixels(bpy.context, armature)
            assert np.median(np.linalg.norm(drawn - seen, axis=1)) < 8.0  # pixels: 1 cm of jitter at 5-8 m, feet locked


def longer_shins(spec):
    """The rig with 30 % longer shins: other proportions than the source's, so direction matching slides its feet."""
    index = {name: i for i, name in enumerate(spec.names)}
    for side in ("L", "R"):
        knee, ankle, ball = (index[spec.bone_map[f"{side}_{j}"]] for j in ("Knee", "Ankle", "Foot"))
        shin = 0.3 * (spec.heads[ankle] - spec.heads[knee])
        spec.tails[knee] += shin
        for bone in (ankle, ball):
            spec.heads[bone] += shin
            spec.tails[bone] += shin
    return spec


def test_planted_feet_stay_planted_on_a_retargeted_character(tmp_path):
    motion, _ = world_motion()
    path = save_motion(motion, tmp_path / "motion.npz")
    assert bpy.ops.vibe.import_motion(filepath=str(path)) == {"FINISHED"}
    source = bpy.data.objects["Person 1"]
    target = build_armature(longer_shins(mixamo_rig()), "Character")
    person = motion.people[1]
    ankles = [target.pose.bones[name] for name in ("mixamorig:LeftFoot", "mixamorig:RightFoot")]

    def skate(lock: bool) -> float:
        assert bpy.ops.vibe.retarget(source=source.name, target=target.name, feet_on_ground=True,
                                     lock_feet=lock) == {"FINISHED"}
        heads = []
        for frame in person.frame_ids + 1:
            bpy.context.scene.frame_set(int(frame))
            heads.append([np.array(target.matrix_world @ bone.head) for bone in ankles])
        heads = np.array(heads)
        return max(skate_mm(heads[:, k], person.contacts[:, k]) for k in range(2))

    assert skate(True) < 1.0
    assert skate(False) > 2 * skate(True)
