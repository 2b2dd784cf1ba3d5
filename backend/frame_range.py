"""The 'START:END' frame range both command lines take (no torch: the add-on's headless command imports it)."""

import argparse


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
