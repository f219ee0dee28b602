"""Make ``engine_helpers`` importable by dotted path, here and in subprocess runs."""

from __future__ import annotations

import sys
from pathlib import Path

HELPERS_DIR = str(Path(__file__).resolve().parent)
if HELPERS_DIR not in sys.path:
    sys.path.insert(0, HELPERS_DIR)
