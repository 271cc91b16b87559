"""python -m local.beanstalk start|stop|status|serve (local/beanstalk/controller.py)."""

import sys

from local.beanstalk.controller import main

sys.exit(main())
