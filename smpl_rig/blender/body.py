"""The visible body parented to an SMPL armature: the SMPL mesh when the model file is available, else a proxy.

SMPL mesh: the template in the armature's rest frame, one vertex group per bone from the skinning weights, an
Armature modifier (linear blend skinning, as SMPL; the pose-corrective blend shapes are not reproduced), and shape
keys `Beta0`..`Beta9` (the model's first ten shape directions) set to the person's betas. Blender limits shape-key
values to [-10, 10]. Proxy: one box per bone, rigidly bound to it, light enough for any number of people.
"""

import bpy
import numpy as np

from ..rig_pose import CANONICAL_TO_BLENDER
from ..skeleton import JOINT_NAMES
from ..smpl_model import SmplModel

SHAPE_KEY_NAMES = tuple(f"Beta{k}" for k in range(10))
SHAPE_KEY_LIMIT = 10.0
_BOX_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
_BOX_FACES = np.array([[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])


def create_smpl_body(
    name: str, collection: bpy.types.Collection, armature: bpy.types.Object, model: SmplModel, betas: np.ndarray
) -> bpy.types.Object:
    """The SMPL mesh skinned to `armature`, with ten shape keys valued at `betas` (10,)."""
    to_blender = CANONICAL_TO_BLENDER.T
    obj = _mesh_object(name, collection, model.v_template @ to_blender, model.faces)
    obj.data.shade_smooth()
    obj.shape_key_add(name="Basis", from_mix=False)
    for k, key_name in enumerate(SHAPE_KEY_NAMES):
        key = obj.shape_key_add(name=key_name, from_mix=False)
        shaped = (model.v_template + model.shapedirs[:, :, k]) @ to_blender
        key.data.foreach_set("co", shaped.astype(np.float32).ravel())
        key.slider_min, key.slider_max = -SHAPE_KEY_LIMIT, SHAPE_KEY_LIMIT
        key.value = float(betas[k])
    _bind(obj, armature, model.weights)
    return obj


def proxy_geometry(heads: np.ndarray, tails: np.ndarray, rest_rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes around each bone: vertices (24*8, 3) in armature space, quads (24*6, 4); box b owns vertices 8b..8b+7.

    rest_rotations (24, 3, 3) are the bones' rest frames (y along the bone), so each box is square around it.
    """
    lengths = np.linalg.norm(tails - heads, axis=-1)
    half = np.clip(0.2 * lengths, 0.02, 0.06)
    rings = [np.stack([_BOX_CORNERS[:, 0], np.full(4, end), _BOX_CORNERS[:, 1]], axis=-1) for end in (0.0, 1.0)]
    local = np.concatenate(rings)  # (8, 3): x, z in units of the half width, y as a fraction of the bone length
    scaled = local[None] * np.stack([half, lengths, half], axis=-1)[:, None, :]
    vertices = heads[:, None, :] + np.einsum("bij,bkj->bki", rest_rotations, scaled)
    faces = _BOX_FACES[None] + 8 * np.arange(len(heads))[:, None, None]
    return vertices.reshape(-1, 3), faces.reshape(-1, 4)


def create_proxy_body(
    name: str, collection: bpy.types.Collection, armature: bpy.types.Object, rest_rotations: np.ndarray
) -> bpy.types.Object:
    """Boxes along the armature's bones, each moving with its bone, for users without the SMPL model."""
    bones = armature.data.bones
    heads = np.array([bones[n].head_local for n in JOINT_NAMES])
    tails = np.array([bones[n].tail_local for n in JOINT_NAMES])
    vertices, faces = proxy_geometry(heads, tails, rest_rotations)
    obj = _mesh_object(name, collection, vertices, faces)
    _bind(obj, armature, np.kron(np.eye(len(JOINT_NAMES)), np.ones((8, 1))))
    return obj


def _mesh_object(
    name: str, collection: bpy.types.Collection, vertices: np.ndarray, faces: np.ndarray
) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices, [], faces)
    mesh.validate()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def _bind(obj: bpy.types.Object, armature: bpy.types.Object, weights: np.ndarray) -> None:
    """Vertex groups named after the bones from `weights` (V, 24), an Armature modifier, and the armature as parent."""
    for j, bone_name in enumerate(JOINT_NAMES):
        group = obj.vertex_groups.new(name=bone_name)
        for i in np.flatnonzero(weights[:, j] > 0):
            group.add([int(i)], float(weights[i, j]), "REPLACE")
    obj.parent = armature
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
