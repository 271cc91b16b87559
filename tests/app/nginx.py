"""A real nginx implementing the local signed-URL contract (app/README.md), for tests.

The configuration below is the contract's reference implementation: the nginx role renders the
same two locations (with its own origin and secret).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CONTRACT_LOCATIONS = r"""
    # HLS: token and expiry in the path, signed over the item's prefix (hls/<item id>), so the
    # relative rung-playlist and segment URLs inside the master playlist carry them too.
    location ~ "^/media/s/(?<sl_token>[A-Za-z0-9_-]{22})/(?<sl_expires>[0-9]{1,12})/(?<hls_prefix>hls/[0-9a-f-]{36})/(?<hls_path>[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)?)$" {
        secure_link $sl_token,$sl_expires;
        secure_link_md5 "$secure_link_expires$hls_prefix $secure_link_secret";
        if ($secure_link = "") { return 403; }   # bad or missing token
        if ($secure_link = "0") { return 403; }  # expired
        proxy_pass ORIGIN/$hls_prefix/$hls_path;
    }
    location ~ ^/media/s/ { return 403; }  # anything else under the signed-HLS tree

    # One object: /media/<key>?expires=<epoch>&md5=<token>, signed over the whole path.
    location /media/ {
        secure_link $arg_md5,$arg_expires;
        secure_link_md5 "$secure_link_expires$uri $secure_link_secret";
        if ($secure_link = "") { return 403; }
        if ($secure_link = "0") { return 403; }
        rewrite ^/media/(.*)$ /BUCKET/$1 break;
        proxy_pass ENDPOINT;
    }
"""  # noqa: E501 - nginx regexes do not wrap


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Nginx:
    prefix: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def render(port: int, prefix: Path, s3_endpoint: str, bucket: str, secret: str) -> str:
    origin = f"{s3_endpoint}/{bucket}"
    locations = (
        CONTRACT_LOCATIONS.replace("ORIGIN", origin)
        .replace("BUCKET", bucket)
        .replace("ENDPOINT", s3_endpoint)
    )
    temp = "".join(
        f"    {kind}_temp_path {prefix}/tmp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
{temp}
    server {{
        listen 127.0.0.1:{port};
        set $secure_link_secret "{secret}";
{locations}
    }}
}}
"""


def start(prefix: Path, s3_endpoint: str, bucket: str, secret: str, timeout: float = 15) -> Nginx:
    port = _free_port()
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render(port, prefix, s3_endpoint, bucket, secret))
    check = subprocess.run(
        ["nginx", "-t", "-p", str(prefix), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        ["nginx", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # any HTTP answer means it is serving
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"nginx exited: {proc.stderr.read() if proc.stderr else ''}"
                ) from None
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("nginx did not start")
    return Nginx(prefix, port, proc)
