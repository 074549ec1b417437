"""`python -m harness` is the same as the `gxm` console script."""

from harness.cli import entry

entry()
