"""Checks of command-line values shared by every command (argparse `type=` functions; no torch: the add-on's
headless command and the batch command import them too)."""

import argparse
import math


def parse_frames(text: str) -> tuple[int, int | None]:
    """'START:END' video frames from 0, END exclusive, either side may be empty -> (start, end or None)."""
    start, sep, end = text.partition(":")
    try:
        frames = (int(start) if start else 0, int(end) if end else None)
    except ValueError:
        frames = None
    if not sep or frames is None or frames[0] < 0 or (frames[1] is not None and frames[1] <= frames[0]):
        raise argparse.ArgumentTypeError(f"expected START:END with 0 <= START < END, e.g. 0:300; got {text!r}")
    return frames


def positive_int(text: str) -> int:
    """Counts and sizes: 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number, 0 or more (0 usually turns the option off)."""
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number 0 or more, got {text}")
    return value
