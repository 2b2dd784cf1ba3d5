"""Training data: the official precomputed-feature databases and AMASS motion, cut into fixed-length windows.

Databases (`{name}_{split}_db.pt`, VIBE's `vibe_db` folder) hold one row per frame: `vid_name`, `features` (2048 SPIN
features), `joints2D` (image pixels + confidence, in the dataset's own joint order), `bbox` (cx, cy, w, h), and where
the dataset has them `joints3D` (metres, VIBE's 49 joints; 14 common joints in evaluation splits), `pose` (72) and
`shape` (10). The official files are joblib pickles despite the `.pt` name, read here with the allow-list unpickler;
files written by `torch.save` are read with `weights_only=True`; InstaVariety's `insta_train_db.h5` is HDF5, whose
keypoints are already in 224-pixel crop coordinates. Every window is returned in one layout, whatever its source:
`features` (T, 2048), `kp_2d` (T, 49, 3) normalised to the crop ([-1, 1]), `kp_3d` (T, 49, 3), `theta` (T, 85),
`w_3d` and `w_smpl` (T,) saying which labels exist. AMASS gives `theta` windows of real motion for the discriminator.
"""

import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from smpl_rig.safe_pickle import UnsafePickleError, load_untrusted_pickle

from ..checkpoints import load_weights_only
from ..errors import BackendError
from ..smpl_layer import VIBE_JOINT_NAMES
from .config import DataConfig

# VIBE's 49 joints under the names the official datasets use (lib/data_utils/kp_utils.py, `spin`).
SPIN_JOINTS: tuple[str, ...] = VIBE_JOINT_NAMES[:25] + (
    "rankle", "rknee", "rhip", "lhip", "lknee", "lankle", "rwrist", "relbow", "rshoulder", "lshoulder", "lelbow",
    "lwrist", "neck", "headtop", "hip", "thorax", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)", "nose", "leye",
    "reye", "lear", "rear",
)
COMMON_JOINTS = SPIN_JOINTS[25:39]  # the 14 joints of 3DPW's 2D labels and of every evaluation split
INSTA_JOINTS = (
    "OP RHeel", "OP RKnee", "OP RHip", "OP LHip", "OP LKnee", "OP LHeel", "OP RWrist", "OP RElbow", "OP RShoulder",
    "OP LShoulder", "OP LElbow", "OP LWrist", "OP Neck", "headtop", "OP Nose", "OP LEye", "OP REye", "OP LEar",
    "OP REar", "OP LBigToe", "OP RBigToe", "OP LSmallToe", "OP RSmallToe", "OP LAnkle", "OP RAnkle",
)
PENNACTION_JOINTS = ("headtop", "lshoulder", "rshoulder", "lelbow", "relbow", "lwrist", "rwrist", "lhip", "rhip",
                     "lknee", "rknee", "lankle", "rankle")
CROP_SIZE = 224
KEYPOINT_BOX_SCALE = 1.2  # the official trainer maps 2D keypoints into the box scaled by 1.2
NUM_BETAS = 10


@dataclass(frozen=True)
class DatabaseSpec:
    """How one database stores its labels; names the official code knows have fixed specs, others are ours."""

    joints_2d: tuple[str, ...] = SPIN_JOINTS  # order of the stored `joints2D`
    crop_keypoints: bool = False              # `joints2D` already in 224-pixel crop coordinates (no `bbox`)
    overlap: float = 0.0                      # overlap of consecutive training windows
    file: str = "{name}_{split}_db.pt"


OFFICIAL_DATABASES: dict[str, DatabaseSpec] = {
    "3dpw": DatabaseSpec(COMMON_JOINTS, overlap=0.75),
    "mpii3d": DatabaseSpec(),
    "h36m": DatabaseSpec(),
    "insta": DatabaseSpec(INSTA_JOINTS, crop_keypoints=True, file="insta_train_db.h5"),
    "pennaction": DatabaseSpec(PENNACTION_JOINTS, overlap=0.75),
    "posetrack": DatabaseSpec(overlap=0.75),
}


def database_path(db_dir: str | Path, name: str, split: str) -> Path:
    """Where database `name`'s `split` (train, val, test) lies in `db_dir`."""
    spec = OFFICIAL_DATABASES.get(name, DatabaseSpec())
    return Path(db_dir) / spec.file.format(name=name, split=split)


