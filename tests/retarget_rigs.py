"""Humanoid test rigs for retargeting: SMPL proportions renamed and re-posed like Mixamo, Rigify and Unreal rigs,
with deliberately different rest poses (A-pose, bent knees), proportions, bone rolls and axes, extra bones and object
transforms. Specs are plain numpy (`rest_armature()` for the solver); `build_armature` makes them in Blender."""

from dataclasses import dataclass

import numpy as np

from blender_vibe.retarget.solve import RestArmature
from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.rig_pose import TAIL_CHILD, blender_rest_joints, bone_rest_rotations, bone_tails
from smpl_rig.rotations import axis_angle_to_matrix
from smpl_rig.skeleton import JOINT_NAMES, PARENTS

FRAMES = np.arange(1, 41)  # the keyed frames of `make_source`
LEAF_LENGTH = 0.1
LEGS = ("L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "L_Foot", "R_Foot")
ARMS = ("L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand")


@dataclass
class RigSpec:
    names: list[str]
    parents: list[str | None]
    heads: np.ndarray  # (B, 3) world space
    tails: np.ndarray  # (B, 3) world space
    roll_axes: np.ndarray  # (B, 3) world direction each bone's z axis is rolled toward
    connected: list[bool]
    matrix_world: np.ndarray  # (4, 4)
    bone_map: dict[str, str]  # SMPL joint -> bone

    def armature_space(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inverse = np.linalg.inv(self.matrix_world)
        to_local = inverse[:3, :3]
        heads, tails = self.heads @ to_local.T + inverse[:3, 3], self.tails @ to_local.T + inverse[:3, 3]
        return heads, tails, self.roll_axes @ to_local.T

    def rest_armature(self) -> RestArmature:
        heads, tails, rolls = self.armature_space()
        y = tails - heads
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        z = rolls - np.sum(rolls * y, axis=1, keepdims=True) * y
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        rest = np.tile(np.eye(4), (len(heads), 1, 1))
        rest[:, :3, :3] = np.stack([np.cross(y, z), y, z], axis=-1)
        rest[:, :3, 3] = heads
        return RestArmature.from_bones(self.names, self.parents, rest, self.connected, self.matrix_world)


def transform(rotation_deg: tuple[float, float, float] = (0, 0, 0), location=(0, 0, 0), scale: float = 1.0):
    """A 4x4 object matrix: rotation as an axis-angle vector in degrees, then uniform scale, then location."""
    m = np.eye(4)
    m[:3, :3] = axis_angle_to_matrix(np.radians(rotation_deg)) * scale
    m[:3, 3] = location
    return m


def smpl_source() -> RestArmature:
    """The SMPL armature as `smpl_rig.blender.armature.create_armature` builds it, as plain arrays."""
    heads = blender_rest_joints(default_rest_joints())
    rest = np.tile(np.eye(4), (24, 1, 1))
    rest[:, :3, :3] = bone_rest_rotations(heads, bone_tails(heads))
    rest[:, :3, 3] = heads
    parents = [JOINT_NAMES[p] if p >= 0 else None for p in PARENTS]
    return RestArmature.from_bones(JOINT_NAMES, parents, rest)


def _descendants(joint: int) -> list[int]:
    found = [joint]
    for j in range(joint + 1, 24):
        if PARENTS[j] in found:
            found.append(j)
    return found


def _turn(joints: np.ndarray, joint: str, axis_angle_deg) -> None:
    """Rotate the subtree below `joint` about its head, in place."""
    j = JOINT_NAMES.index(joint)
    below = _descendants(j)[1:]
    rotation = axis_angle_to_matrix(np.radians(axis_angle_deg))
    joints[below] = (joints[below] - joints[j]) @ rotation.T + joints[j]


def humanoid(
    names: dict[str, str],
    arm_drop_deg: float = 0.0,
    knee_bend_deg: float = 0.0,
    leg_scale: float = 1.0,
    arm_scale: float = 1.0,
    facing_deg: float = 0.0,
    matrix_world: np.ndarray | None = None,
    twist: dict[str, str] | None = None,
    root: str | None = None,
    connect: bool = False,
    odd_axes: bool = False,
    seed: int = 0,
) -> RigSpec:
    """A rig whose bone for SMPL joint j is names[j], posed and proportioned differently from the SMPL rest.

    twist: joint -> name of an extra unmapped bone splitting that joint's bone in two; root: an extra unmapped bone
    under the pelvis, which the pelvis is connected to; connect: chain bones connected where heads meet tails;
    odd_axes: bones with a mapped child point sideways (as imported rigs often do) instead of at the child.
    """
    rng = np.random.default_rng(seed)
    base = blender_rest_joints(default_rest_joints())
    joints = base.copy()
    for j in range(1, 24):
        scale = leg_scale if JOINT_NAMES[j] in LEGS else arm_scale if JOINT_NAMES[j] in ARMS else 1.0
        joints[j] = joints[PARENTS[j]] + scale * (base[j] - base[PARENTS[j]])
    _turn(joints, "L_Shoulder", (0, arm_drop_deg, 0))
    _turn(joints, "R_Shoulder", (0, -arm_drop_deg, 0))
    for knee in ("L_Knee", "R_Knee"):
        _turn(joints, knee, (knee_bend_deg, 0, 0))

    bones: list[dict] = []
    for j, joint in enumerate(JOINT_NAMES):
        if joint not in names:
            continue
        child = TAIL_CHILD[j]
        parent = PARENTS[j]
        while parent >= 0 and JOINT_NAMES[parent] not in names:
            parent = PARENTS[parent]
        if child >= 0:
            tail = joints[child]
        else:
            direction = joints[j] - joints[PARENTS[j]]
            tail = joints[j] + LEAF_LENGTH * direction / np.linalg.norm(direction)
        if odd_axes and child >= 0 and JOINT_NAMES[child] in names:
            sideways = np.cross(tail - joints[j], rng.normal(size=3))
            tail = joints[j] + LEAF_LENGTH * sideways / np.linalg.norm(sideways)
        bones.append(dict(name=names[joint], parent=names[JOINT_NAMES[parent]] if parent >= 0 else root,
                          head=joints[j].copy(), tail=tail.copy()))
    by_name = {bone["name"]: bone for bone in bones}
    for joint, extra in (twist or {}).items():
        bone = by_name[names[joint]]
        middle = (bone["head"] + bone["tail"]) / 2
        for other in bones:
            if other["parent"] == bone["name"] and np.allclose(other["head"], bone["tail"]):
                other["parent"] = extra
        bones.append(dict(name=extra, parent=bone["name"], head=middle, tail=bone["tail"]))
        bone["tail"] = middle
    if root is not None:
        ground = np.array([joints[0, 0], joints[0, 1], joints[:, 2].min()])
        bones.insert(0, dict(name=root, parent=None, head=ground, tail=joints[0].copy()))

    heads = np.array([b["head"] for b in bones])
    tails = np.array([b["tail"] for b in bones])
    tail_of = {b["name"]: b["tail"] for b in bones}
    connected = [
        b["parent"] is not None and np.allclose(tail_of[b["parent"]], b["head"]) and (connect or b["parent"] == root)
        for b in bones
    ]
    facing = axis_angle_to_matrix(np.radians([0, 0, facing_deg]))
    return RigSpec(
        names=[b["name"] for b in bones],
        parents=[b["parent"] for b in bones],
        heads=heads @ facing.T,
        tails=tails @ facing.T,
        roll_axes=rng.normal(size=(len(bones), 3)),
        connected=connected,
        matrix_world=np.eye(4) if matrix_world is None else matrix_world,
        bone_map=dict(names),
    )


def _sided(table: dict[str, str]) -> dict[str, str]:
    """Expand '{s}'/'{side}'/'{lr}' placeholders into left and right entries."""
    out = {}
    for joint, bone in table.items():
        if joint.startswith("{s}"):
            for s, side, lr in (("L", "Left", "l"), ("R", "Right", "r")):
                out[joint.format(s=s)] = bone.format(s=s, side=side, lr=lr)
        else:
            out[joint] = bone
    return out


MIXAMO_NAMES = _sided({
    "Pelvis": "mixamorig:Hips", "Spine1": "mixamorig:Spine", "Spine2": "mixamorig:Spine1",
    "Spine3": "mixamorig:Spine2", "Neck": "mixamorig:Neck", "Head": "mixamorig:Head",
    "{s}_Hip": "mixamorig:{side}UpLeg", "{s}_Knee": "mixamorig:{side}Leg", "{s}_Ankle": "mixamorig:{side}Foot",
    "{s}_Foot": "mixamorig:{side}ToeBase", "{s}_Collar": "mixamorig:{side}Shoulder",
    "{s}_Shoulder": "mixamorig:{side}Arm", "{s}_Elbow": "mixamorig:{side}ForeArm", "{s}_Wrist": "mixamorig:{side}Hand",
})
RIGIFY_NAMES = _sided({
    "Pelvis": "DEF-spine", "Spine1": "DEF-spine.001", "Spine2": "DEF-spine.002", "Spine3": "DEF-spine.003",
    "Neck": "DEF-spine.004", "Head": "DEF-spine.006", "{s}_Hip": "DEF-thigh.{s}", "{s}_Knee": "DEF-shin.{s}",
    "{s}_Ankle": "DEF-foot.{s}", "{s}_Foot": "DEF-toe.{s}", "{s}_Collar": "DEF-shoulder.{s}",
    "{s}_Shoulder": "DEF-upper_arm.{s}", "{s}_Elbow": "DEF-forearm.{s}", "{s}_Wrist": "DEF-hand.{s}",
})
RIGIFY_FK_NAMES = _sided({
    "Pelvis": "torso", "Spine1": "spine_fk.001", "Spine2": "spine_fk.002", "Spine3": "spine_fk.003", "Neck": "neck",
    "Head": "head", "{s}_Hip": "thigh_fk.{s}", "{s}_Knee": "shin_fk.{s}", "{s}_Ankle": "foot_fk.{s}",
    "{s}_Foot": "toe_fk.{s}", "{s}_Collar": "shoulder.{s}", "{s}_Shoulder": "upper_arm_fk.{s}",
    "{s}_Elbow": "forearm_fk.{s}", "{s}_Wrist": "hand_fk.{s}",
})
UNREAL_NAMES = _sided({
    "Pelvis": "pelvis", "Spine1": "spine_01", "Spine2": "spine_02", "Spine3": "spine_03", "Neck": "neck_01",
    "Head": "head", "{s}_Hip": "thigh_{lr}", "{s}_Knee": "calf_{lr}", "{s}_Ankle": "foot_{lr}", "{s}_Foot": "ball_{lr}",
    "{s}_Collar": "clavicle_{lr}", "{s}_Shoulder": "upperarm_{lr}", "{s}_Elbow": "lowerarm_{lr}",
    "{s}_Wrist": "hand_{lr}",
})


def mixamo_rig() -> RigSpec:
    """T-pose with other rolls, longer legs, and the transform of an imported Mixamo FBX: bones in centimetres,
    y up, under an object turned 90 degrees about x and scaled 0.01."""
    return humanoid(MIXAMO_NAMES, leg_scale=1.1, arm_scale=0.95, matrix_world=transform((90, 0, 0), scale=0.01), seed=1)


def rigify_rig() -> RigSpec:
    """A-pose (arms 40 degrees down), shorter legs, connected chains split by twist bones, placed beside the source."""
    twist = _sided({"{s}_Shoulder": "DEF-upper_arm.{s}.001", "{s}_Elbow": "DEF-forearm.{s}.001",
                    "{s}_Hip": "DEF-thigh.{s}.001", "{s}_Knee": "DEF-shin.{s}.001"})
    twist["Neck"] = "DEF-spine.005"
    return humanoid(RIGIFY_NAMES, arm_drop_deg=40, leg_scale=0.9, twist=twist, connect=True,
                    matrix_world=transform(location=(1.5, 0, 0)), seed=2)


def unreal_rig() -> RigSpec:
    """Facing +X, arms 30 degrees down, knees bent 12 degrees, bones pointing sideways, a root bone the pelvis is
    connected to, and an object turned and moved."""
    return humanoid(UNREAL_NAMES, arm_drop_deg=30, knee_bend_deg=12, leg_scale=1.15, facing_deg=90, root="root",
                    odd_axes=True,
                    matrix_world=transform((0, 0, -30), location=(0, 2, 0)), seed=3)


def unmappable_rig() -> RigSpec:
    return humanoid({joint: f"Bone.{j:03d}" for j, joint in enumerate(JOINT_NAMES)}, seed=4)


def build_armature(spec: RigSpec, name: str, rotation_mode: str = "QUATERNION"):
    """The spec as a Blender armature object linked to the scene (bpy is imported here: solver tests need none)."""
    import bpy
    from mathutils import Matrix

    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.matrix_world = Matrix(spec.matrix_world.tolist())
    bpy.context.view_layer.objects.active = obj
    heads, tails, rolls = spec.armature_space()
    bpy.ops.object.mode_set(mode="EDIT")
    for i, bone_name in enumerate(spec.names):
        bone = data.edit_bones.new(bone_name)
        bone.head, bone.tail = heads[i], tails[i]
        bone.align_roll(rolls[i])
    for i, bone_name in enumerate(spec.names):
        if spec.parents[i] is not None:
            data.edit_bones[bone_name].parent = data.edit_bones[spec.parents[i]]
            data.edit_bones[bone_name].use_connect = spec.connected[i]
    bpy.ops.object.mode_set(mode="OBJECT")
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = rotation_mode
    return obj


def add_box_body(armature, name: str = "Body"):
    """A mesh of one box around each bone, each rigidly skinned to its bone, parented to the armature."""
    import bpy

    from smpl_rig.blender.body import proxy_geometry

    bones = armature.data.bones
    heads = np.array([b.head_local for b in bones])
    tails = np.array([b.tail_local for b in bones])
    rotations = np.array([np.array(b.matrix_local)[:3, :3] for b in bones])
    vertices, faces = proxy_geometry(heads, tails, rotations)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    body = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(body)
    for b, bone in enumerate(bones):
        body.vertex_groups.new(name=bone.name).add(list(range(8 * b, 8 * b + 8)), 1.0, "REPLACE")
    body.parent = armature
    body.modifiers.new("Armature", "ARMATURE").object = armature
    return body


def register_with_parent_panel() -> list:
    """Register the module; the add-on's main panel is the sub-panel's parent, so stand one in when it is absent."""
    import bpy

    from blender_vibe import retarget_op
    from blender_vibe.sidebar import MAIN_PANEL

    registered = []
    if not hasattr(bpy.types, MAIN_PANEL):
        parent = type("MainPanelStandIn", (bpy.types.Panel,), dict(
            bl_idname=MAIN_PANEL, bl_label="Vibe", bl_space_type="VIEW_3D", bl_region_type="UI",
            bl_category="Vibe", draw=lambda self, context: None,
        ))
        bpy.utils.register_class(parent)
        registered.append(parent)
    retarget_op.register()
    return registered


def make_source(name: str = "SMPL", seed: int = 0):
    """An SMPL armature keyed with a random upright motion walking about in front of the camera."""
    import bpy

    from smpl_rig.blender.armature import create_armature, key_motion

    rng = np.random.default_rng(seed)
    rest_joints = default_rest_joints()
    armature = create_armature(bpy.context, name, bpy.context.scene.collection, blender_rest_joints(rest_joints))
    pose = rng.normal(scale=0.35, size=(len(FRAMES), 72))
    pose[:, 0] += np.pi  # VIBE's upright root in the camera frame
    trans = np.array([0.0, 0.3, 4.0]) + np.cumsum(rng.normal(scale=0.03, size=(len(FRAMES), 3)), axis=0)
    key_motion(armature, FRAMES, pose, trans, rest_joints)
    return armature
