# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The state option of a module that manages one resource (a module says more where its
    # resource needs it by documenting the option itself).
    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(present) creates the resource or brings it in line with the options, V(absent) deletes
        it.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) (nothing changes; the result shows what would) and C(diff) (with
    C(--diff) only).
"""
