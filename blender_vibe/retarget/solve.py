"""World-space retargeting from an SMPL-named armature onto another armature (numpy, no bpy), vectorised over frames.

Blender evaluates a pose bone b with parent p as P_b = P_p M_p^-1 M_b B_b (a root bone: P_b = M_b B_b), with M the
rest matrix in armature space (`bone.matrix_local`) and B the local basis keyed on the pose bone (location, rotation;
unit scale assumed; connected bones ignore location). World matrices are the object's `matrix_world` times P.

Transfer, per mapped SMPL joint j (source bone j, target bone t_j), all in world space:
- G turns the target's rest body frame (left: right hip -> left hip, up: pelvis -> neck) onto the source's, so a
  character modelled facing another way ends up facing like the source.
- d_s, d_t: rest directions from the bone's head to the head of the next mapped bone down j's SMPL chain
  (L_Shoulder -> L_Elbow, Spine3 -> Neck, ...). C_j = S(G d_t -> d_s) G, S the shortest rotation between two
  directions, lines the target bone up with the source bone (T-pose against A-pose, other rolls and bone axes).
  Leaves and bones whose direction is degenerate take their mapped parent's C (G for the root).
- The source bone's world rotation from rest, D_j(t) = R_j(t) R_j(rest)^T, is applied to the aligned target bone:
  W_tj(t) = D_j(t) C_j W_tj(rest). Its direction then equals the source bone's at every frame, twist included.
- Local quaternions follow from W through the target's parent chain; bones left unmapped keep their rest pose.
- Root motion: the pelvis head moves by the source's displacement from rest times the leg-length ratio (thigh plus
  shin); optionally the height is corrected per frame so the lowest mapped foot joint rises exactly as the source's
  (scaled), which keeps feet that touch the ground on it. Blender's world up is +Z.
- Planted feet (the source's foot contacts, when given): the character's legs differ from the source's, so a foot
  locked on the source would slide on the character; the same lock (`smpl_rig.foot_lock.leg_corrections`: anchors,
  a small root shift, two-bone IK on the mapped thigh and shin) runs again on the character, last, so that nothing
  after it (the feet-on-ground correction included) moves a planted foot.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from smpl_rig.foot_lock import leg_corrections
from smpl_rig.rig_pose import TAIL_CHILD
from smpl_rig.rotations import make_quaternions_continuous, matrix_to_quaternion
from smpl_rig.skeleton import JOINT_NAMES, PARENTS

FOOT_JOINTS = ("L_Ankle", "R_Ankle", "L_Foot", "R_Foot")
LEG_CHAINS = (("L_Hip", "L_Knee", "L_Ankle"), ("R_Hip", "R_Knee", "R_Ankle"))  # left, right: as contacts
UP_JOINTS = ("Neck", "Spine3", "Head", "Spine2", "Spine1")  # the first mapped one gives the body's up direction
_MIN_LENGTH = 1e-5  # world units: shorter directions are treated as degenerate


@dataclass(frozen=True)
class RestArmature:
    """An armature's bones as Blender stores them, parents before children."""

    names: tuple[str, ...]
    parents: np.ndarray  # (B,) parent index, -1 for roots
    rest: np.ndarray  # (B, 4, 4) bone.matrix_local, armature space
    connected: np.ndarray  # (B,) bool: head locked to the parent's tail, so pose location is ignored
    matrix_world: np.ndarray  # (4, 4) the object's transform

    @classmethod
    def from_bones(
        cls,
        names: Sequence[str],
        parent_names: Sequence[str | None],
        rest: np.ndarray,
        connected: Sequence[bool] | None = None,
        matrix_world: np.ndarray | None = None,
    ) -> "RestArmature":
        """Bones in any order (parent_names[i] is None for a root), sorted so that parents come first."""
        position = {name: i for i, name in enumerate(names)}
        order: list[int] = []
        placed: set[int] = set()

        def place(i: int) -> None:
            if i in placed:
                return
            parent = parent_names[i]
            if parent is not None:
                place(position[parent])
            placed.add(i)
            order.append(i)

        for i in range(len(names)):
            place(i)
        new_index = {old: new for new, old in enumerate(order)}
        parents = [new_index[position[parent_names[i]]] if parent_names[i] is not None else -1 for i in order]
        connected = np.zeros(len(names), dtype=bool) if connected is None else np.asarray(connected, dtype=bool)
        return cls(
            names=tuple(names[i] for i in order),
            parents=np.array(parents, dtype=np.int64),
            rest=np.asarray(rest, dtype=np.float64)[order],
            connected=connected[order],
            matrix_world=np.eye(4) if matrix_world is None else np.asarray(matrix_world, dtype=np.float64),
        )

    def index(self, name: str) -> int:
        return self.names.index(name)

    def with_ancestors(self, bones: Sequence[int]) -> list[int]:
        """`bones` and all their ancestors, sorted parents first."""
        needed: set[int] = set()
        for b in map(int, bones):
            while b >= 0 and b not in needed:
                needed.add(b)
                b = int(self.parents[b])
        return sorted(needed)


