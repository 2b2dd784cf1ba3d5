"""The options of each video: every option of the headless command (`python -m blender_vibe`), forwarded.

The batch's parser copies them from `headless.build_parser()`, so an option added there works in batches with no
edit here. Each value is checked as the headless command checks it (its type and choices) and kept as typed, to be
passed on. Options that name a file the command writes (a metavar beginning with OUT: `-o`, `--preview`, ...) take a
file name inside each video's folder, where `{name}` becomes the video's name (`-o {name}.fbx` -> `walk.fbx`).
"""

import argparse
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

FORWARDED = "forwarded"  # the namespace attribute listing what was given: (option's action, option string, values)
NOT_FORWARDED = ("help", "progress")  # the batch reads the command's progress itself
RESERVED_NAMES = ("result.json", "console.log")  # the batch's own files in a video's folder


class OptionsError(ValueError):
    """Per-video options that cannot work in a batch: what is wrong and how to fix it."""


def add_video_options(parser: argparse.ArgumentParser) -> None:
    """Add every option of the headless command to `parser`, in a group of their own."""
    from ..headless import build_parser  # imports bpy: only where the options are parsed

    group = parser.add_argument_group("options of each video, as for python -m blender_vibe VIDEO",
                                      "Files the command writes (-o, --preview, ...) are file names inside "
                                      "each video's folder OUT/NAME/, where {name} becomes the video's name: "
                                      "-o {name}.fbx writes OUT/walk/walk.fbx.")
    for action in build_parser()._actions:  # argparse has no public list of a parser's options
        if action.option_strings and action.dest not in NOT_FORWARDED:
            group.add_argument(
                *action.option_strings, action=_Forward, inner=action, dest=action.dest, nargs=action.nargs,
                const=action.const, type=_Checked(action), choices=action.choices if action.type is None else None,
                required=action.required, help=action.help, metavar=action.metavar,
            )


class _Checked:
    """An option's type that checks a value as the headless command would, and returns it as typed."""

    def __init__(self, action: argparse.Action) -> None:
        self.action = action
        self.__name__ = getattr(action.type, "__name__", "value")  # argparse names the type in its messages

    def __call__(self, text: str) -> str:
        value = text if self.action.type is None else self.action.type(text)
        if self.action.type is not None and self.action.choices is not None and value not in self.action.choices:
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {list(self.action.choices)})")
        return text


class _Forward(argparse.Action):
    """Records the option as given (values as typed) instead of storing a value."""

    def __init__(self, option_strings, dest, inner: argparse.Action, **kwargs) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, **kwargs)
        self.inner = inner

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if self.nargs == "?" and values is self.const:  # given without its optional value
            values = []
        given = getattr(namespace, FORWARDED, [])
        given.append((self.inner, option_string, [values] if isinstance(values, str) else list(values or [])))
        setattr(namespace, FORWARDED, given)


def is_output(action: argparse.Action) -> bool:
    return (action.metavar or "").startswith("OUT")


@dataclass
class VideoOptions:
    """The forwarded options: `fixed` passed on as given, `outputs` (option, file name template) per video."""

    fixed: list[list[str]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    device: str = "auto"

    def output_files(self, name: str) -> list[str]:
        """The files the command writes for the video `name`, relative to its folder."""
        leaf = PurePosixPath(name).name
        return [template.replace("{name}", leaf) for _, template in self.outputs]

    def command_args(self, name: str, folder: str) -> list[str]:
        """The options for one video whose files go to `folder`."""
        args = [token for group in self.fixed for token in group]
        for (option, _), file in zip(self.outputs, self.output_files(name), strict=True):
            args += [option, str(PurePosixPath(folder) / file)]
        return args

    def record(self) -> list[str]:
        """What makes one video's results: every option as given, in a canonical order (to compare two batches)."""
        groups = self.fixed + [[option, template] for option, template in self.outputs]
        return [" ".join(group) for group in sorted(groups)]


def video_options(namespace: argparse.Namespace) -> VideoOptions:
    """Split what was given into fixed options and output files; raise OptionsError for an output that is not a
    file name inside the video's folder."""
    options = VideoOptions()
    for action, option_string, values in getattr(namespace, FORWARDED, []):
        if action.dest == "device" and values:
            options.device = values[0]
        if not is_output(action):
            options.fixed.append([option_string, *values])
            continue
        for value in values:
            _check_output_name(option_string, value)
            options.outputs.append((option_string, value))
    return options


def _check_output_name(option: str, value: str) -> None:
    path = PurePosixPath(value.replace("\\", "/"))
    if PureWindowsPath(value).is_absolute() or path.is_absolute() or ".." in path.parts or not path.name:
        raise OptionsError(f"{option} {value}: in a batch, files are named inside each video's folder. Give a file "
                           f"name such as {option} {{name}}{path.suffix or '.blend'} (the folder is --out/NAME/).")
    if path.as_posix() in RESERVED_NAMES:
        raise OptionsError(f"{option} {value}: the batch writes its own {value} in each video's folder. Choose "
                           "another name.")
