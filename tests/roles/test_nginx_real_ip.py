"""Rate limits key on the viewer, not on the load balancer: the nginx role's configuration as
the production inventory renders it, run by a real nginx on loopback.

The chain on AWS: viewer -> CloudFront, which appends the viewer's address to X-Forwarded-For ->
ALB, which passes the header on unchanged (routing.http.xff_header_processing.mode: preserve,
playbooks/provision/resources/elb.yml) -> nginx, which trusts X-Forwarded-For from the ALB's
subnets only (nginx_real_ip_from, group_vars/all/network.yml). Here 127.0.0.1 plays the ALB (the
inventory's public subnets are set to 127.0.0.0/30), 127.0.0.9 a host that is not the ALB, and a
small HTTP server the app, echoing the client address nginx hands it.
"""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from local.ansible import ROOT, run_playbook

ALB, OTHER = "127.0.0.1", "127.0.0.9"
VIEWER_A, VIEWER_B = "203.0.113.7", "198.51.100.23"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Echo(http.server.BaseHTTPRequestHandler):
    """The app: answers with the client address nginx passed on (X-Real-IP)."""

    def do_GET(self) -> None:
        body = json.dumps({"real_ip": self.headers.get("X-Real-IP")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def rendered_nginx_conf(app_port: int, nginx_port: int, logs) -> str:
    """nginx.conf as the role renders it (check mode, --diff) with the production inventory."""
    result = run_playbook(
        ROOT / "tests" / "roles" / "preflight.yml",
        inventory=str(ROOT / "inventories" / "production" / "hosts.yml"),
        check=True,
        diff=True,
        tags="nginx_preflight,nginx_install,nginx_configure",
        extra_vars={
            "target_role": "nginx",
            # The ALB's subnets, as the inventory names them; nginx_real_ip_from follows.
            "vpc_public_subnet_cidrs": ["127.0.0.0/30"],
            "nginx_http_port": nginx_port,
            "nginx_app_upstream_servers": [f"127.0.0.1:{app_port}"],
            "nginx_auth_rate_limit": "1r/m",
            "nginx_auth_rate_limit_burst": 1,
            "nginx_access_log": str(logs / "access.log"),
            "nginx_error_log": str(logs / "error.log"),
            "ansible_python_interpreter": sys.executable,
        },
        timeout=600,
    )
    diffs = [
        diff
        for name, _host, res in result.task_results()
        if name.endswith("Render nginx.conf (validated by nginx -t)")
        for diff in (res.get("diff") if isinstance(res.get("diff"), list) else [res.get("diff")])
        if diff and diff.get("after")
    ]
    assert diffs, result.messages()
    return diffs[0]["after"]


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    logs = tmp_path_factory.mktemp("nginx-real-ip")
    app = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Echo)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    port = free_port()
    conf = rendered_nginx_conf(app.server_address[1], port, logs)
    # Its own pid file, and no IPv6 listener (loopback may lack IPv6): nothing else changes.
    conf = conf.replace("pid /run/nginx.pid;", f"pid {logs / 'nginx.pid'};")
    conf = "\n".join(line for line in conf.splitlines() if "listen [::]" not in line)
    (logs / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        ["nginx", "-p", "/usr/share/nginx", "-c", str(logs / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read().decode())
            time.sleep(0.1)
    yield {"port": port, "conf": conf}
    proc.terminate()
    proc.wait(timeout=10)
    app.shutdown()


def get(nginx, path: str, *, source: str, forwarded: str | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(
        "127.0.0.1", nginx["port"], timeout=10, source_address=(source, 0)
    )
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, json.loads(body) if response.status == 200 else {}


def test_the_inventory_trusts_the_albs_subnets_only(nginx):
    conf = nginx["conf"]
    assert "set_real_ip_from 127.0.0.0/30;" in conf
    assert "real_ip_header X-Forwarded-For;" in conf and "real_ip_recursive on;" in conf


def test_the_app_sees_the_viewer_behind_the_alb(nginx):
    status, seen = get(nginx, "/", source=ALB, forwarded=VIEWER_A)
    assert (status, seen["real_ip"]) == (200, VIEWER_A)
    # What a viewer writes into X-Forwarded-For itself stays to the left of what CloudFront
    # appended: the rightmost untrusted address wins.
    _, seen = get(nginx, "/", source=ALB, forwarded=f"6.6.6.6, {VIEWER_B}")
    assert seen["real_ip"] == VIEWER_B


def test_a_host_that_is_not_the_alb_cannot_claim_an_address(nginx):
    _, seen = get(nginx, "/", source=OTHER, forwarded=VIEWER_A)
    assert seen["real_ip"] == OTHER


def test_login_rate_limit_is_per_viewer(nginx):
    """1 request a minute and a burst of 1: a viewer's third try is refused (429), another viewer
    behind the same ALB is not, and a forged leftmost entry does not buy a fresh bucket."""
    path = "/api/auth/login"
    viewer = "192.0.2.44"
    assert [get(nginx, path, source=ALB, forwarded=viewer)[0] for _ in range(3)] == [200, 200, 429]
    assert get(nginx, path, source=ALB, forwarded=f"10.9.8.7, {viewer}")[0] == 429
    assert get(nginx, path, source=ALB, forwarded="192.0.2.45")[0] == 200
