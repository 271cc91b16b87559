# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lanes of one run tell each other which steps are done (streamstack.aws.lane_sync).

Runs on the controller, in the worker of the task: a lane waits for the marker files of the
steps it needs, written into the run's folder by the lanes that did them. Lanes are hosts of one
play with the free strategy; a worker only sees the variables of the moment its task was queued,
so the markers are files, not variables. A lane marks a step done in its next task, so the facts
the step published were recorded before: the task after a wait sees them.
"""

from __future__ import annotations

import os
import shutil
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

POLL = 0.02  # seconds between looks at the folder: a stat per step still awaited; a step starts
# at most this long after what it needs is done, along each chain of dependent steps


def _marker(run_dir, name, kind):
    return os.path.join(run_dir, f"{name.replace('/', '%2F')}.{kind}")


def _touch(path, text=""):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(
        ("run_dir", "lane", "done", "start", "needs", "failed", "leave", "lanes", "timeout")
    )
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True  # coordination only: nothing in AWS changes
        result = super().run(tmp, task_vars)
        args = self._task.args
        run_dir, lane = args.get("run_dir"), args.get("lane")
        if not run_dir or not lane:
            raise AnsibleActionFail("run_dir and lane are required")
        began = time.time()
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        if args.get("done"):
            _touch(_marker(run_dir, args["done"], "done"), lane)
        if args.get("failed"):
            _touch(_marker(run_dir, lane, "failed"))
        if args.get("start"):
            self._wait(run_dir, list(args.get("needs") or []), float(args.get("timeout") or 21600))
        if args.get("leave"):
            self._leave(run_dir, lane, list(args.get("lanes") or []))
        at = time.time()
        result.update(
            changed=False,
            lane=lane,
            done=args.get("done") or "",
            start=args.get("start") or "",
            began=began,
            at=at,
            waited=round(at - began, 3),
        )
        return result

    @staticmethod
    def _wait(run_dir, needs, timeout):
        """Until every needed step is done; fails at once when a lane failed."""
        deadline = time.monotonic() + timeout
        left = list(needs)
        while True:
            left = [step for step in left if not os.path.exists(_marker(run_dir, step, "done"))]
            if not left:
                return
            failed = sorted(name[:-7] for name in os.listdir(run_dir) if name.endswith(".failed"))
            if failed:
                raise AnsibleActionFail(
                    f"lane {', '.join(failed)} failed (see above): not starting a step that "
                    f"needs {', '.join(left)}"
                )
            if time.monotonic() > deadline:
                raise AnsibleActionFail(f"waited {timeout:.0f} s for {', '.join(left)}")
            time.sleep(POLL)

    @staticmethod
    def _leave(run_dir, lane, lanes):
        """The lane has no step left; the last lane to leave removes the run's folder."""
        _touch(_marker(run_dir, lane, "left"))
        if lanes and all(os.path.exists(_marker(run_dir, name, "left")) for name in lanes):
            shutil.rmtree(run_dir, ignore_errors=True)