def load_database(path: str | Path, required: tuple[str, ...] = ()) -> Mapping[str, Any]:
    """One database as a mapping of per-frame arrays (HDF5 datasets stay on disk and are read when sliced).

    Checks that the `required` keys are there and that every array has one row per frame.
    """
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"The database {path} does not exist.",
                           "Build it with `python -m backend.train.extract` or put the official file there; "
                           "see docs/training.md for the folder layout.")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic == b"\x89HDF\r\n\x1a\n":
        db: Mapping[str, Any] = _Hdf5Arrays(path)
    elif zipfile.is_zipfile(path):
        db = _plain_arrays(load_weights_only(path, "cpu", "a database of per-frame arrays",
                                             "Write it with torch.save of a dict of tensors or arrays."), path)
    else:
        try:
            db = _plain_arrays(load_untrusted_pickle(path), path)
        except (UnsafePickleError, ValueError) as exc:
            raise BackendError(f"{path} is not a readable database ({exc}).", "Use an official *_db.pt file "
                               "(joblib) or one written by backend.train.extract.") from exc
    missing = [k for k in required if k not in db]
    if missing:
        raise BackendError(f"The database {path} lacks {', '.join(missing)} (it holds: {', '.join(db)}).",
                           "Rebuild it with `python -m backend.train.extract`; see docs/training.md.")
    lengths = {k: len(db[k]) for k in db}
    if len(set(lengths.values())) > 1:
        raise BackendError(f"The arrays of {path} have different lengths ({lengths}); each needs one row per frame.",
                           "Rebuild the database.")
    return db


def window_starts(vid_names: np.ndarray, seqlen: int, stride: int) -> np.ndarray:
    """First frame of every window of `seqlen` consecutive rows of one video, `stride` apart, as the official
    `split_into_chunks`: videos shorter than `seqlen` give none, and a video's last frames may be left out."""
    names = np.asarray(vid_names)
    cuts = np.flatnonzero(names[1:] != names[:-1]) + 1
    starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [len(names)]])
    windows = [np.arange(s, e - seqlen + 1, stride) for s, e in zip(starts, ends, strict=True)]
    return np.concatenate(windows).astype(np.int64) if windows else np.zeros(0, dtype=np.int64)


