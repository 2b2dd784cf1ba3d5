"""The rendered person: the open Anny body model (PyPI `anny`, Apache-2.0, MakeHuman-based) posed with torch.

Anny's world: +x is the person's left, +y behind them, +z up; the root sits between the hips. This module poses the
body, keeps the feet on the floor, dresses it (a colour per mesh face: skin, shirt, trousers, shoes, hair, eyes) and
maps its skeleton to the 24 SMPL joints.

SMPL joints from Anny bone heads (a bone's head is its joint with the parent): `SMPL_FROM_ANNY` gives, per SMPL
joint, a bone and optionally a second bone and the fraction of the way towards it. The choices follow anatomy and
SMPL's rest proportions: the hips, knees, ankles, shoulders, elbows and wrists are Anny's joint centres; SMPL's pelvis
sits ~8 cm above the hip joints, where Anny's `spine04` starts; the spine joints are the Anny spine joints at the
same heights above the hips; the collars are 60 % of the way along Anny's clavicle; the foot joints are the middle
toe's base and the hands the middle finger's base. The two skeletons still differ by a few centimetres (SMPL's hip
joints lie closer together), which every estimator's error includes alike.
"""

import functools

import numpy as np

from smpl_rig.rotations import matrix_to_axis_angle
from smpl_rig.skeleton import JOINT_NAMES
from tools.gait import SIDES, RestBody

SMPL_FROM_ANNY: dict[str, tuple[str, str | None, float]] = {
    "Pelvis": ("spine04", None, 0.0),
    "L_Hip": ("upperleg01.L", None, 0.0),
    "R_Hip": ("upperleg01.R", None, 0.0),
    "Spine1": ("spine02", None, 0.0),
    "L_Knee": ("lowerleg01.L", None, 0.0),
    "R_Knee": ("lowerleg01.R", None, 0.0),
    "Spine2": ("spine01", None, 0.0),
    "L_Ankle": ("foot.L", None, 0.0),
    "R_Ankle": ("foot.R", None, 0.0),
    "Spine3": ("spine01", "neck01", 0.3),
    "L_Foot": ("toe3-1.L", None, 0.0),
    "R_Foot": ("toe3-1.R", None, 0.0),
    "Neck": ("neck01", None, 0.0),
    "L_Collar": ("clavicle.L", "shoulder01.L", 0.6),
    "R_Collar": ("clavicle.R", "shoulder01.R", 0.6),
    "Head": ("head", None, 0.0),
    "L_Shoulder": ("upperarm01.L", None, 0.0),
    "R_Shoulder": ("upperarm01.R", None, 0.0),
    "L_Elbow": ("lowerarm01.L", None, 0.0),
    "R_Elbow": ("lowerarm01.R", None, 0.0),
    "L_Wrist": ("wrist.L", None, 0.0),
    "R_Wrist": ("wrist.R", None, 0.0),
    "L_Hand": ("finger3-1.L", None, 0.0),
    "R_Hand": ("finger3-1.R", None, 0.0),
}

# An adult man of slightly above average height (Anny phenotype parameters are in [0, 1]; gender 0 is male).
PHENOTYPE = {"gender": 0.0, "age": 0.5, "muscle": 0.5, "weight": 0.5, "height": 0.6, "proportions": 0.5}
GARMENTS = ("skin", "shirt", "trousers", "shoes", "hair", "eyes")
ANKLES = ("foot.L", "foot.R")


def smpl_joints(heads: np.ndarray, bone_labels: list[str]) -> np.ndarray:
    """The 24 SMPL joints (N, 24, 3), in SMPL order, from Anny bone heads (N, B, 3)."""
    index = {label: i for i, label in enumerate(bone_labels)}
    joints = []
    for name in JOINT_NAMES:
        bone, towards, fraction = SMPL_FROM_ANNY[name]
        head = heads[:, index[bone]]
        if towards is not None:
            head = head + fraction * (heads[:, index[towards]] - head)
        joints.append(head)
    return np.stack(joints, axis=1)


