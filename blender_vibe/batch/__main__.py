"""`python -m blender_vibe.batch`: see cli.py."""

import sys

from .cli import main

sys.exit(main())
