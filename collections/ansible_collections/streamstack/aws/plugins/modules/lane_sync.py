#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name (plugins/action/lane_sync.py), on the
# controller; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lane_sync
version_added: 0.4.0
short_description: Let the parallel lanes of one playbook run wait for each other's steps
description:
  - Lanes are hosts of one play with the V(ansible.builtin.free) strategy (for example
    C(playbooks/provision.yml)'s), each working through its own list of steps. A step starts as
    soon as the steps it needs, in any lane, are done, instead of at a barrier between phases.
  - The lanes of a run share a folder on the controller (O(run_dir)); a done step, a failed lane
    and a lane with no step left are files there. A wait fails as soon as any lane failed, so a
    failure stops the run at each lane's next wait.
  - One task per step does both, so a lane pays one task for it - record the previous step
    done (O(done)), then wait for what the next one needs (O(start), O(needs)).
  - Runs on the controller only (action plugin); changes nothing outside O(run_dir), in check
    mode too.
author:
  - StreamStack contributors (@streamstack)
options:
  run_dir:
    description: The run's folder, shared by its lanes (created if missing, mode 0700).
    type: path
    required: true
  lane:
    description: The lane this task runs for.
    type: str
    required: true
  done:
    description: A step of this lane that is done (the lane's previous one); recorded first.
    type: str
  start:
    description: The step about to start; the task waits until every step in O(needs) is done.
    type: str
  needs:
    description: Steps, of any lane, that must be done before O(start) starts.
    type: list
    elements: str
    default: []
  failed:
    description: Record the lane as failed; every wait of the run then fails at once.
    type: bool
    default: false
  leave:
    description: The lane has no step left; the last lane of O(lanes) to leave removes O(run_dir).
    type: bool
    default: false
  lanes:
    description: Every lane of the run (with O(leave)).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait at most for O(needs).
    type: int
    default: 21600
notes:
  - Supports C(check_mode); reports no change.
"""

EXAMPLES = r"""
- name: Record the subnets done, then wait until the database's group and secret exist
  streamstack.aws.lane_sync:
    run_dir: "{{ provision_run_dir }}"
    lane: network
    done: "vpc_subnets_and_routes:subnets"
    start: rds
    needs: [ec2_security_group, secretsmanager]
"""

RETURN = r"""
lane:
  description: O(lane).
  returned: always
  type: str
done:
  description: O(done), or empty.
  returned: always
  type: str
start:
  description: O(start), or empty.
  returned: always
  type: str
began:
  description: When the task began (seconds since the epoch), right after the lane's previous step.
  returned: always
  type: float
at:
  description: When the task ended; with O(start), when the step could start.
  returned: always
  type: float
waited:
  description: Seconds between RV(began) and RV(at).
  returned: always
  type: float
"""
