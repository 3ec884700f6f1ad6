"""``python -m lungdx_widgets.cli``."""

import sys

from . import main

sys.exit(main())
