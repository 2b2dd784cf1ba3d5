"""The motion file: what the backend writes and the add-on imports.

`motion.npz` (numpy archive, no pickled objects) holds scalars `format` ("blender-vibe-motion"), `format_version`,
`fps`, `width`, `height`, `estimator`, `estimator_version`, `source`, `person_ids` (P,), and per person with id K
arrays named `person_K/<field>` for the fields of `Person` (the optional ones may be absent). Version 2 adds the
camera's rotations (`camera/frame_ids`, `camera/rotations`), the world frame (`world/frame_ids`,
`world/camera_rotation`, `world/camera_position`, `world_note`, `foot_lock`) and per person `contacts`,
`world_pose`, `world_root` and `rest_joints`; version 1 files are still read (without a world).

The official `vibe_output.pkl` and TCMR's `tcmr_output.pkl` (joblib dicts keyed by track id) are read too, through
the safe unpickler; their root orientation is turned from the crop's view to the camera's (`smpl_rig.perspective`).
"""

import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from .camera import orig_cam_to_translation
from .perspective import correct_root_orientation, official_image_size
from .safe_pickle import load_untrusted_pickle

FORMAT_NAME = "blender-vibe-motion"
FORMAT_VERSION = 2
VIBE_PELVIS_JOINT = 8  # "OP MidHip" among VIBE/TCMR's 49 joints: SMPL's pelvis joint, in SMPL model coordinates
TCMR_BOX_SCALE = 1.2  # TCMR's demo converts its crop camera with the tracked box enlarged this much
_ROW_SHAPES = {"pose": (72,), "betas": (10,), "trans": (3,), "root": (3,), "contacts": (2,), "world_pose": (72,),
               "world_root": (3,)}  # the fields the importer reads, per row
_PER_PERSON = {"rest_joints": (24, 3)}  # fields that are not per frame


class MotionFileError(ValueError):
    """The file is not a motion file this add-on can read."""


@dataclass
class Person:
    """One tracked person; every array has N rows, one per frame in `frame_ids`."""

    pose: np.ndarray       # (N, 72) axis-angle, SMPL joint order, root in VIBE's camera frame
    betas: np.ndarray      # (N, 10)
    trans: np.ndarray      # (N, 3) SMPL transl in metres, camera frame (see smpl_rig.camera)
    cam: np.ndarray        # (N, 3) crop weak-perspective camera (s, tx, ty)
    orig_cam: np.ndarray   # (N, 4) full-image camera (sx, sy, tx, ty)
    bboxes: np.ndarray     # (N, 4) cx, cy, w, h in pixels
    frame_ids: np.ndarray  # (N,) video frame index of each row
    joints3d: np.ndarray   # (N, J, 3) estimator's 3D joints, camera frame, metres
    root: np.ndarray | None = None  # (N, 3) pelvis joint in the camera frame, metres (None if not known)
    # The world frame (see `World`), when the motion has one:
    contacts: np.ndarray | None = None    # (N, 2) bool: the left, right foot is planted on the floor
    world_pose: np.ndarray | None = None  # (N, 72) `pose` with the root in the world frame (z up); legs locked
    world_root: np.ndarray | None = None  # (N, 3) pelvis joint in the world frame, metres
    rest_joints: np.ndarray | None = None  # (24, 3) the canonical rest joints `world_pose`'s feet were locked for

    def __post_init__(self) -> None:
        if np.ndim(self.frame_ids) != 1:
            raise MotionFileError(f"person field 'frame_ids' must be (N,), got shape {np.shape(self.frame_ids)}")
        n = len(self.frame_ids)
        for f in fields(self):
            if getattr(self, f.name) is None or f.name in _PER_PERSON:
                continue
            value = np.asarray(getattr(self, f.name))
            if value.ndim == 0 or len(value) != n:
                raise MotionFileError(
                    f"person field '{f.name}' has shape {value.shape}, expected {n} rows (one per frame)"
                )
            setattr(self, f.name, value)
        for name, shape in _ROW_SHAPES.items():
            value = getattr(self, name)
            if value is not None and value.shape[1:] != shape:
                raise MotionFileError(f"person field '{name}' must be (N, {', '.join(map(str, shape))}), "
                                      f"got shape {value.shape}")
        for name, shape in _PER_PERSON.items():
            value = getattr(self, name)
            if value is not None and np.shape(value) != shape:
                raise MotionFileError(f"person field '{name}' must be {shape}, got shape {np.shape(value)}")
            if value is not None:
                setattr(self, name, np.asarray(value, dtype=np.float64))

    def transl_for(self, rest_pelvis: np.ndarray) -> np.ndarray:
        """SMPL `transl` (N, 3) that puts a skeleton whose rest pelvis is `rest_pelvis` at the estimated root.

        With `root` known, any skeleton (the user's SMPL body, or the default one) gets its pelvis exactly there;
        without it, `trans` is taken as SMPL's own `transl`.
        """
        return self.trans if self.root is None else self.root - np.asarray(rest_pelvis)


