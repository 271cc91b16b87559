"""python -m local.ec2 start|stop|status|serve (local/ec2/controller.py)."""

import sys

from local.ec2.controller import main

sys.exit(main())
