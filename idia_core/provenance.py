"""Provenance: what produced a number (package versions, platform), shared by evaluation and
reports so that neither imports the other for it."""
from __future__ import annotations

import platform
import sys
from importlib import metadata

from .version import __version__


def package_versions() -> dict[str, str]:
    """Versions of everything that can change a number in the report."""
    out = {"idia": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("numpy", "torch", "open_clip_torch", "pandas", "matplotlib", "pillow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out
