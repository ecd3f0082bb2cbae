"""``python -m fastrerank``: the command line."""

import sys

from fastrerank.cli import main

sys.exit(main())