@dataclass(frozen=True)
class RetargetedMotion:
    """Keys for the target: a quaternion per frame for each mapped bone, and the root-motion bone's location."""

    bones: tuple[str, ...]  # mapped target bones, parents first
    quaternions: np.ndarray  # (N, M, 4) (w, x, y, z), continuous in time
    root_bone: str  # the bone that carries the root motion (the pelvis bone, or its first unconnected ancestor)
    root_location: np.ndarray  # (N, 3) that bone's pose location


def pose_matrices(
    armature: RestArmature,
    rotations: np.ndarray,
    locations: np.ndarray | None = None,
    bones: Sequence[int] | None = None,
) -> np.ndarray:
    """Armature-space pose matrices (N, K, 4, 4) from local rotations (N, K, 3, 3) and locations (N, K, 3).

    bones: the K bone indices evaluated (every bone by default); they must include their ancestors, parents first.
    """
    bones = list(range(len(armature.names))) if bones is None else list(bones)
    column = {b: k for k, b in enumerate(bones)}
    n = rotations.shape[0]
    basis = np.zeros((n, len(bones), 4, 4))
    basis[..., :3, :3] = rotations
    basis[..., 3, 3] = 1.0
    if locations is not None:
        basis[..., :3, 3] = np.where(armature.connected[bones][:, None], 0.0, locations)
    pose = np.empty_like(basis)
    for k, b in enumerate(bones):
        p = int(armature.parents[b])
        if p < 0:
            pose[:, k] = armature.rest[b] @ basis[:, k]
        else:
            offset = np.linalg.inv(armature.rest[p]) @ armature.rest[b]
            pose[:, k] = pose[:, column[p]] @ offset @ basis[:, k]
    return pose


