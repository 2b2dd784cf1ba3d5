"""`python -m backend.train --config FILE [--resume]`: train VIBE as configured (docs/training.md)."""

import argparse
import sys
from pathlib import Path

from . import run_command
from .config import load_config
from .trainer import run_training


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend.train", description="Train or fine-tune VIBE on "
                                     "precomputed-feature databases; logs and checkpoints go to output_dir.")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file overriding backend/train/default.json (the published settings)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from output_dir/checkpoint.pth.tar (weights, optimizers, epoch)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: print(run_training(load_config(args.config), resume=args.resume)))


if __name__ == "__main__":
    sys.exit(main())
