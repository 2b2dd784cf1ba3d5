"""The official data folder (VIBE's `vibe_data`, TCMR's `base_data`): which files it holds and what each is for.

No torch here: the Blender add-on imports this module to show the folder's contents and which estimators can run.
"""

from dataclasses import dataclass
from pathlib import Path

from .errors import BackendError

_VIBE_DOWNLOAD = (
    "Run scripts/prepare_data.sh from https://github.com/mkocabas/VIBE (it downloads and unpacks vibe_data.zip) and "
    "point the data folder at data/vibe_data."
)
_TCMR_DOWNLOAD = (
    "Run scripts/get_base_data.sh from https://github.com/hongsukchoi/TCMR_RELEASE (it downloads and unpacks "
    "base_data.zip) and point the data folder at data/base_data."
)
_SMPL_DOWNLOAD = (
    "It ships in VIBE's vibe_data.zip; or register at https://smplify.is.tue.mpg.de, download the neutral SMPL model "
    "and save basicModel_neutral_lbs_10_207_0_v1.0.0.pkl in the data folder as SMPL_NEUTRAL.pkl."
)


@dataclass(frozen=True)
class DataFile:
    name: str
    purpose: str  # one line for animators
    source: str   # where to obtain it
    used_by: tuple[str, ...] = ()  # estimators that need it


KNOWN_FILES: tuple[DataFile, ...] = (
    DataFile("vibe_model_wo_3dpw.pth.tar", "VIBE motion model (the one VIBE's demo uses).", _VIBE_DOWNLOAD, ("vibe",)),
    DataFile("vibe_model_w_3dpw.pth.tar", "VIBE motion model, variant also trained on the 3DPW dataset.",
             _VIBE_DOWNLOAD, ("vibe",)),
    DataFile("tcmr_demo_model.pth.tar", "TCMR motion model: steadier motion than VIBE, less jitter.", _TCMR_DOWNLOAD,
             ("tcmr",)),
    DataFile("spin_model_checkpoint.pth.tar", "Image network (SPIN's ResNet-50) that reads each video crop.",
             _VIBE_DOWNLOAD, ("vibe", "tcmr")),
    DataFile("SMPL_NEUTRAL.pkl", "SMPL body model: the skeleton and mesh the motion drives.", _SMPL_DOWNLOAD,
             ("vibe", "tcmr")),
    DataFile("J_regressor_extra.npy", "Extra body landmarks (head top, neck, hips) used by VIBE and TCMR.",
             _VIBE_DOWNLOAD, ("vibe", "tcmr")),
    DataFile("smpl_mean_params.npz", "Average body pose and shape; only needed by a model file that lacks them.",
             _VIBE_DOWNLOAD),
    DataFile("J_regressor_h36m.npy", "Human3.6M joints for benchmark evaluation; not needed to animate.",
             _VIBE_DOWNLOAD),
    DataFile("gmm_08.pkl", "Pose prior for VIBE's optional SMPLify refinement; not needed to animate.", _VIBE_DOWNLOAD),
    DataFile("yolov3.weights", "YOLOv3 person detector; without it a built-in detector is used.",
             "It ships in vibe_data.zip and base_data.zip (their scripts move it to ~/.torch/models/); copy it into "
             "the data folder."),
)
FILES_BY_NAME: dict[str, DataFile] = {f.name: f for f in KNOWN_FILES}

VIBE_CHECKPOINT_PATTERN = "vibe_model_*.pth.tar"
VIBE_MODEL_FILE = DataFile(VIBE_CHECKPOINT_PATTERN, "a VIBE motion model (vibe_model_wo_3dpw.pth.tar is the one "
                           "VIBE's demo uses).", _VIBE_DOWNLOAD, ("vibe",))
_SUPPORT_FILES = ("spin_model_checkpoint.pth.tar", "SMPL_NEUTRAL.pkl", "J_regressor_extra.npy")
_MODEL_FILES = {"tcmr": "tcmr_demo_model.pth.tar", "vibe": VIBE_CHECKPOINT_PATTERN}
_NEEDS = {name: (model,) + _SUPPORT_FILES for name, model in _MODEL_FILES.items()}
ESTIMATORS = ("tcmr", "vibe", "default")
_TITLES = {"tcmr": "TCMR", "vibe": "VIBE", "default": "the built-in default estimator"}


@dataclass(frozen=True)
class FileStatus:
    file: DataFile
    path: Path
    present: bool


