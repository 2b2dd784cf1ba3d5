"""The SMPL armature: 24 bones named after `smpl_rig.skeleton.JOINT_NAMES`, keyed from an SMPL motion.

Bone names, parent first: Pelvis, L_Hip, R_Hip, Spine1, L_Knee, R_Knee, Spine2, L_Ankle, R_Ankle, Spine3, L_Foot,
R_Foot, Neck, L_Collar, R_Collar, Head, L_Shoulder, R_Shoulder, L_Elbow, R_Elbow, L_Wrist, R_Wrist, L_Hand, R_Hand.
Each bone's head is its SMPL joint; tails and rolls come from `smpl_rig.rig_pose`. Pelvis carries the root motion.
"""

import bpy
import numpy as np

from ..camera import CAMERA_TO_BLENDER
from ..rig_pose import bone_rest_rotations, bone_tails, pose_bone_channels
from ..skeleton import JOINT_NAMES, PARENTS
from .action import Curve, new_action, write_curves


def create_armature(
    context: bpy.types.Context, name: str, collection: bpy.types.Collection, heads: np.ndarray
) -> bpy.types.Object:
    """An armature object at the origin whose bones start at `heads` (24, 3), in Blender's frame, in rest pose.

    Bones are created in edit mode, so the object is made active; the caller must be in object mode.
    """
    tails = bone_tails(heads)
    z_axes = bone_rest_rotations(heads, tails)[:, :, 2]
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    obj.show_in_front = True
    context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = []
        for j, bone_name in enumerate(JOINT_NAMES):
            bone = data.edit_bones.new(bone_name)
            bone.head, bone.tail = heads[j], tails[j]
            bone.align_roll(z_axes[j])
            bone.use_connect = False
            if PARENTS[j] >= 0:
                bone.parent = bones[PARENTS[j]]
            bones.append(bone)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    return obj


def rest_rotations(armature: bpy.types.Object) -> np.ndarray:
    """The bones' rest rotations (24, 3, 3) in armature space, as Blender stored them."""
    return np.array([np.array(armature.data.bones[name].matrix_local)[:3, :3] for name in JOINT_NAMES])


def key_motion(
    armature: bpy.types.Object,
    frames: np.ndarray,
    pose: np.ndarray,
    trans: np.ndarray,
    rest_joints: np.ndarray,
    to_blender: np.ndarray = CAMERA_TO_BLENDER,
) -> bpy.types.Action:
    """Key every bone's quaternion and the Pelvis location at `frames` (N,) so bone heads follow SMPL FK.

    pose (N, 72) and trans (N, 3) are in VIBE's camera frame, or in the world frame with `to_blender` the identity;
    rest_joints (24, 3) are the canonical joints the armature was built from.
    """
    quaternions, root_location = pose_bone_channels(pose, trans, rest_joints, rest_rotations(armature), to_blender)
    curves: list[Curve] = [
        (f'pose.bones["{name}"].rotation_quaternion', k, name, quaternions[:, j, k])
        for j, name in enumerate(JOINT_NAMES)
        for k in range(4)
    ]
    root = JOINT_NAMES[0]
    curves += [(f'pose.bones["{root}"].location', k, root, root_location[:, k]) for k in range(3)]
    action = new_action(armature, f"{armature.name} motion")
    write_curves(action, armature, frames, curves)
    return action


CONTACT_PROPERTIES = ("vibe_contact_left", "vibe_contact_right")


def key_contacts(armature: bpy.types.Object, frames: np.ndarray, contacts: np.ndarray) -> None:
    """Key the custom properties `vibe_contact_left`/`_right` (1 where that foot is planted, else 0; constant
    interpolation) into the armature's action, so the contacts show in the Graph Editor and the N panel."""
    for name in CONTACT_PROPERTIES:
        armature[name] = 0.0
    curves: list[Curve] = [(f'["{name}"]', 0, "Contacts", np.asarray(contacts, dtype=np.float64)[:, k])
                           for k, name in enumerate(CONTACT_PROPERTIES)]
    write_curves(armature.animation_data.action, armature, frames, curves, "CONSTANT")