def world_pose(armature: RestArmature, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (..., 3, 3) and head positions (..., 3) of armature-space matrices (..., 4, 4)."""
    world = armature.matrix_world
    rotations = _rotation_part(world[:3, :3]) @ pose[..., :3, :3]
    heads = pose[..., :3, 3] @ world[:3, :3].T + world[:3, 3]
    return rotations, heads


def leg_length(heads: Mapping[str, np.ndarray]) -> float | None:
    """Mean thigh-plus-shin length over the legs whose three joints are in `heads` (name -> position)."""
    lengths = [
        np.linalg.norm(heads[knee] - heads[hip]) + np.linalg.norm(heads[ankle] - heads[knee])
        for hip, knee, ankle in LEG_CHAINS
        if hip in heads and knee in heads and ankle in heads
    ]
    return float(np.mean(lengths)) if lengths else None


def retarget(
    source: RestArmature,
    source_pose: np.ndarray,
    target: RestArmature,
    bone_map: Mapping[str, str],
    scale_root_motion: bool = True,
    feet_on_ground: bool = False,
    contacts: np.ndarray | None = None,
    fps: float = 30.0,
) -> RetargetedMotion:
    """Transfer the source's motion onto `target`.

    source: armature whose bones are named as SMPL joints; source_pose: its armature-space pose matrices (N, S, 4, 4)
    (see `pose_matrices`) on consecutive frames; bone_map: SMPL joint -> target bone, must include "Pelvis";
    contacts: (N, 2) bool, the source's left and right foot planted: those feet are locked on the target too (when
    both legs are mapped); fps: the frames' rate, for the lock's blending.
    """
    if "Pelvis" not in bone_map:
        raise ValueError("The bone map has no bone for Pelvis: map the hips bone that carries the root motion.")
    joints = [j for j in JOINT_NAMES if j in bone_map]
    if len({bone_map[j] for j in joints}) < len(joints):
        raise ValueError("The bone map uses a target bone for more than one SMPL joint.")
    src = np.array([source.index(j) for j in joints])
    tgt = np.array([target.index(bone_map[j]) for j in joints])
    src_rest_rot, src_rest_head = world_pose(source, source.rest)
    tgt_rest_rot, tgt_rest_head = world_pose(target, target.rest)
    src_rest = dict(zip(joints, src_rest_head[src], strict=True))
    tgt_rest = dict(zip(joints, tgt_rest_head[tgt], strict=True))

    align = _alignments(joints, src_rest, tgt_rest)
    src_rot, src_head = world_pose(source, source_pose)
    delta = src_rot[:, src] @ np.swapaxes(src_rest_rot[src], -1, -2)
    target_world = delta @ (np.stack([align[j] for j in joints]) @ tgt_rest_rot[tgt])
    needed = target.with_ancestors(tgt)
    local = _local_rotations(target, needed, dict(zip(tgt.tolist(), np.moveaxis(target_world, 1, 0), strict=True)))

    ratio = 1.0
    if scale_root_motion:
        src_legs, tgt_legs = leg_length(src_rest), leg_length(tgt_rest)
        ratio = tgt_legs / src_legs if src_legs and tgt_legs else 1.0
    pelvis = source.index("Pelvis")
    pelvis_world = tgt_rest["Pelvis"] + ratio * (src_head[:, pelvis] - src_rest_head[pelvis])
    feet = [j for j in FOOT_JOINTS if j in bone_map]
    if feet_on_ground and feet:
        feet_src = [source.index(j) for j in feet]
        feet_tgt = [target.index(bone_map[j]) for j in feet]
        feet_from_pelvis = _offsets_from(target, needed, local, target.index(bone_map["Pelvis"]), feet_tgt)
        lift = ratio * (src_head[:, feet_src, 2].min(axis=1) - src_rest_head[feet_src, 2].min()) - (
            (pelvis_world[:, None, 2] + feet_from_pelvis[..., 2]).min(axis=1) - tgt_rest_head[feet_tgt, 2].min()
        )
        pelvis_world = pelvis_world + lift[:, None] * np.array([0.0, 0.0, 1.0])
    legs = [[target.index(bone_map[j]) for j in chain] for chain in LEG_CHAINS if all(j in bone_map for j in chain)]
    if contacts is not None and np.any(contacts) and len(legs) == 2:
        world = dict(zip(tgt.tolist(), np.moveaxis(target_world, 1, 0), strict=True))
        shift = _lock_feet(target, needed, local, world, target.index(bone_map["Pelvis"]), pelvis_world, legs,
                           np.asarray(contacts, dtype=bool), fps)
        pelvis_world = pelvis_world + shift
        local = _local_rotations(target, needed, world)
    root_bone, root_location = _root_location(target, target.index(bone_map["Pelvis"]), pelvis_world)
    quaternions = make_quaternions_continuous(matrix_to_quaternion(np.stack([local[b] for b in tgt], axis=1)))
    return RetargetedMotion(
        bones=tuple(target.names[b] for b in tgt),
        quaternions=quaternions,
        root_bone=target.names[root_bone],
        root_location=root_location,
    )


def _alignments(
    joints: Sequence[str], src_rest: Mapping[str, np.ndarray], tgt_rest: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """C_j (3, 3) per mapped joint: the world rotation lining the target's rest bone up with the source's."""
    facing = _body_frame(src_rest) @ _body_frame(tgt_rest).T
    mapped = set(joints)
    align: dict[str, np.ndarray] = {}
    for joint in joints:  # SMPL order: parents first
        child = _chain_child(joint, mapped)
        if child is not None:
            d_src = src_rest[child] - src_rest[joint]
            d_tgt = tgt_rest[child] - tgt_rest[joint]
            if min(np.linalg.norm(d_src), np.linalg.norm(d_tgt)) > _MIN_LENGTH:
                align[joint] = _shortest_rotation(facing @ d_tgt, d_src) @ facing
                continue
        parent = _mapped_parent(joint, mapped)
        align[joint] = align[parent] if parent is not None else facing
    return align


def _chain_child(joint: str, mapped: set[str]) -> str | None:
    """The nearest mapped joint down `joint`'s SMPL chain (Spine1 -> Spine2 -> Spine3 -> Neck -> Head), or None."""
    child = TAIL_CHILD[JOINT_NAMES.index(joint)]
    while child >= 0 and JOINT_NAMES[child] not in mapped:
        child = TAIL_CHILD[child]
    return JOINT_NAMES[child] if child >= 0 else None


def _mapped_parent(joint: str, mapped: set[str]) -> str | None:
    parent = PARENTS[JOINT_NAMES.index(joint)]
    while parent >= 0 and JOINT_NAMES[parent] not in mapped:
        parent = PARENTS[parent]
    return JOINT_NAMES[parent] if parent >= 0 else None


def _body_frame(heads: Mapping[str, np.ndarray]) -> np.ndarray:
    """Columns (left, up, forward) of a rig's rest body, or the identity when hips or an up joint are unmapped."""
    top = next((heads[j] for j in UP_JOINTS if j in heads), None)
    if top is None or not {"Pelvis", "L_Hip", "R_Hip"} <= heads.keys():
        return np.eye(3)
    left = heads["L_Hip"] - heads["R_Hip"]
    up = top - heads["Pelvis"]
    left = left / np.linalg.norm(left)
    up = up - (up @ left) * left
    up = up / np.linalg.norm(up)
    return np.stack([left, up, np.cross(left, up)], axis=-1)


