"""gunicorn settings of the API unit (``gunicorn -c python:streamapp.gunicorn_conf ...``).

The master moves into a leaf of the unit's delegated cgroup before it forks the workers, so
that each ffprobe/ffmpeg the workers run on an upload gets a cgroup of its own
(:mod:`streamapp.cgroups`; without a delegated cgroup the log says why).
"""

from __future__ import annotations

from typing import Any

from streamapp import cgroups, jsonlog
from streamapp.config import get_settings


def on_starting(server: Any) -> None:
    settings = get_settings()
    jsonlog.setup(settings.log_level, settings.log_file)
    cgroups.enter()