@functools.cache
def _anny_model():
    """The Anny model (loaded once: its first use builds a cache in ~/.cache/anny)."""
    try:
        import anny
        import torch
    except ImportError as exc:
        raise SystemExit(
            f"the clip generator needs the `anny` body model ({exc}); "
            "install its pinned requirements: .venv/bin/pip install -r requirements-clip.txt"
        ) from exc
    return anny.Anny(skinning_method="lbs").to(dtype=torch.float32)


class AnnyBody:
    """An Anny body of a fixed phenotype; `pose` gives vertices and bone heads for per-frame bone rotations."""

    def __init__(self, phenotype: dict[str, float] = PHENOTYPE) -> None:
        import torch

        self._torch = torch
        self.model = _anny_model()
        self.phenotype = dict(phenotype)
        self.bone_labels: list[str] = list(self.model.bone_labels)
        self.faces = self.model.faces.cpu().numpy().astype(np.int64)

    def pose(self, rotations: dict[str, np.ndarray], chunk: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """Vertices (N, V, 3) and bone heads (N, B, 3) for bone rotations {bone: rotation vectors (N, 3) or matrices
        (N, 3, 3)}; other bones stay at rest."""
        import roma

        torch = self._torch
        unknown = sorted(set(rotations) - set(self.bone_labels))
        if unknown:
            raise ValueError(f"unknown Anny bones {unknown}; the rig's bones are listed in `bone_labels`")
        n = len(next(iter(rotations.values())))
        params = torch.eye(4).repeat(n, len(self.bone_labels), 1, 1)
        for bone, rotation in rotations.items():
            rotvec = matrix_to_axis_angle(rotation) if np.ndim(rotation) == 3 else rotation
            params[:, self.bone_labels.index(bone), :3, :3] = roma.rotvec_to_rotmat(
                torch.as_tensor(rotvec, dtype=torch.float32))
        vertices, heads = [], []
        with torch.no_grad():
            for start in range(0, n, chunk):
                out = self.model(pose_parameters=params[start:start + chunk], phenotype_kwargs=self.phenotype)
                vertices.append(out["vertices"].numpy())
                heads.append(out["bone_poses"][:, :, :3, 3].numpy())
        return np.concatenate(vertices).astype(np.float64), np.concatenate(heads).astype(np.float64)

    def skinning_weights(self) -> np.ndarray:
        """(V, B) how much each bone moves each vertex."""
        weights = np.zeros((self.model.vertex_bone_indices.shape[0], len(self.bone_labels)))
        np.add.at(weights, (np.arange(len(weights))[:, None], self.model.vertex_bone_indices.numpy()),
                  self.model.vertex_bone_weights.numpy())
        return weights

    def rest(self) -> tuple[np.ndarray, np.ndarray]:
        """The rest pose's vertices (V, 3) and bone heads (B, 3)."""
        vertices, heads = self.pose({"root": np.zeros((1, 3))})
        return vertices[0], heads[0]

    def stature(self) -> float:
        """Standing height (metres): the rest mesh's extent along z."""
        return float(np.ptp(self.rest()[0][:, 2]))

    def rest_body(self) -> RestBody:
        """The rest geometry the gait needs: bone heads, the sole's height, the floor points under heels and balls."""
        vertices, heads = self.rest()
        bones = [self.bone_labels[b] for b in self.skinning_weights().argmax(axis=1)]
        head = dict(zip(self.bone_labels, heads, strict=True))
        feet = {side: np.array([b.startswith(("foot.", "toe")) and b.endswith("." + side) for b in bones])
                for side in SIDES}
        sole = float(min(vertices[feet[side], 2].min() for side in SIDES))
        heel = {side: np.array([head[f"foot.{side}"][0], vertices[feet[side], 1].max(), sole]) for side in SIDES}
        ball = {side: np.append(np.mean([head[f"toe{t}-1.{side}"][:2] for t in range(1, 6)], axis=0), sole)
                for side in SIDES}
        return RestBody(heads=head, sole=sole, heel=heel, ball=ball, stature=float(np.ptp(vertices[:, 2])))

    def garments(self) -> np.ndarray:
        """Index into GARMENTS for every face, from the rest mesh: which bone moves it most and how high it is."""
        vertices, heads = self.rest()
        bone = [self.bone_labels[b] for b in self.skinning_weights()[self.faces].sum(axis=1).argmax(axis=1)]
        centre = vertices[self.faces].mean(axis=1)

        def bone_is(*prefixes: str) -> np.ndarray:
            return np.array([b.startswith(prefixes) for b in bone])

        def head(label: str) -> np.ndarray:
            return heads[self.bone_labels.index(label)]

        waist = 0.5 * (head("spine04")[2] + head("spine03")[2])
        eye = head("eye.L")
        garment = np.zeros(len(self.faces), dtype=np.int64)  # skin
        torso = bone_is("spine", "clavicle", "shoulder01", "upperarm01", "root", "pelvis")
        forearm = bone_is("upperarm02", "lowerarm", "wrist", "finger", "metacarpal")
        below_waist = centre[:, 2] < waist
        garment[torso & ~below_waist] = GARMENTS.index("shirt")  # short sleeves
        garment[~forearm & below_waist] = GARMENTS.index("trousers")
        garment[bone_is("foot", "toe")] = GARMENTS.index("shoes")
        scalp = bone_is("head") & ((centre[:, 2] > eye[2] + 0.035)
                                    | ((centre[:, 2] > eye[2] - 0.07) & (centre[:, 1] > eye[1] + 0.11)))
        garment[scalp] = GARMENTS.index("hair")
        garment[bone_is("eye")] = GARMENTS.index("eyes")
        return garment


def stand_in_place(vertices: np.ndarray, heads: np.ndarray, bone_labels: list[str], rest_heads: np.ndarray,
                   yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move each frame so the supporting foot stays where it stood at rest and the lowest vertex is on z = 0, then
    turn the body by `yaw` (N,) about the vertical through the root's rest position (between the feet).

    The supporting foot is a soft choice (weights favour the lower ankle) so the body never jumps between frames.
    """
    ankles = [bone_labels.index(b) for b in ANKLES]
    height = heads[:, ankles, 2]
    weight = np.exp(-(height - height.min(axis=1, keepdims=True)) / 0.02)
    weight /= weight.sum(axis=1, keepdims=True)
    slide = np.einsum("na,nac->nc", weight, heads[:, ankles, :2] - rest_heads[ankles, :2])
    shift = np.concatenate([-slide, -vertices[:, :, 2].min(axis=1, keepdims=True)], axis=1)[:, None, :]
    c, s = np.cos(yaw), np.sin(yaw)
    turn = np.zeros((len(yaw), 3, 3))
    turn[:, 0, 0], turn[:, 0, 1], turn[:, 1, 0], turn[:, 1, 1], turn[:, 2, 2] = c, -s, s, c, 1.0

    def move(points: np.ndarray) -> np.ndarray:
        return np.einsum("nij,npj->npi", turn, points + shift)

    return move(vertices), move(heads)


def phenotype_for_stature(stature: float, **traits: float) -> dict[str, float]:
    """The phenotype with these traits (gender, age, muscle, weight, proportions in [0, 1]) whose standing height is
    `stature` metres (within 1 mm), by the secant method on Anny's `height` parameter (stature is nearly linear in
    it)."""
    phenotype = dict(PHENOTYPE, **traits)

    def height_for(value: float) -> float:
        return AnnyBody(dict(phenotype, height=value)).stature()

    (x0, y0), (x1, y1) = (0.0, height_for(0.0)), (1.0, height_for(1.0))
    if not y0 <= stature <= y1:
        raise ValueError(f"Anny cannot be {stature:.2f} m tall with {traits}; choose a stature between "
                         f"{y0:.2f} and {y1:.2f} m")
    for _ in range(8):
        x = x1 + (stature - y1) * (x1 - x0) / (y1 - y0)
        y = height_for(x)
        (x0, y0), (x1, y1) = (x1, y1), (x, y)
        if abs(y - stature) < 1e-3:
            break
    return dict(phenotype, height=float(x1))
