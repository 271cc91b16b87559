"""python -m local.alb start|stop|status|serve (local/alb/controller.py)."""

import sys

from local.alb.controller import main

sys.exit(main())
