"""Where the project's data files live: URDFs, committed models, configs.

Resolved relative to the source checkout (an editable install) and overridable with
``IFGRASP_ROOT`` for an installed copy.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (contains ``urdf/``, ``models/``, ``config/``).
REPO_ROOT = Path(os.environ.get("IFGRASP_ROOT", Path(__file__).resolve().parents[2]))
URDF_DIR = REPO_ROOT / "urdf"
MODELS_DIR = REPO_ROOT / "models"
CONFIG_DIR = REPO_ROOT / "config"
DATA_DIR = REPO_ROOT / "data"
#: Default folder for pictures and reports a command writes.
OUT_DIR = Path(os.environ.get("IFGRASP_OUT", REPO_ROOT / "out"))
