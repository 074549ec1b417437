"""`python -m harness` is the same as the `gxm` console script."""

import sys

from harness.cli import main

sys.exit(main())
