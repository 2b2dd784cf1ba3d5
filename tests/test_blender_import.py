"""`bpy.ops.vibe.import_motion` against the real bpy module: FK equality, body, keys, inputs, and failed imports."""

import os
import pickle
import sys
import types

import bpy
import joblib
import numpy as np
import pytest

from blender_vibe import import_op, importer, preview
from smpl_rig.camera import CAMERA_TO_BLENDER, crop_cam_to_orig_cam, orig_cam_to_translation
from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.fk import forward_kinematics
from smpl_rig.motion import Motion, Person, save_motion
from smpl_rig.perspective import correct_root_orientation
from smpl_rig.rig_pose import blender_joint_positions, blender_rest_joints
from smpl_rig.skeleton import JOINT_NAMES
from smpl_rig.smpl_model import load_smpl_model
from tests.synthetic import write_smpl_model

_DATA = ("objects", "meshes", "armatures", "actions", "collections", "shape_keys")


@pytest.fixture(scope="module", autouse=True)
def operator():
    import_op.register()
    yield
    import_op.unregister()


@pytest.fixture(autouse=True)
def scene(monkeypatch):
    """An empty scene, and an add-on preference for the data folder that the test controls (empty by default)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    set_preference(monkeypatch, "")
    return bpy.context.scene


def set_preference(monkeypatch, data_dir):
    preferences = types.ModuleType("blender_vibe.preferences")
    preferences.data_dir_preference = lambda context: str(data_dir)
    monkeypatch.setitem(sys.modules, "blender_vibe.preferences", preferences)


def make_person(rng, frame_ids, joints3d=None):
    n = len(frame_ids)
    return Person(
        pose=rng.uniform(-np.pi, np.pi, size=(n, 72)),
        betas=rng.normal(size=(n, 10)),
        trans=rng.normal(scale=0.5, size=(n, 3)) + [0.0, 0.0, 5.0],
        cam=np.tile([1.0, 0.0, 0.0], (n, 1)),
        orig_cam=np.tile([0.2, 0.35, 0.0, 0.0], (n, 1)),
        bboxes=np.tile([320.0, 240.0, 200.0, 200.0], (n, 1)),
        frame_ids=np.asarray(frame_ids),
        joints3d=np.zeros((n, 0, 3)) if joints3d is None else joints3d,
    )


def write_motion(path, people, fps=30.0):
    return save_motion(Motion(fps=fps, width=640, height=480, estimator="test", people=people), path)


def import_file(path, **kwargs):
    assert bpy.ops.vibe.import_motion(filepath=str(path), **kwargs) == {"FINISHED"}


def evaluated_heads(armature, frame):
    bpy.context.scene.frame_set(int(frame))
    evaluated = armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
    world = np.array(evaluated.matrix_world)
    heads = np.array([evaluated.pose.bones[name].head for name in JOINT_NAMES])
    return heads @ world[:3, :3].T + world[:3, 3]


def assert_heads_follow_fk(armature, person, rest_joints):
    """SMPL FK in Blender's frame, with the pelvis at `person.root` when the motion has it (else `trans` as SMPL's
    `transl`), on every tracked frame."""
    expected = blender_joint_positions(person.pose, person.transl_for(rest_joints[0]), rest_joints)
    for i, frame in enumerate(person.frame_ids + 1):
        np.testing.assert_allclose(evaluated_heads(armature, frame), expected[i], atol=1e-4)


def populate_scene():
    """Something to keep: a mesh object, an odd frame range and fps, an active object."""
    scene = bpy.context.scene
    mesh = bpy.data.meshes.new("Keep")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("Keep", mesh)
    scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    scene.render.fps, scene.frame_start, scene.frame_end = 24, 10, 80
    scene.frame_set(17)


def snapshot():
    scene = bpy.context.scene
    data = {name: sorted(block.name for block in getattr(bpy.data, name)) for name in _DATA}
    timing = (scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end, scene.frame_current)
    return data, timing, getattr(bpy.context.view_layer.objects.active, "name", None), bpy.context.mode


@pytest.fixture
def data_dir(tmp_path):
    write_smpl_model(tmp_path / "vibe_data" / "SMPL_NEUTRAL.pkl")
    return tmp_path / "vibe_data"


def test_bone_heads_follow_smpl_fk_with_the_smpl_model(tmp_path, data_dir):
    rng = np.random.default_rng(0)
    people = {1: make_person(rng, np.arange(10)), 4: make_person(rng, [3, 4, 5, 8, 9, 10, 11])}
    import_file(write_motion(tmp_path / "motion.npz", people), data_dir=str(data_dir))
    model = load_smpl_model(data_dir / "SMPL_NEUTRAL.pkl")
    for track_id, person in people.items():
        armature = bpy.data.objects[f"Person {track_id}"]
        assert armature["vibe_track_id"] == track_id
        rest_joints = model.rest_joints(person.betas.mean(axis=0))
        rest_heads = np.array([armature.data.bones[name].head_local for name in JOINT_NAMES])
        np.testing.assert_allclose(rest_heads, blender_rest_joints(rest_joints), atol=1e-6)
        assert_heads_follow_fk(armature, person, rest_joints)
    collection = bpy.data.collections["VIBE motion"]
    assert {obj.name for obj in collection.objects} == {"Person 1", "Person 1 body", "Person 4", "Person 4 body"}


@pytest.mark.parametrize("skeleton", ["smpl", "default"])
def test_root_puts_the_pelvis_of_either_skeleton_where_the_estimator_found_it(tmp_path, data_dir, skeleton):
    rng = np.random.default_rng(9)
    person = make_person(rng, np.arange(6))
    person.root = person.trans + rng.normal(scale=0.2, size=(6, 3))  # the estimator's body, not this skeleton
    path = write_motion(tmp_path / "motion.npz", {1: person})
    import_file(path, data_dir=str(data_dir) if skeleton == "smpl" else "")
    if skeleton == "smpl":
        rest_joints = load_smpl_model(data_dir / "SMPL_NEUTRAL.pkl").rest_joints(person.betas.mean(axis=0))
    else:
        rest_joints = default_rest_joints()
    armature = bpy.data.objects["Person 1"]
    assert_heads_follow_fk(armature, person, rest_joints)
    for i, frame in enumerate(person.frame_ids + 1):
        np.testing.assert_allclose(evaluated_heads(armature, frame)[0], CAMERA_TO_BLENDER @ person.root[i], atol=1e-4)


def test_smpl_body_has_shape_keys_at_the_mean_betas_and_skins_like_smpl(tmp_path, data_dir):
    rng = np.random.default_rng(1)
    person = make_person(rng, np.arange(3))
    import_file(write_motion(tmp_path / "motion.npz", {1: person}), data_dir=str(data_dir))
    body = bpy.data.objects["Person 1 body"]
    betas = person.betas.mean(axis=0)
    keys = body.data.shape_keys.key_blocks
    assert [key.name for key in keys] == ["Basis"] + [f"Beta{k}" for k in range(10)]
    np.testing.assert_allclose([key.value for key in keys[1:]], betas, atol=1e-6)
    assert [group.name for group in body.vertex_groups] == list(JOINT_NAMES)

    bpy.context.scene.frame_set(2)
    evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    got = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", got)
    evaluated.to_mesh_clear()
    model = load_smpl_model(data_dir / "SMPL_NEUTRAL.pkl")
    rest_joints = model.rest_joints(betas)
    positions, rotations = forward_kinematics(person.pose[1:2], rest_joints, person.trans[1:2])
    offsets = model.shaped_vertices(betas)[:, None, :] - rest_joints[None]  # (V, 24, 3)
    per_joint = np.einsum("jab,vjb->vja", rotations[0], offsets) + positions[0][None]
    expected = np.einsum("vj,vja->va", model.weights, per_joint) @ CAMERA_TO_BLENDER.T  # SMPL LBS, no pose blend
    np.testing.assert_allclose(got.reshape(-1, 3), expected, atol=1e-4)


def test_default_skeleton_and_proxy_body_without_the_smpl_model(tmp_path):
    rng = np.random.default_rng(2)
    subject = default_rest_joints() * 1.1
    measured = make_person(rng, np.arange(6))
    measured.joints3d = forward_kinematics(measured.pose, subject, measured.trans)[0]
    people = {1: make_person(rng, np.arange(6)), 2: measured}
    import_file(write_motion(tmp_path / "motion.npz", people))
    assert_heads_follow_fk(bpy.data.objects["Person 1"], people[1], default_rest_joints())
    assert_heads_follow_fk(bpy.data.objects["Person 2"], measured, subject)  # measured bone lengths
    body = bpy.data.objects["Person 1 body"]
    assert body.data.shape_keys is None and len(body.data.vertices) == 24 * 8
    assert body.parent == bpy.data.objects["Person 1"] and body.modifiers["Armature"].object == body.parent
    assert [group.name for group in body.vertex_groups] == list(JOINT_NAMES)


def test_upright_person_filmed_from_the_front_stands_on_z_facing_the_camera(tmp_path):
    person = make_person(np.random.default_rng(3), [0])
    person.pose[:] = 0.0
    person.pose[0, :3] = [np.pi, 0.0, 0.0]
    person.trans[:] = [0.0, 0.0, 4.0]
    import_file(write_motion(tmp_path / "motion.npz", {1: person}))
    joints = dict(zip(JOINT_NAMES, evaluated_heads(bpy.data.objects["Person 1"], 1), strict=True))
    assert joints["Head"][2] > joints["Neck"][2] > joints["Pelvis"][2] > joints["L_Knee"][2] > joints["L_Ankle"][2]
    assert joints["L_Foot"][1] < joints["L_Ankle"][1]  # toes toward the camera at the origin, which looks along +Y
    assert joints["L_Hand"][0] > joints["R_Hand"][0]  # not mirrored: the person's left is the image's right
    assert joints["Pelvis"][1] == pytest.approx(4.0, abs=1e-5)


def test_keyed_quaternions_stay_in_one_hemisphere(tmp_path):
    n = 40
    person = make_person(np.random.default_rng(4), np.arange(n))
    person.pose[:] = 0.0
    person.pose[:, :3] = np.linspace(0.0, 4 * np.pi, n)[:, None] * [0.0, 1.0, 0.0]  # two full turns
    person.pose[:, 3 * 18 : 3 * 18 + 3] = np.linspace(-3.3, 3.3, n)[:, None] * [0.0, 0.0, 1.0]  # elbow past pi
    import_file(write_motion(tmp_path / "motion.npz", {1: person}))
    armature = bpy.data.objects["Person 1"]
    keyed = []
    for frame in range(1, n + 1):
        bpy.context.scene.frame_set(frame)
        keyed.append([tuple(bone.rotation_quaternion) for bone in armature.pose.bones])
    keyed = np.array(keyed)
    assert np.sum(keyed[1:] * keyed[:-1], axis=-1).min() > 0.9
    assert_heads_follow_fk(armature, person, default_rest_joints())


@pytest.mark.parametrize("name", ["vibe_output.pkl", "tcmr_output.pkl"])
def test_official_vibe_and_tcmr_outputs_import_every_person(tmp_path, name):
    rng = np.random.default_rng(5)
    output = {}
    scale = 1.2 if "tcmr" in name else 1.0  # TCMR's demo converts the camera with its 1.2 times larger box
    for track_id, frames in ((1, np.arange(4)), (3, np.arange(2, 7))):
        n = len(frames)
        pred_cam, bboxes = rng.uniform(0.8, 1.2, size=(n, 3)), np.tile([300.0, 200.0, 150.0, 150.0], (n, 1))
        output[track_id] = {
            "pred_cam": pred_cam, "orig_cam": crop_cam_to_orig_cam(pred_cam, bboxes * [1, 1, scale, scale], 640, 480),
            "verts": np.zeros((n, 10, 3), dtype=np.float32), "pose": rng.normal(size=(n, 72)).astype(np.float32),
            "betas": rng.normal(size=(n, 10)).astype(np.float32), "joints3d": rng.normal(size=(n, 49, 3)),
            "joints2d": None, "bboxes": bboxes, "frame_ids": frames,
        }
    joblib.dump(output, tmp_path / name)
    import_file(tmp_path / name, world=False)
    assert {obj.name for obj in bpy.data.collections[f"VIBE {name[:-4]}"].objects if obj.type == "ARMATURE"} == {
        "Person 1", "Person 3"}
    person = output[3]
    # The official joints3d are SMPL's without `transl` ("OP MidHip", joint 8, is SMPL's pelvis): the default
    # skeleton's pelvis goes there, not to `transl` itself.
    root = orig_cam_to_translation(person["orig_cam"]) + person["joints3d"][:, 8]
    pose = correct_root_orientation(person["pose"], person["bboxes"], 640, 480)  # seen from the camera, not the crop
    expected = blender_joint_positions(pose, root - default_rest_joints()[0], default_rest_joints())
    np.testing.assert_allclose(evaluated_heads(bpy.data.objects["Person 3"], 5), expected[2], atol=1e-4)
    assert bpy.context.scene.frame_end == 7


def test_malicious_pickle_is_refused_and_the_scene_is_unchanged(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / "vibe_output.pkl").write_bytes(pickle.dumps({1: {"pose": Exploit()}}))
    populate_scene()
    before = snapshot()
    with pytest.raises(RuntimeError, match="cannot be read safely"):
        bpy.ops.vibe.import_motion(filepath=str(tmp_path / "vibe_output.pkl"))
    assert not marker.exists()
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["text", "other_npz", "smpl_model_as_motion", "missing", "truncated"])
def test_a_wrong_file_gets_a_clear_message_and_leaves_the_scene_as_it_was(tmp_path, kind):
    path = tmp_path / {"text": "notes.txt", "other_npz": "arrays.npz", "smpl_model_as_motion": "SMPL_NEUTRAL.pkl",
                       "missing": "gone.npz", "truncated": "motion.npz"}[kind]
    if kind == "text":
        path.write_text("hello")
    elif kind == "other_npz":
        np.savez(path, pose=np.zeros((3, 72)))
    elif kind == "smpl_model_as_motion":
        write_smpl_model(path)
    elif kind == "truncated":  # an interrupted copy
        whole = write_motion(path, {1: make_person(np.random.default_rng(10), np.arange(20))}).read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    populate_scene()
    before = snapshot()
    message = {"text": "is not a motion file", "other_npz": "not a blender-vibe motion file",
               "smpl_model_as_motion": "not a VIBE/TCMR output", "missing": "not found",
               "truncated": "motion.npz is damaged or incomplete"}[kind]
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.vibe.import_motion(filepath=str(path))
    assert snapshot() == before


def test_an_import_failing_midway_removes_everything_it_created(monkeypatch):
    rng = np.random.default_rng(6)
    motion = Motion(fps=25.0, width=640, height=480, estimator="test",
                    people={1: make_person(rng, np.arange(5)), 2: make_person(rng, np.arange(5))})
    populate_scene()
    before = snapshot()
    calls = []
    real_proxy = importer.create_proxy_body

    def failing_second_body(*args):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_proxy(*args)

    monkeypatch.setattr(importer, "create_proxy_body", failing_second_body)
    with pytest.raises(RuntimeError, match="disk full"):
        importer.import_motion(bpy.context, motion, None)
    assert calls == ["Person 1 body", "Person 2 body"]
    assert snapshot() == before


def test_scene_timing_and_visibility_follow_the_tracks(tmp_path):
    rng = np.random.default_rng(7)
    people = {1: make_person(rng, np.arange(4, 9)), 2: make_person(rng, np.arange(19))}
    import_file(write_motion(tmp_path / "motion.npz", people, fps=29.97))
    scene = bpy.context.scene
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == (30, 1, 19)
    assert scene.render.fps / scene.render.fps_base == pytest.approx(29.97)
    armature, body = bpy.data.objects["Person 1"], bpy.data.objects["Person 1 body"]
    for frame, hidden in ((1, True), (4, True), (5, False), (9, False), (10, True), (19, True)):
        scene.frame_set(frame)
        assert (armature.hide_viewport, armature.hide_render, body.hide_viewport) == (hidden, hidden, hidden)
    assert bpy.data.objects["Person 2"].animation_data.action.name == "Person 2 motion"
    # a contact sheet spreads its frames over those on which someone is shown, first and last included
    assert preview.sheet_frames(bpy.context, [armature]) == [5, 6, 7, 8, 9]
    assert preview.sheet_frames(bpy.context, [armature, bpy.data.objects["Person 2"]], 4) == [1, 7, 13, 19]


def test_operator_options_and_their_errors(tmp_path, monkeypatch, data_dir):
    rng = np.random.default_rng(8)
    path = write_motion(tmp_path / "motion.npz", {1: make_person(rng, np.arange(3)), 2: make_person(rng, [1, 2])})
    with pytest.raises(RuntimeError, match="no person with track id 9 in the file; it holds track ids 1, 2"):
        bpy.ops.vibe.import_motion(filepath=str(path), person_ids="2, 9")
    with pytest.raises(RuntimeError, match="track ids separated by commas"):
        bpy.ops.vibe.import_motion(filepath=str(path), person_ids="two")
    with pytest.raises(RuntimeError, match="data folder not found"):
        bpy.ops.vibe.import_motion(filepath=str(path), data_dir=str(tmp_path / "nowhere"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "SMPL_NEUTRAL.pkl").write_bytes(b"\x80\x02truncated")
    with pytest.raises(RuntimeError, match="not a usable SMPL model file"):
        bpy.ops.vibe.import_motion(filepath=str(path), data_dir=str(tmp_path / "broken"))
    assert len(bpy.data.objects) == 0

    import_file(path, person_ids="2")
    assert [obj.name for obj in bpy.data.objects if obj.type == "ARMATURE"] == ["Person 2"]
    set_preference(monkeypatch, data_dir)  # an empty data_dir falls back to the add-on preference
    import_file(path, person_ids="1")
    assert bpy.data.objects["Person 1 body"].data.shape_keys is not None
    monkeypatch.setitem(sys.modules, "blender_vibe.preferences", None)  # operator registered without the add-on
    import_file(path, person_ids="1")
    assert bpy.data.objects["Person 1.001 body"].data.shape_keys is None