@dataclass
class World:
    """The world frame: the floor is z = 0, z points up, metres; y is the first frame's view direction along the
    floor, x = y cross z (to the right). Where the footage camera is, per video frame in `frame_ids`."""

    frame_ids: np.ndarray        # (F,) video frames
    camera_rotation: np.ndarray  # (F, 3, 3) world from camera (VIBE's camera axes: x right, y down, z forward)
    camera_position: np.ndarray  # (F, 3) the camera's centre, metres

    def __post_init__(self) -> None:
        self.frame_ids = np.asarray(self.frame_ids, dtype=np.int64)
        self.camera_rotation = np.asarray(self.camera_rotation, dtype=np.float64)
        self.camera_position = np.asarray(self.camera_position, dtype=np.float64)
        n = len(self.frame_ids)
        if self.camera_rotation.shape != (n, 3, 3) or self.camera_position.shape != (n, 3):
            raise MotionFileError(f"world camera poses must be (F, 3, 3) and (F, 3) for F = {n} frames, got "
                                  f"{self.camera_rotation.shape} and {self.camera_position.shape}")


@dataclass
class Motion:
    fps: float
    width: int
    height: int
    estimator: str
    estimator_version: str = ""
    source: str = ""
    people: dict[int, Person] = field(default_factory=dict)
    # The camera's rotation per video frame, relative to the first (`backend.camera_motion`): camera_rotations[t]
    # takes a direction in the camera frame of video frame camera_frame_ids[t] to the first frame's; None: unknown.
    camera_frame_ids: np.ndarray | None = None  # (F,)
    camera_rotations: np.ndarray | None = None  # (F, 3, 3)
    world: World | None = None  # None: the people are in the camera frame only (see `world_note`)
    world_note: str = ""  # how the world was found, or why not; "" when nobody tried (official and version 1 files)
    foot_lock: bool = False  # the people's `world_pose` keeps planted feet in place (solved for their rest_joints)


