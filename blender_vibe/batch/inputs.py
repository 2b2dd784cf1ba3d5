"""Which videos a batch processes, and the name of each one's output folder.

Inputs are files (taken whatever their extension: a file that is not a video fails on its own), folders (searched
recursively for video extensions, hidden entries skipped) and glob patterns (`clips/**/*.mp4`, for shells that do not
expand them). A video's name is its path relative to the input it came from, without the extension: the file's own
folder for a file, the folder itself, or a glob's part before the first wildcard; so `clips/a/walk.mp4` found in
`clips/` is `a/walk`, and its results go to `OUT/a/walk/`. Names must differ (also in letter case, for file systems
that ignore it), and none may be the folder of another.
"""

import glob
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".mts",
                            ".m2ts", ".ts", ".3gp", ".ogv"})
_WILDCARDS = frozenset("*?[")


class InputError(ValueError):
    """Inputs that cannot make a batch: what is wrong and how to fix it."""


@dataclass(frozen=True)
class Video:
    path: Path  # absolute
    name: str  # relative output folder, '/'-separated


def find_videos(inputs: list[str], skip: Path | None = None) -> list[Video]:
    """The videos of `inputs` in a stable order (sorted within each input, then in the order given), each once;
    anything under `skip` (the batch's own output folder) is left out."""
    found: dict[Path, Video] = {}
    for text in inputs:
        for path, root in _expand(text):
            path = path.resolve()
            if skip is not None and path.is_relative_to(skip):
                continue
            name = PurePosixPath(*path.relative_to(root.resolve()).with_suffix("").parts).as_posix()
            found.setdefault(path, Video(path, name))
    videos = list(found.values())
    _check_names(videos)
    return videos


def _expand(text: str) -> list[tuple[Path, Path]]:
    """(file, root its name is taken relative to) for one input."""
    path = Path(text).expanduser()
    if any(c in text for c in _WILDCARDS) and not path.exists():
        matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
        files = [m for m in matches if m.is_file()]
        if not files:
            raise InputError(f"no file matches {text}. Check the pattern (quote it so that ** reaches subfolders).")
        return [(f, _glob_root(path)) for f in files]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise InputError(f"the folder {text} holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))}).")
        return [(f, path) for f in files]
    if path.is_file():
        return [(path, path.parent)]
    raise InputError(f"{text} does not exist. Check the path.")


def _glob_root(pattern: Path) -> Path:
    parts = pattern.parts
    fixed = next(i for i, part in enumerate(parts) if any(c in part for c in _WILDCARDS))
    return Path(*parts[:fixed]) if fixed else Path(".")


def _check_names(videos: list[Video]) -> None:
    by_name: dict[str, Video] = {}
    for video in videos:
        other = by_name.setdefault(video.name.casefold(), video)
        if other is not video:
            raise InputError(f"{other.path} and {video.path} would share the output folder {video.name}. Give "
                             "their common folder as the input (names then keep the subfolders), or rename one.")
    folders = {parent.casefold(): video for video in videos for parent in _parents(video.name)}
    for video in videos:
        inner = folders.get(video.name.casefold())
        if inner is not None:
            raise InputError(f"the output folder {video.name} of {video.path} would also hold the results of "
                             f"{inner.path}. Rename one of them.")


def _parents(name: str) -> list[str]:
    return [parent.as_posix() for parent in PurePosixPath(name).parents if parent != PurePosixPath(".")]