def to_vibe_joints(joints: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(N, J, C) joints named `names` -> (N, 49, C) in VIBE's order; joints the source lacks are zero (so their
    confidence is zero)."""
    out = np.zeros((len(joints), len(SPIN_JOINTS), joints.shape[-1]), dtype=np.float32)
    source = [names.index(n) for n in SPIN_JOINTS if n in names]
    out[:, [SPIN_JOINTS.index(n) for n in SPIN_JOINTS if n in names]] = joints[:, source]
    return out


def normalize_keypoints(kp_2d: np.ndarray, bbox: np.ndarray | None) -> np.ndarray:
    """Image-pixel keypoints (T, J, 3) -> crop coordinates in [-1, 1] (confidence kept): relative to each frame's
    box (cx, cy, w, h) scaled by 1.2, or, without boxes, from 224-pixel crop coordinates."""
    out = kp_2d.astype(np.float32).copy()
    if bbox is None:
        out[..., :2] = 2.0 * out[..., :2] / CROP_SIZE - 1.0
    else:
        bbox = np.asarray(bbox, dtype=np.float32)
        out[..., :2] = (out[..., :2] - bbox[:, None, :2]) / (0.5 * KEYPOINT_BOX_SCALE * bbox[:, None, 2:4])
    return out


class SequenceDataset(Dataset):
    """Windows of one database in the common training layout (module docstring); with `use_3d` False (a database
    in the 2D role) only its 2D keypoints are used, as the official 2D datasets do."""

    def __init__(self, db: Mapping[str, Any], spec: DatabaseSpec, seqlen: int, use_3d: bool = True) -> None:
        self.db, self.spec, self.seqlen = db, spec, seqlen
        stride = max(1, int(seqlen * (1.0 - spec.overlap)))
        self.starts = window_starts(_strings(db["vid_name"]), seqlen, stride)
        self.has_3d = use_3d and "joints3D" in db
        self.has_smpl = use_3d and "pose" in db and "shape" in db

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rows = slice(int(self.starts[index]), int(self.starts[index]) + self.seqlen)
        joints_2d = to_vibe_joints(np.asarray(self.db["joints2D"][rows]), self.spec.joints_2d)
        bbox = None if self.spec.crop_keypoints else np.asarray(self.db["bbox"][rows])
        kp_3d = np.zeros((self.seqlen, len(SPIN_JOINTS), 3), dtype=np.float32)
        if self.has_3d:
            joints_3d = np.asarray(self.db["joints3D"][rows], dtype=np.float32)[..., :3]
            kp_3d = joints_3d if joints_3d.shape[1] == len(SPIN_JOINTS) else to_vibe_joints(joints_3d, COMMON_JOINTS)
        theta = np.zeros((self.seqlen, 85), dtype=np.float32)
        if self.has_smpl:
            theta[:, 0] = 1.0
            theta[:, 3:75] = self.db["pose"][rows]
            theta[:, 75:] = np.asarray(self.db["shape"][rows])[:, :NUM_BETAS]
        return {
            "features": torch.as_tensor(np.asarray(self.db["features"][rows], dtype=np.float32)),
            "kp_2d": torch.from_numpy(normalize_keypoints(joints_2d, bbox)),
            "kp_3d": torch.from_numpy(np.ascontiguousarray(kp_3d)),
            "theta": torch.from_numpy(theta),
            "w_3d": torch.full((self.seqlen,), float(self.has_3d)),
            "w_smpl": torch.full((self.seqlen,), float(self.has_smpl)),
        }


def open_sequences(db_dir: str | Path, name: str, split: str, seqlen: int, with_3d: bool) -> SequenceDataset:
    """The windows of database `name` (official name or own), checking it has the labels its role needs."""
    spec = OFFICIAL_DATABASES.get(name, DatabaseSpec())
    required = ("vid_name", "features", "joints2D") + (() if spec.crop_keypoints else ("bbox",))
    path = database_path(db_dir, name, split)
    dataset = SequenceDataset(load_database(path, required), spec, seqlen, use_3d=with_3d)
    if with_3d and not (dataset.has_3d or dataset.has_smpl):
        raise BackendError(f"{path} is listed in datasets_3d but has neither joints3D nor pose and shape.",
                           "Move it to datasets_2d, or add the 3D labels.")
    if len(dataset) == 0:
        raise BackendError(f"{path} has no video of at least {seqlen} frames.", "Lower data.seqlen or add videos.")
    return dataset


# ------------------------------------------------------------------------------------------------ AMASS

# SMPL-H's 52 joints -> SMPL's 24: the 22 body joints, then each hand's first finger joint as SMPL's hand.
AMASS_JOINTS = tuple(range(22)) + (22, 37)
AMASS_FPS = 25
AMASS_MIN_FRAMES = 60


def read_amass_sequence(path: Path, fps: int = AMASS_FPS) -> np.ndarray:
    """One AMASS .npz (SMPL-H `poses` (F, 156), `betas`, `mocap_framerate`) -> theta (F', 82) = pose (72) + betas
    (10), resampled to about `fps` by keeping every (rate // fps)-th frame, as the official preprocessing."""
    with np.load(path, allow_pickle=False) as npz:
        rate_key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in npz), None)
        if "poses" not in npz or "betas" not in npz or rate_key is None:
            raise BackendError(f"{path} is not an AMASS sequence: it needs poses, betas and mocap_framerate "
                               f"(it holds: {', '.join(npz.files)}).", "Use the SMPL+H files from AMASS.")
        poses, betas, rate = npz["poses"], npz["betas"], float(npz[rate_key])
    if poses.ndim != 2 or poses.shape[1] != 156:
        raise BackendError(f"{path} has poses of shape {poses.shape}; expected SMPL+H poses (frames, 156).",
                           "Download the SMPL+H version of AMASS.")
    step = max(1, int(rate) // fps)
    pose = poses[::step].reshape(-1, 52, 3)[:, list(AMASS_JOINTS)].reshape(-1, 72)
    return np.concatenate([pose, np.repeat(betas[None, :NUM_BETAS], len(pose), axis=0)], axis=1).astype(np.float32)


def read_amass_folder(folder: str | Path, fps: int = AMASS_FPS, min_frames: int = AMASS_MIN_FRAMES) -> dict:
    """Every AMASS sequence under `folder` (any depth; `*shape.npz` skipped; sequences shorter than `min_frames`
    after resampling dropped) -> {"theta": (N, 82), "vid_name": (N,)}, the layout of the official amass_db.pt."""
    folder = Path(folder)
    thetas, names = [], []
    for path in sorted(folder.rglob("*.npz")):
        if path.name.endswith("shape.npz"):
            continue
        theta = read_amass_sequence(path, fps)
        if len(theta) >= min_frames:
            thetas.append(theta)
            names.append(np.full(len(theta), path.relative_to(folder).with_suffix("").as_posix()))
    if not thetas:
        raise BackendError(f"No AMASS sequence of at least {min_frames} frames was found under {folder}.",
                           "Point data.amass at the unpacked AMASS folder (see docs/training.md).")
    return {"theta": np.concatenate(thetas), "vid_name": np.concatenate(names)}


class AmassDataset(Dataset):
    """Non-overlapping windows of real motion: theta (T, 85) with the camera set to (1, 0, 0)."""

    def __init__(self, amass: Mapping[str, Any], seqlen: int) -> None:
        self.theta = np.asarray(amass["theta"], dtype=np.float32)
        if self.theta.ndim != 2 or self.theta.shape[1] != 82:
            raise BackendError(f"AMASS theta has shape {self.theta.shape}; expected (frames, 82) = pose + betas.",
                               "Rebuild amass_db.pt or point data.amass at the AMASS folder.")
        self.seqlen = seqlen
        self.starts = window_starts(_strings(amass["vid_name"]), seqlen, seqlen)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> torch.Tensor:
        theta = np.zeros((self.seqlen, 85), dtype=np.float32)
        theta[:, 0] = 1.0
        theta[:, 3:] = self.theta[self.starts[index]:self.starts[index] + self.seqlen]
        return torch.from_numpy(theta)


def load_amass(path: str | Path) -> Mapping[str, Any]:
    """AMASS motion from a folder of .npz sequences or from a prepared amass_db.pt."""
    path = Path(path)
    return read_amass_folder(path) if path.is_dir() else load_database(path, ("theta", "vid_name"))


# ------------------------------------------------------------------------------------------------ batches

class TrainingStream:
    """Endless training batches, as the official trainer draws them: each batch mixes windows from the 2D databases
    (`ratio_2d` of it) and the 3D ones, and comes with as many windows of AMASS motion. Loaders restart when spent."""

    def __init__(self, data: DataConfig, batch_size: int) -> None:
        if not data.datasets_2d and not data.datasets_3d:
            raise BackendError("No training database is configured.", "List databases in data.datasets_2d or "
                               "data.datasets_3d.")
        if not data.datasets_3d:
            size_2d = batch_size
        else:
            size_2d = int(batch_size * data.ratio_2d) if data.datasets_2d else 0
        parts = ((data.datasets_2d, size_2d, False), (data.datasets_3d, batch_size - size_2d, True))
        self._loaders = [
            _endless(ConcatDataset([open_sequences(data.db_dir, n, "train", data.seqlen, with_3d) for n in names]),
                     size, data.num_workers)
            for names, size, with_3d in parts if names and size > 0
        ]
        self._motion = _endless(AmassDataset(load_amass(data.amass), data.seqlen), batch_size, data.num_workers)

    def __iter__(self) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        return self

    def __next__(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """(batch of labelled windows, (B, T, 85) windows of real motion)."""
        parts = [next(loader) for loader in self._loaders]
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}, next(self._motion)


def _endless(dataset: Dataset, batch_size: int, num_workers: int) -> Iterator[Any]:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers)
    while True:
        yield from loader


def _plain_arrays(content: Any, path: Path) -> dict[str, np.ndarray]:
    if not isinstance(content, dict) or not content:
        raise BackendError(f"{path} does not hold a dict of per-frame arrays.", "Rebuild the database.")
    return {str(k): v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in content.items()}


def _strings(values: Any) -> np.ndarray:
    """Video names as a str array (HDF5 stores them as bytes)."""
    array = np.asarray(values[:])
    return array.astype(str) if array.dtype.kind == "S" else array


class _Hdf5Arrays(Mapping):
    """The datasets of an HDF5 file, opened on first use in each process (DataLoader workers fork)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pid, self._file = None, None
        self._keys = tuple(self._open().keys())

    def _open(self) -> Any:
        if self._pid != os.getpid():
            import h5py

            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file

    def __getstate__(self) -> dict:  # worker processes started by `spawn` reopen the file themselves
        return self.__dict__ | {"_pid": None, "_file": None}

    def __getitem__(self, key: str) -> Any:
        return self._open()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)
