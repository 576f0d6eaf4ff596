"""Where the package, its data and its named sweep definitions are."""

import pathlib

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent  # jaxmadrl/
REPOSITORY_DIR = PACKAGE_DIR.parent  # a checkout's root (for an installed copy, site-packages)
DATA_DIR = PACKAGE_DIR / "data"  # the reference's logged results (jaxmadrl/data/*.json)
SWEEPS_DIR = PACKAGE_DIR / "sweeps"  # the named sweep definitions (jaxmadrl/sweeps/*.json, package data)
