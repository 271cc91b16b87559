"""Helpers for the testinfra suites of every scenario (pytest finds this file from each
scenario's tests/ folder). The suites reach the container through testinfra's podman://
backend, i.e. `podman exec`: no SSH, no ports leave the container."""

from __future__ import annotations

import json

import pytest

_HTTP = r"""
import json, ssl, sys, urllib.request, urllib.error
url, headers, method = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
# Test hosts use self-signed certificates: no verification.
tls = urllib.request.HTTPSHandler(context=ssl._create_unverified_context())
opener = urllib.request.build_opener(NoRedirect, tls)
req = urllib.request.Request(url, headers=headers, method=method)
try:
    resp = opener.open(req, timeout=10)
    status, hdrs, body = resp.status, resp.headers, resp.read()
except urllib.error.HTTPError as err:
    status, hdrs, body = err.code, err.headers, err.read()
print(json.dumps({"status": status, "headers": {k.lower(): v for k, v in hdrs.items()},
                  "body": body.decode("latin-1")}))
"""


class Response:
    def __init__(self, data: dict):
        self.status: int = data["status"]
        self.headers: dict[str, str] = data["headers"]
        self.body: str = data["body"]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers}>"


def http(host, url: str, headers: dict | None = None, method: str = "GET") -> Response:
    """An HTTP request made from inside the container (python3 is in the test image)."""
    out = host.check_output("python3 -c %s %s %s %s", _HTTP, url, json.dumps(headers or {}), method)
    return Response(json.loads(out))


@pytest.fixture
def get(host):
    def request(url: str, headers: dict | None = None, method: str = "GET") -> Response:
        return http(host, url, headers, method)

    return request
