# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The managed_drift filter: streamstack.hosts.managed_state's comparison, on the controller."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.streamstack.hosts.plugins.module_utils import managed_state as ms

DOCUMENTATION = r"""
---
name: managed_drift
version_added: 0.1.0
short_description: The paths whose state, read by managed_state, differs from a wanted state
description:
  - Compares what M(streamstack.hosts.managed_state) found (its
    RV(streamstack.hosts.managed_state#module:paths)) with wanted path entries, exactly as the
    module does - for a wanted state known only after the read (e.g. a template that renders
    values read later in the play).
  - A wanted path the module did not read counts as different.
positional: wanted
options:
  _input:
    description: The C(paths) result of M(streamstack.hosts.managed_state).
    type: dict
    required: true
  wanted:
    description:
      - Path entries as M(streamstack.hosts.managed_state) takes them in
        O(streamstack.hosts.managed_state#module:paths).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
# Only the environment file's wanted content changed since the read.
__app_drift: "{{ __app_state.paths | streamstack.hosts.managed_drift(_app_paths) }}"
"""

RETURN = r"""
_value:
  description: The wanted paths that differ, in the given order.
  type: list
  elements: str
"""


def managed_drift(found, wanted):
    if not isinstance(found, dict) or not isinstance(wanted, list):
        raise AnsibleFilterError(
            "managed_drift: expects paths found (a dict) | managed_drift(wanted list)"
        )
    errors = [error for error in map(ms.validate_path, wanted) if error]
    if errors:
        raise AnsibleFilterError("managed_drift: " + "; ".join(errors))
    return ms.drift(wanted, found)


class FilterModule:
    def filters(self):
        return {"managed_drift": managed_drift}
