"""Where the tests find the repository (tests/ is on sys.path under pytest)."""

import os

# The repository root: the scripts, README.md, pyproject.toml, the Makefile.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