def save_motion(motion: Motion, path: str | Path) -> Path:
    """Write atomically: a temporary file in the same folder, then rename over the target."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT_NAME), "format_version": np.array(FORMAT_VERSION),
        "fps": np.array(float(motion.fps)), "width": np.array(int(motion.width)),
        "height": np.array(int(motion.height)), "estimator": np.array(motion.estimator),
        "estimator_version": np.array(motion.estimator_version), "source": np.array(motion.source),
        "person_ids": np.array(sorted(motion.people), dtype=np.int64),
        "world_note": np.array(motion.world_note), "foot_lock": np.array(bool(motion.foot_lock)),
    }
    if motion.camera_rotations is not None:
        arrays["camera/frame_ids"] = np.asarray(motion.camera_frame_ids, dtype=np.int64)
        arrays["camera/rotations"] = np.asarray(motion.camera_rotations, dtype=np.float64)
    if motion.world is not None:
        arrays.update({f"world/{f.name}": getattr(motion.world, f.name) for f in fields(World)})
    for pid, person in motion.people.items():
        for f in fields(Person):
            if getattr(person, f.name) is not None:
                arrays[f"person_{pid}/{f.name}"] = np.asarray(getattr(person, f.name))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_motion(path: str | Path) -> Motion:
    """Read `motion.npz`, `vibe_output.pkl` or `tcmr_output.pkl`; raise MotionFileError with the reason otherwise."""
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(f"motion file not found: {path}")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        return _load_npz(path)
    if magic[:1] == b"\x80":
        return _load_official_pickle(path)
    raise MotionFileError(
        f"{path.name} is not a motion file: expected the backend's motion.npz or VIBE/TCMR's output .pkl"
    )


def _load_npz(path: Path) -> Motion:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data or str(data["format"]) != FORMAT_NAME:
                raise MotionFileError(f"{path.name} is a numpy archive but not a blender-vibe motion file")
            if int(data["format_version"]) > FORMAT_VERSION:
                raise MotionFileError(f"{path.name} was written by a newer version; update the add-on")
            people = {
                int(pid): Person(**{f.name: data[f"person_{pid}/{f.name}"] for f in fields(Person)
                                    if f"person_{pid}/{f.name}" in data})
                for pid in data["person_ids"]
            }
            has_world = "world/frame_ids" in data
            return Motion(
                fps=float(data["fps"]), width=int(data["width"]), height=int(data["height"]),
                estimator=str(data["estimator"]), estimator_version=str(data["estimator_version"]),
                source=str(data["source"]), people=people,
                camera_frame_ids=data["camera/frame_ids"] if "camera/rotations" in data else None,
                camera_rotations=data["camera/rotations"] if "camera/rotations" in data else None,
                world=World(**{f.name: data[f"world/{f.name}"] for f in fields(World)}) if has_world else None,
                world_note=str(data["world_note"]) if "world_note" in data else "",
                foot_lock=bool(data["foot_lock"]) if "foot_lock" in data else False,
            )
    except MotionFileError:
        raise
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # truncated, corrupt
        raise MotionFileError(f"{path.name} is damaged or incomplete: {exc}") from exc


def _load_official_pickle(path: Path) -> Motion:
    try:
        raw = load_untrusted_pickle(path)
    except ValueError as exc:
        raise MotionFileError(f"{path.name} cannot be read safely: {exc}") from exc
    required = ("pose", "betas", "pred_cam", "orig_cam", "bboxes", "frame_ids")
    if not isinstance(raw, dict) or not raw or not all(
        isinstance(v, dict) and all(k in v for k in required) for v in raw.values()
    ):
        raise MotionFileError(
            f"{path.name} is not a VIBE/TCMR output: expected a dict keyed by track id with {', '.join(required)}"
        )
    estimator = "tcmr" if "tcmr" in path.name.lower() else "vibe"
    box_scale = TCMR_BOX_SCALE if estimator == "tcmr" else 1.0
    # The official outputs record neither fps nor image size: 30 fps is VIBE's demo default, and the size follows
    # from how the demo converted the crop camera to the full image.
    rows = {key: np.concatenate([np.asarray(p[key], dtype=np.float64) for p in raw.values()])
            for key in ("pred_cam", "orig_cam", "bboxes")}
    width, height = official_image_size(rows["pred_cam"], rows["orig_cam"],
                                        rows["bboxes"] * [1.0, 1.0, box_scale, box_scale])
    people = {}
    for tid, p in raw.items():
        orig_cam = np.asarray(p["orig_cam"], dtype=np.float64)
        trans = orig_cam_to_translation(orig_cam)
        joints3d = np.asarray(p.get("joints3d", np.zeros((len(p["frame_ids"]), 0, 3))))
        # The official joints are posed SMPL joints without `transl`, so the pelvis sits at trans + theirs: with it
        # the default skeleton is placed correctly too, not only an SMPL body of the same shape.
        root = trans + joints3d[:, VIBE_PELVIS_JOINT] if joints3d.shape[1:] == (49, 3) else None
        pose = np.asarray(p["pose"], dtype=np.float64)
        if width > 0:
            pose = correct_root_orientation(pose, np.asarray(p["bboxes"], dtype=np.float64), width, height)
        people[int(tid)] = Person(
            pose=pose, betas=p["betas"], trans=trans, cam=p["pred_cam"], orig_cam=orig_cam, bboxes=p["bboxes"],
            frame_ids=np.asarray(p["frame_ids"]).astype(np.int64), joints3d=joints3d, root=root,
        )
    return Motion(fps=30.0, width=width, height=height, estimator=estimator, source=path.name, people=people)