@dataclass(frozen=True)
class EstimatorStatus:
    name: str
    missing: tuple[str, ...]  # file names (or the VIBE checkpoint pattern) absent from the folder
    checkpoint: str | None = None  # model file the estimator would load

    @property
    def available(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class EstimatorChoice:
    name: str
    reason: str  # one sentence for the log and the add-on's status line
    checkpoint: str | None = None


def folder_report(data_dir: str | Path) -> list[FileStatus]:
    """Every known file with its path in `data_dir` and whether it is there."""
    folder = Path(data_dir)
    return [FileStatus(f, folder / f.name, (folder / f.name).is_file()) for f in KNOWN_FILES]


def find_vibe_checkpoint(data_dir: str | Path) -> str | None:
    """File name of the VIBE model to use: the demo's wo_3dpw first, then w_3dpw, then any other vibe_model_*."""
    folder = Path(data_dir)
    found = sorted(p.name for p in folder.glob(VIBE_CHECKPOINT_PATTERN) if p.is_file())
    preferred = [n for n in ("vibe_model_wo_3dpw.pth.tar", "vibe_model_w_3dpw.pth.tar") if n in found]
    return (preferred + found)[0] if found else None


def estimator_status(data_dir: str | Path | None) -> dict[str, EstimatorStatus]:
    """For each estimator, the files it still lacks in `data_dir` (the default estimator needs none)."""
    folder = Path(data_dir) if data_dir else None

    def absent(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n for n in names if folder is None or not (folder / n).is_file())

    vibe_checkpoint = find_vibe_checkpoint(folder) if folder is not None else None
    vibe_missing = () if vibe_checkpoint else (VIBE_CHECKPOINT_PATTERN,)
    return {
        "tcmr": EstimatorStatus("tcmr", absent(_NEEDS["tcmr"]), "tcmr_demo_model.pth.tar"),
        "vibe": EstimatorStatus("vibe", vibe_missing + absent(_SUPPORT_FILES), vibe_checkpoint),
        "default": EstimatorStatus("default", ()),
    }


def choose_estimator(data_dir: str | Path | None, requested: str = "auto",
                     checkpoint: str | None = None) -> EstimatorChoice:
    """Pick the estimator to run: `auto` takes TCMR, then VIBE, then the default; a named one must be complete.

    `checkpoint` (a model file the user names, e.g. one from `backend.train`) stands in for the named estimator's
    own model file, which the folder then need not hold.
    """
    if requested not in ESTIMATORS + ("auto",):
        raise BackendError(f"Unknown estimator '{requested}'.", f"Choose one of: auto, {', '.join(ESTIMATORS)}.")
    if requested in ("tcmr", "vibe") and not (data_dir and Path(data_dir).is_dir()):
        problem = f"the data folder {data_dir} does not exist" if data_dir else "no data folder is set"
        raise BackendError(f"{_TITLES[requested]} cannot run: {problem}.", _how_to_get(_NEEDS[requested]))
    if data_dir and not Path(data_dir).is_dir():
        return EstimatorChoice("default", f"Using {_TITLES['default']}: the data folder {data_dir} does not exist.")
    status = estimator_status(data_dir)
    if requested != "auto":
        chosen = status[requested]
        missing = tuple(n for n in chosen.missing if not (checkpoint and n == _MODEL_FILES.get(requested)))
        if missing:
            raise BackendError(
                f"{_TITLES[requested]} cannot run: the data folder {data_dir} lacks {', '.join(missing)}.",
                _how_to_get(missing),
            )
        return EstimatorChoice(requested, f"Using {_TITLES[requested]}, as requested.", chosen.checkpoint)
    tcmr, vibe = status["tcmr"], status["vibe"]
    if tcmr.available:
        return EstimatorChoice("tcmr", f"Using TCMR with {tcmr.checkpoint} from {data_dir}.", tcmr.checkpoint)
    if vibe.available:
        return EstimatorChoice(
            "vibe", f"Using VIBE with {vibe.checkpoint} (TCMR would also need {', '.join(tcmr.missing)}).",
            vibe.checkpoint,
        )
    if not data_dir:
        return EstimatorChoice("default", f"Using {_TITLES['default']}: no data folder is set.")
    return EstimatorChoice(
        "default", f"Using {_TITLES['default']}: VIBE would need {', '.join(vibe.missing)} in {data_dir}."
    )


def _how_to_get(names: tuple[str, ...]) -> str:
    """Where to obtain the named files (the VIBE checkpoint pattern included), each source said once."""
    sources = [FILES_BY_NAME.get(n, VIBE_MODEL_FILE).source for n in names]
    return " ".join(dict.fromkeys(sources))


def data_file(data_dir: str | Path, name: str) -> Path:
    """A checkpoint named in a config or on a command line: a file name in the data folder, or a path (absolute or
    relative to the working folder). A name that is in neither place is reported where it was most likely meant."""
    inside, given = Path(data_dir) / name, Path(name)
    if inside.is_file() or (not given.is_file() and given.name == name):
        return inside
    return given
