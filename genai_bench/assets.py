"""Where the page's templates and static assets are, in a checkout and once installed."""

from __future__ import annotations

import sysconfig
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALLED_ASSETS = Path(sysconfig.get_path("data")) / "share" / "genai-bench"


def asset_folder(name: str) -> Path:
    """templates/ or static/: beside the package in a checkout, under <prefix>/share/genai-bench once installed."""
    for base in (REPO_ROOT, INSTALLED_ASSETS):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"genai-bench cannot find its {name}/ folder (looked in {REPO_ROOT} and {INSTALLED_ASSETS})")
