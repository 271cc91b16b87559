#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: managed_state
version_added: 0.1.0
short_description: Read managed paths and Debian packages in one call and report what differs
description:
  - Reads, in one module run on the host, the state of a list of paths (C(lstat), SHA-1 of
    files) and of Debian packages (dpkg's status database through C(dpkg-query); no apt lock,
    no package lists), and compares it with the wanted state given.
  - Returns the paths that differ (O(paths)), the packages that are not installed
    (O(packages), O(debs)) and those that should not be (O(absent_packages)). Tasks that
    write those paths or install those packages then run only where something differs, so a
    re-converge with nothing to do costs this one module run instead of one or two per path
    and one apt run per package list.
  - Never changes anything; RV(ignore:changed) is always false. Runs in check mode too, so
    C(--check --diff) shows exactly what the following tasks would change.
  - Wanted SHA-1s are computed on the controller (for a template, its rendering through the
    C(ansible.builtin.template) lookup and the C(hash) filter, see the examples), so the content
    never travels to the host for the comparison.
author:
  - StreamStack contributors (@streamstack)
options:
  paths:
    description:
      - The managed paths in their wanted state. Attributes left out are not compared.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path; not followed when it is a symbolic link.
        type: path
        required: true
      state:
        description:
          - V(directory), V(file), V(link) - the path must be of that type, with the attributes
            given.
          - V(present) - it must exist, in any form (for paths a command creates).
          - V(absent) - it must not exist.
        type: str
        choices: [directory, file, link, present, absent]
        default: file
      mode:
        description:
          - Permission bits as an octal string (V('0644'), V('2750')). Not compared for links.
        type: str
      owner:
        description: Owner, a user name or a numeric uid.
        type: str
      group:
        description: Group, a group name or a numeric gid.
        type: str
      sha1:
        description: SHA-1 (40 hex digits) the file's content must have; only for V(file).
        type: str
      sha256:
        description:
          - SHA-256 (64 hex digits) the file's content must have; only for V(file). For a
            download checked by its SHA-256 (M(ansible.builtin.get_url) runs only when the file
            differs).
        type: str
      src:
        description: Target a symbolic link must point to; only for V(link).
        type: str
  packages:
    description:
      - Debian packages that must be installed, as apt takes them - V(name), V(name:arch),
        V(name=version) (the version may be a shell-style pattern, V(1.2*)).
      - A package counts as installed when dpkg reports it so without error (status C(ii) or
        C(hi)); half-installed or unconfigured packages are missing, so apt completes them.
    type: list
    elements: str
    default: []
  absent_packages:
    description:
      - Debian packages that must not be installed; any of them dpkg still has on disk
        (any status but not-installed and config-files) is reported in RV(unwanted_packages).
    type: list
    elements: str
    default: []
  debs:
    description:
      - Package files (C(.deb)) on the host whose package must be installed at exactly the
        file's version (read with C(dpkg-deb -f)). A file that is not there yet counts as
        missing.
    type: list
    elements: path
    default: []
notes:
  - Debian and Ubuntu hosts (C(dpkg-query)); Python 3.11+ on the host.
  - Supports check mode (it reads only); C(diff) is left to the tasks that change the state.
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.package_facts
  - plugin: streamstack.hosts.managed_drift
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Read the managed paths and packages (one call for all of them)
  streamstack.hosts.managed_state:
    paths:
      - {path: /srv/www, state: directory, owner: root, group: root, mode: "0755"}
      - path: /etc/nginx/nginx.conf
        state: file
        owner: root
        group: root
        mode: "0600"
        sha1: "{{ lookup('ansible.builtin.template', 'nginx.conf.j2') | hash('sha1') }}"
      - {path: /etc/nginx/sites-enabled/default, state: absent}
    packages: [nginx, openssl]
    absent_packages: [apache2]
  register: __nginx_state

- name: Install nginx
  ansible.builtin.apt:
    name: [nginx, openssl]
    state: present
  when: __nginx_state.missing_packages | length > 0

- name: Render nginx.conf
  ansible.builtin.template:
    src: nginx.conf.j2
    dest: /etc/nginx/nginx.conf
    owner: root
    group: root
    mode: "0600"
  when: "'/etc/nginx/nginx.conf' in __nginx_state.drift"

- name: A package file downloaded by an earlier task, installed only when its version is not
  streamstack.hosts.managed_state:
    debs: [/var/cache/agent/agent.deb]
  register: __agent_state
"""

RETURN = r"""
drift:
  description: The paths of O(paths) whose state differs from the wanted one, in the given order.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/nginx.conf]
paths:
  description:
    - What was found at each path of O(paths) - C(state) (V(directory), V(file), V(link),
      V(other) or V(absent)), and for existing paths C(mode), C(owner), C(group), C(uid),
      C(gid); C(sha1) and C(sha256) for files whose digest was asked for, C(src) for links.
    - The P(streamstack.hosts.managed_drift#filter) filter compares it again with a wanted
      state known only later in the play.
  returned: always
  type: dict
  sample:
    /etc/nginx/nginx.conf: {state: file, mode: "0600", owner: root, group: root, uid: 0, gid: 0,
                            sha1: 0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33}
    /etc/nginx/sites-enabled/default: {state: absent}
missing_packages:
  description: The entries of O(packages) that no installed package satisfies.
  returned: always
  type: list
  elements: str
  sample: [openssl]
unwanted_packages:
  description: The entries of O(absent_packages) that are still installed.
  returned: always
  type: list
  elements: str
  sample: [apache2]
missing_debs:
  description: The entries of O(debs) whose package is not installed at the file's version.
  returned: always
  type: list
  elements: str
  sample: [/var/cache/agent/agent.deb]
installed_packages:
  description: Installed version of every package O(packages) and O(absent_packages) name exactly.
  returned: always
  type: dict
  sample: {nginx: 1.22.1-9+deb12u1}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.streamstack.hosts.plugins.module_utils import managed_state as ms


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    path=dict(type="path", required=True),
                    state=dict(type="str", choices=list(ms.PATH_STATES), default="file"),
                    mode=dict(type="str"),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    sha1=dict(type="str"),
                    sha256=dict(type="str"),
                    src=dict(type="str"),
                ),
            ),
            packages=dict(type="list", elements="str", default=[]),
            absent_packages=dict(type="list", elements="str", default=[]),
            debs=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    wanted = module.params["paths"]
    errors = [error for error in map(ms.validate_path, wanted) if error]
    seen = [want["path"] for want in wanted]
    errors += [
        f"{path}: given more than once" for path in sorted(set(seen)) if seen.count(path) > 1
    ]
    if errors:
        module.fail_json(msg="Invalid paths: " + "; ".join(errors))

    found = {want["path"]: ms.read_path(want["path"], want) for want in wanted}
    result = dict(
        changed=False,
        drift=ms.drift(wanted, found),
        paths=found,
        missing_packages=[],
        unwanted_packages=[],
        missing_debs=[],
        installed_packages={},
    )
    packages, absent, debs = (module.params[k] for k in ("packages", "absent_packages", "debs"))
    if packages or absent or debs:
        try:
            status = ms.dpkg_status()
        except (OSError, RuntimeError) as exc:
            module.fail_json(msg=f"Cannot read dpkg's status: {exc}", **result)
        result["missing_packages"] = ms.missing_packages(packages, status)
        result["unwanted_packages"] = ms.unwanted_packages(absent, status)
        result["missing_debs"] = ms.missing_debs(debs, status)
        for spec in packages + absent:
            name = ms.split_spec(spec)[0]
            if name in status and status[name]["present"]:
                result["installed_packages"][name] = status[name]["version"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
