"""--diff and -v never show a secret: the nginx role run in check mode with --diff against the
controller itself (nothing changes: check mode; the controller has nginx, so the role has an
nginx.conf to diff against) shows nginx.conf's diff, and not the secure_link secret."""

from __future__ import annotations

import sys

from local.ansible import ROOT, run_playbook

SECRET = "never-in-diff-secret-5a1f0c2e"


def test_nginx_diff_shows_no_secure_link_secret():
    result = run_playbook(
        ROOT / "tests" / "roles" / "preflight.yml",
        inventory="localhost,",
        check=True,
        diff=True,
        tags="nginx_preflight,nginx_install,nginx_configure",
        extra_vars={
            "target_role": "nginx",
            "platform_name": "stream",
            "platform_env": "test",
            "nginx_signed_urls_enabled": True,
            "nginx_media_origin_url": "http://127.0.0.1:9000",
            "nginx_media_secure_link_secret": SECRET,
            "ansible_python_interpreter": sys.executable,
        },
        timeout=600,
    )
    rendered = [
        res
        for name, _host, res in result.task_results()
        if name.endswith("Render nginx.conf (validated by nginx -t)")
    ]
    # The diff was made (the controller's nginx.conf differs), so it was there to leak from.
    assert rendered and rendered[0].get("diff"), result.messages()
    assert SECRET not in result.raw + result.stderr
