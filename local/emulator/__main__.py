"""python -m local.emulator start|env|stop|status (local/emulator/__init__.py)."""

import sys

from local.emulator import main

sys.exit(main())