def _shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation (3, 3) of least angle that turns direction a onto direction b."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(a @ b)
    if sin < 1e-12:
        if cos > 0:
            return np.eye(3)
        axis = np.cross(a, np.eye(3)[np.argmin(np.abs(a))])  # opposite: half a turn about any perpendicular axis
        sin = 0.0
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + sin * k + (1.0 - cos) * (k @ k)


def _rotation_part(m: np.ndarray) -> np.ndarray:
    """The closest rotation to a (scaled) 3x3 matrix (polar decomposition)."""
    u, _, vt = np.linalg.svd(m)
    return u @ vt


def _local_rotations(
    target: RestArmature, needed: Sequence[int], world: Mapping[int, np.ndarray]
) -> dict[int, np.ndarray]:
    """Pose-bone rotations B (N, 3, 3) of the bones in `world` (index -> world rotations (N, 3, 3)).

    Walks `needed` (those bones and their ancestors, parents first) with the armature-space rotation A of each;
    unmapped bones keep their rest pose, so A_b = A_p R_p^T R_b, and a mapped bone needs B_b = R_b^T R_p A_p^T A_b.
    """
    object_rotation = _rotation_part(target.matrix_world[:3, :3])
    rest = target.rest[:, :3, :3]
    armature_rot: dict[int, np.ndarray] = {}
    local: dict[int, np.ndarray] = {}
    for b in needed:
        p = int(target.parents[b])
        parent_frame = rest[p] @ np.swapaxes(armature_rot[p], -1, -2) if p >= 0 else np.eye(3)
        if b in world:
            armature_rot[b] = object_rotation.T @ world[b]
            local[b] = rest[b].T @ parent_frame @ armature_rot[b]
        else:
            armature_rot[b] = np.swapaxes(parent_frame, -1, -2) @ rest[b]
    return local


def _offsets_from(
    target: RestArmature, needed: Sequence[int], local: Mapping[int, np.ndarray], origin: int, bones: Sequence[int]
) -> np.ndarray:
    """World offsets (N, K, 3) from bone `origin`'s head to the heads of `bones` under the local rotations; root
    motion moves them all alike, so it is left out."""
    n = len(next(iter(local.values())))
    rotations = np.broadcast_to(np.eye(3), (n, len(needed), 3, 3)).copy()
    for k, b in enumerate(needed):
        if b in local:
            rotations[:, k] = local[b]
    _, heads = world_pose(target, pose_matrices(target, rotations, None, needed))
    columns = [needed.index(b) for b in bones]
    return heads[:, columns] - heads[:, needed.index(origin), None]


def _lock_feet(target: RestArmature, needed: Sequence[int], local: Mapping[int, np.ndarray],
               world: dict[int, np.ndarray], pelvis: int, pelvis_world: np.ndarray, legs: list[list[int]],
               contacts: np.ndarray, fps: float) -> np.ndarray:
    """Lock the target's planted feet: turns its mapped thigh and shin bones in `world` (bone -> world rotations
    (N, 3, 3)) in place and returns the pelvis's shift (N, 3). The bend axes point to the body's right, the knee
    flexion axis of a leg that bends forward."""
    joints = pelvis_world[:, None] + _offsets_from(target, needed, local, pelvis, [b for leg in legs for b in leg])
    hips, knees, ankles = (joints[:, [k, 3 + k]] for k in range(3))
    lengths = np.linalg.norm(knees[0] - hips[0], axis=-1) + np.linalg.norm(ankles[0] - knees[0], axis=-1)
    right = hips[:, 1] - hips[:, 0]
    right /= np.maximum(np.linalg.norm(right, axis=-1, keepdims=True), 1e-12)
    shift, thigh_turns, shin_turns = leg_corrections(
        hips, knees, ankles, np.zeros(contacts.shape), contacts, np.arange(len(contacts)), fps, lengths,
        np.stack([right, right], axis=1))
    for side, (hip, knee, _) in enumerate(legs):
        world[hip] = thigh_turns[:, side] @ world[hip]
        world[knee] = shin_turns[:, side] @ world[knee]
    return shift


def _root_location(target: RestArmature, pelvis: int, pelvis_world: np.ndarray) -> tuple[int, np.ndarray]:
    """The bone carrying root motion and its pose location (N, 3) putting the pelvis head at `pelvis_world`.

    That bone is the pelvis bone, or its first unconnected ancestor when the pelvis is connected; every bone above it
    is unposed, so its location L moves the pelvis head by R_root L in armature space.
    """
    root = pelvis
    while target.connected[root] and target.parents[root] >= 0:
        root = int(target.parents[root])
    inverse_world = np.linalg.inv(target.matrix_world)
    in_armature = pelvis_world @ inverse_world[:3, :3].T + inverse_world[:3, 3]
    return root, (in_armature - target.rest[pelvis, :3, 3]) @ target.rest[root, :3, :3]
