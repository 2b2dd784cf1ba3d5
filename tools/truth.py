"""Read a clip's ground truth (`NAME_truth.npz`, examples/README.md) for benchmarks and checks.

    from tools.truth import load_truth
    truth = load_truth("examples/cctv_square_truth.npz")
    truth.joints3d[:, truth.index(3)]        # person 3's SMPL joints in each frame's camera frame, (F, 24, 3)
    truth.person_joints3d()                  # the same for a one-person clip

Scene clips (tools/make_scene_clip.py) hold several people, a world (z up, floor z = 0) and a camera pose per frame;
the single-person example clip (tools/make_example_clip.py, `squat_march`) has camera-frame joints only: its world
fields are None.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools.scene import camera_angles, project

WORLD_FIELDS = ("camera_rotation", "camera_position", "joints_world", "root_rotation_world", "contacts", "boxes",
                "visible", "height_px", "stature")
TEXT_FIELDS = ("scene", "people", "camera", "world", "body", "motion", "joint_mapping")


@dataclass
class Truth:
    """Ground truth of a clip, per video frame f and person index p (`person_ids[p]` is the id). Shapes: F frames,
    P people, 24 SMPL joints (`joint_names`)."""

    fps: float
    width: int
    height: int
    intrinsics: np.ndarray  # (3, 3)
    frame_ids: np.ndarray  # (F,)
    person_ids: np.ndarray  # (P,)
    joint_names: tuple[str, ...]
    joints3d: np.ndarray  # (F, P, 24, 3) camera frame: x right, y down, z forward, metres
    camera_rotation: np.ndarray | None = None  # (F, 3, 3) world-from-camera, camera axes as joints3d's
    camera_position: np.ndarray | None = None  # (F, 3) world, z up, floor z = 0
    joints_world: np.ndarray | None = None  # (F, P, 24, 3)
    root_rotation_world: np.ndarray | None = None  # (F, P, 3, 3) SMPL body axes (x left, y up, z forward) in world
    contacts: np.ndarray | None = None  # (F, P, 2) bool: left, right foot planted
    boxes: np.ndarray | None = None  # (F, P, 4) x1, y1, x2, y2 pixels, clipped to the image; NaN when not seen
    visible: np.ndarray | None = None  # (F, P) fraction of the body seen
    height_px: np.ndarray | None = None  # (F, P) projected height, unclipped
    stature: np.ndarray | None = None  # (P,) metres
    text: dict[str, str] = field(default_factory=dict)

    @property
    def has_world(self) -> bool:
        return self.joints_world is not None

    def index(self, person_id: int) -> int:
        """The index p of a person id."""
        found = np.flatnonzero(self.person_ids == person_id)
        if not len(found):
            raise KeyError(f"no person {person_id} in this truth; it has {self.person_ids.tolist()}")
        return int(found[0])

    def person_joints3d(self, person_id: int | None = None) -> np.ndarray:
        """(F, 24, 3) camera-frame joints of one person; the id may be left out when there is only one."""
        if person_id is None:
            if len(self.person_ids) != 1:
                raise ValueError(f"this truth holds {len(self.person_ids)} people: name one of "
                                 f"{self.person_ids.tolist()}")
            return self.joints3d[:, 0]
        return self.joints3d[:, self.index(person_id)]

    def pixels(self) -> np.ndarray:
        """(F, P, 24, 2) the joints projected into the picture (NaN where a person is absent)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return project(self.joints3d, self.intrinsics)

    def camera_angles_deg(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame: the camera's yaw, pitch (down) and roll in degrees (conventions of tools/scene.py)."""
        if self.camera_rotation is None:
            raise ValueError("this truth has no camera poses (a camera-frame-only clip)")
        return tuple(np.degrees(a) for a in camera_angles(self.camera_rotation))


def load_truth(path: str | Path) -> Truth:
    """Read NAME_truth.npz (no pickles): a scene clip's, or the older single-person camera-frame layout."""
    with np.load(path, allow_pickle=False) as data:
        arrays = dict(data)
    if "joints3d" not in arrays:
        raise ValueError(f"{path} is not a clip truth file (no `joints3d`); see examples/README.md")
    return truth_from_arrays(arrays)


def truth_from_arrays(arrays: dict[str, np.ndarray]) -> Truth:
    """A Truth from the arrays of a truth file (as np.load gives them)."""
    joints3d = arrays["joints3d"]
    if joints3d.ndim == 3:  # the single-person layout: (F, 24, 3)
        joints3d = joints3d[:, None]
    return Truth(
        fps=float(arrays["fps"]), width=int(arrays["width"]), height=int(arrays["height"]),
        intrinsics=arrays["intrinsics"], frame_ids=arrays["frame_ids"],
        person_ids=arrays.get("person_ids", np.array([1])),
        joint_names=tuple(str(n) for n in arrays["joint_names"]), joints3d=joints3d,
        **{name: arrays.get(name) for name in WORLD_FIELDS},
        text={name: str(arrays[name]) for name in TEXT_FIELDS if name in arrays},
    )
