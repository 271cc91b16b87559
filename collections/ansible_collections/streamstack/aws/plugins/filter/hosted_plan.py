# Copyright: StreamStack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: hosted_plan
short_description: The steps of provision.yml's plan that one app_hosting runs, lane by lane
description:
  - Takes provision.yml's plan C(provision_plan), a mapping of lanes to their steps, each with its
    C(step), the C(hosting) values it runs for (all by default) and the C(needs) it waits for,
    and keeps, in each lane and in its order, the steps of the given hosting. A need on a step of
    the other hosting is dropped (nothing will ever mark it done), and so is a lane left without
    steps.
  - A lane then neither waits nor spends a task on the other hosting's steps, and a step no
    longer waits behind them through its lane's order.
positional: hosting
options:
  _input:
    description: The plan, lane -> list of steps.
    type: dict
    required: true
  hosting:
    description: The app_hosting value of the run.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The run's steps
  ansible.builtin.set_fact:
    provision_run_plan: "{{ provision_plan | streamstack.aws.hosted_plan(app_hosting) }}"
"""

RETURN = r"""
_value:
  description: The plan with the hosting's steps only, lanes in their order.
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 - after the documentation


def hosted_plan(plan, hosting):
    if not isinstance(plan, dict):
        raise AnsibleFilterError("hosted_plan: the plan must be a mapping of lanes to steps")
    runs = {
        entry["step"]
        for entries in plan.values()
        for entry in entries
        if hosting in entry.get("hosting", [hosting])
    }
    kept = {}
    for lane, entries in plan.items():
        steps = []
        for entry in entries:
            if entry["step"] not in runs:
                continue
            step = dict(entry)
            if "needs" in step:
                step["needs"] = [need for need in step["needs"] if need in runs]
            steps.append(step)
        if steps:
            kept[lane] = steps
    return kept


class FilterModule:
    def filters(self):
        return {"hosted_plan": hosted_plan}
