"""The app on a web + worker node: units, hardening, config file, readiness through nginx, and
one real upload -> transcode -> signed playback round trip (PostgreSQL and moto run inside the
test host, see prepare.yml). Every request is made inside the container."""

from __future__ import annotations

import json
import shlex
import time

import pytest

BASE = "http://127.0.0.1"
ADMIN = "admin@example.com"
PASSWORD = "molecule-password-0123"  # noqa: S105 - test account


@pytest.mark.parametrize("service", ["streamapp-api", "streamapp-worker", "nginx", "postgresql"])
def test_services_running_and_enabled(host, service):
    unit = host.service(service)
    assert unit.is_running
    assert unit.is_enabled


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8000", "tcp://0.0.0.0:80"])
def test_listening(host, address):
    assert host.socket(address).is_listening


def test_api_only_on_loopback(host):
    assert not host.socket("tcp://0.0.0.0:8000").is_listening


def test_readyz_through_nginx(get):
    resp = get(f"{BASE}/readyz")
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"].startswith("application/json")


def test_env_file_mode_and_content(host):
    env = host.file("/etc/streamapp/streamapp.env")
    assert (env.user, env.group, env.mode) == ("root", "streamapp", 0o640)
    text = env.content_string
    # ssm mode: values from the outputs parameter, the database password only as a secret ARN.
    assert 'STREAMAPP_MEDIA_BUCKET="stream-test-media"' in text
    assert 'STREAMAPP_DATABASE_PASSWORD_SECRET_ARN="arn:aws:secretsmanager:' in text
    assert "molecule-db-password" not in text
    # The app's own login (db-app), never the master user's secret; TLS checked against the CA
    # bundle the role copied.
    assert "/db-app-" in text and "db-master" not in text
    assert 'STREAMAPP_DATABASE_SSLMODE="verify-full"' in text
    assert 'STREAMAPP_DATABASE_SSLROOTCERT="/etc/streamapp/database-ca.pem"' in text
    ca = host.file("/etc/streamapp/database-ca.pem")
    assert (ca.user, ca.mode) == ("root", 0o644) and "BEGIN CERTIFICATE" in ca.content_string
    assert host.file("/etc/streamapp").mode == 0o750


ENV_FILE = "/etc/streamapp/streamapp.env"
HOST_JSON = json.dumps(
    # What the launch template's user data makes cloud-init write on an EC2 instance.
    {"platform": "stream", "environment": "test", "role": "web", "region": "eu-west-1",
     "parameters": "/stream/test"}
)  # fmt: skip


def test_boot_unit_finds_the_file_the_role_wrote(host):
    """streamapp-boot.service (what an instance launched from a golden image runs before the
    app) renders the environment file from the same outputs with the same code as the role:
    on this host it finds the role's file as it would write it, and leaves it alone."""
    assert host.service("streamapp-boot").is_enabled
    sha = host.file(ENV_FILE).sha256sum
    host.check_output(
        f"mkdir -p /etc/streamstack && echo {shlex.quote(HOST_JSON)} >/etc/streamstack/host.json"
    )
    host.check_output("systemctl restart streamapp-boot.service")
    assert host.service("streamapp-boot").is_running  # oneshot, RemainAfterExit: active
    journal = host.check_output("journalctl -u streamapp-boot --no-pager -o cat")
    assert "read /stream/test/outputs" in journal and f"{ENV_FILE}: unchanged" in journal
    assert host.file(ENV_FILE).sha256sum == sha


def test_processes_run_as_the_service_user(host):
    for unit in ("streamapp-api", "streamapp-worker"):
        pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
        assert host.check_output(f"ps -o user= -p {pid}") == "streamapp"
    assert host.user("streamapp").shell == "/usr/sbin/nologin"


@pytest.mark.parametrize("unit", ["streamapp-api", "streamapp-worker"])
def test_units_are_hardened(host, unit):
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            f"systemctl show {unit} -p NoNewPrivileges -p ProtectSystem -p PrivateTmp "
            "-p ProtectHome -p CapabilityBoundingSet -p Restart -p ReadWritePaths"
        ).splitlines()
    )
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["PrivateTmp"] == "yes"
    assert props["ProtectHome"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert props["Restart"] == "always"
    assert "/var/lib/streamapp" in props["ReadWritePaths"]


@pytest.mark.parametrize("unit, tasks", [("streamapp-api", "512"), ("streamapp-worker", "256")])
def test_units_are_bounded_by_cgroup_limits(host, unit, tasks):
    """Hostile media decoded in a unit cannot take the host's memory, CPU or process table."""
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            f"systemctl show {unit} -p MemoryMax -p CPUQuotaPerSecUSec -p TasksMax -p OOMPolicy"
        ).splitlines()
    )
    total = int(host.file("/proc/meminfo").content_string.split()[1]) * 1024  # MemTotal, kB
    assert props["MemoryMax"] != "infinity" and int(props["MemoryMax"]) < total, props
    assert props["CPUQuotaPerSecUSec"] != "infinity", props
    assert props["TasksMax"] == tasks, props
    assert props["OOMPolicy"] == "continue", props  # an OOM-killed ffmpeg leaves the unit up


def test_code_is_not_writable_by_the_service_user(host):
    assert host.run("runuser -u streamapp -- touch /opt/streamapp/venv/x").rc != 0


def test_migrations_applied(host):
    out = host.check_output(
        "runuser -u postgres -- psql -tA -d streamapp -c 'SELECT version_num FROM alembic_version'"
    )
    assert out.strip()


def test_the_owner_role_owns_the_schema(host):
    """The migration step ran as the owner role: it owns the schema and every table."""
    out = host.check_output(
        'runuser -u postgres -- psql -tA -d streamapp -c "SELECT DISTINCT'
        " pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'\""
    )
    assert out.split() == ["streamapp_owner"]


# Run as the app runs (its user, its environment file): what its own database connection may do.
ATTACK = r"""
import json
from sqlalchemy import text
from streamapp import db
from streamapp.config import get_settings
settings = get_settings()
attacks = {
    "create a table": "CREATE TABLE pwned (x int)",
    "add a column": "ALTER TABLE users ADD COLUMN pwned int",
    "drop a table": "DROP TABLE watch_history",
    "truncate": "TRUNCATE users CASCADE",
    "create a role": "CREATE ROLE attacker LOGIN",
    "read the password hashes": "SELECT count(*) FROM pg_authid",
    "become the owner role": "SET ROLE streamapp_owner",
}
with db.engine(settings).connect() as conn:
    found = dict(conn.execute(text(
        "SELECT current_user AS user, ssl, (SELECT count(*) FROM users) >= 0 AS reads"
        " FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).mappings().one())
for name, statement in attacks.items():
    with db.engine(settings).connect() as conn:
        try:
            conn.execute(text(statement))
            found[name] = "allowed"
        except Exception as error:
            found[name] = type(getattr(error, "orig", error)).__name__
        conn.rollback()
print(json.dumps(found))
"""


def test_the_apps_database_login_is_dml_only_over_verified_tls(host):
    """An attacker with code execution in the API or the worker holds the app's database
    login: PostgreSQL refuses schema changes, roles and the catalog's secrets to it."""
    out = host.check_output(
        "systemd-run --wait --pipe --quiet --collect -p User=streamapp"
        " -p EnvironmentFile=/etc/streamapp/streamapp.env"
        f" /opt/streamapp/venv/bin/python -c {shlex.quote(ATTACK)}"
    )
    found = json.loads(out.splitlines()[-1])
    assert found.pop("user") == "streamapp_app_user"
    assert found.pop("ssl") is True and found.pop("reads") is True
    assert found == dict.fromkeys(found, "InsufficientPrivilege"), found


def test_logs_are_json_lines_readable_by_adm(host, get):
    get(f"{BASE}/readyz")
    log = host.file("/var/log/streamstack/app.log")
    assert log.group == "adm"
    assert log.mode & 0o040
    json.loads(host.check_output("tail -n 1 /var/log/streamstack/app.log"))


def test_the_operators_admin_command_is_root_only(host):
    wrapper = host.file("/usr/local/sbin/streamapp-admin")
    assert (wrapper.user, wrapper.group, wrapper.mode) == ("root", "root", 0o755)
    # systemd-run refuses anyone but root: the service user cannot promote itself.
    assert host.run("runuser -u streamapp -- /usr/local/sbin/streamapp-admin --help").rc != 0
    missing = host.run("/usr/local/sbin/streamapp-admin promote nobody@example.com")
    assert missing.rc == 1 and "no account" in missing.stderr, missing


def _curl(host, *args: str) -> dict:
    out = host.check_output("curl -sS --max-time 30 " + " ".join(shlex.quote(a) for a in args))
    return json.loads(out)


@pytest.fixture(scope="module")
def played(host):
    """Sign up (admin), upload a 2 s clip, wait for the worker, ask for the signed playback."""
    host.check_output(
        "ffmpeg -y -hide_banner -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=25 "
        "-f lavfi -i sine=frequency=440 -t 2 -c:v libx264 -preset ultrafast -c:a aac "
        "-pix_fmt yuv420p /tmp/molecule-clip.mp4"
    )
    body = json.dumps({"email": ADMIN, "password": PASSWORD})
    # The session token is only in the cookie: curl keeps it in a jar.
    jar = "/root/molecule-session-cookies"
    auth = _curl(
        host,
        "-c",
        jar,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        f"{BASE}/api/auth/signup",
    )
    if "user" not in auth:  # a second verify run: the account exists
        auth = _curl(
            host,
            "-c",
            jar,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            f"{BASE}/api/auth/login",
        )
    assert "token" not in auth, auth
    # Signing up made a viewer; the operator's command on the host makes it an admin.
    promoted = json.loads(host.check_output(f"/usr/local/sbin/streamapp-admin promote {ADMIN}"))
    assert promoted["email"] == ADMIN and promoted["role"] == "admin", promoted
    item = _curl(
        host,
        "-b",
        jar,
        "-X",
        "POST",
        "-F",
        "file=@/tmp/molecule-clip.mp4",
        "-F",
        "title=Molecule clip",
        "-F",
        "visibility=public",
        f"{BASE}/api/items",
    )
    assert item.get("status") == "queued", item
    for _ in range(90):  # bounded: 90 s
        item = _curl(host, "-b", jar, f"{BASE}/api/items/{item['id']}")
        if item["status"] in ("ready", "failed"):
            break
        time.sleep(1)
    assert item["status"] == "ready", item
    return _curl(host, "-b", jar, f"{BASE}/api/items/{item['id']}/playback")


def test_signed_playlist_through_nginx(get, played):
    assert played["mode"] == "local"
    assert played["url"].startswith(f"{BASE}/media/s/")
    resp = get(played["url"])
    assert resp.status == 200, resp
    assert resp.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert resp.body.startswith("#EXTM3U")
    rung = next(line for line in resp.body.splitlines() if line and not line.startswith("#"))
    playlist = get(played["url"].rsplit("/", 1)[0] + "/" + rung)
    assert playlist.status == 200
    segment = next(line for line in playlist.body.splitlines() if line.endswith(".ts"))
    seg = get(played["url"].rsplit("/", 1)[0] + "/" + rung.rsplit("/", 1)[0] + "/" + segment)
    assert seg.status == 200
    assert seg.headers["content-type"] == "video/mp2t"


def test_tampered_signature_refused(get, played):
    url = played["url"]
    token = url.split("/media/s/", 1)[1].split("/", 1)[0]
    bad = url.replace(token, ("A" if token[0] != "A" else "B") + token[1:])
    assert get(bad).status == 403


def _memory_cgroup(host, pid: str) -> str:
    line = next(
        x for x in host.file(f"/proc/{pid}/cgroup").content_string.splitlines() if ":memory:" in x
    )
    return line.split(":", 2)[2]


def test_the_app_processes_run_in_a_leaf_of_their_delegated_cgroup(host):
    """Each unit's process moved into <unit>/main at start (streamapp.cgroups), so that its
    media processes can have cgroups of their own beside it."""
    for unit in ("streamapp-api", "streamapp-worker"):
        pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
        assert _memory_cgroup(host, pid) == f"/system.slice/{unit}.service/main", unit


def test_a_file_whose_ffmpeg_outgrows_its_own_cgroup_fails_alone(host, played):
    """The attack: an upload within every cap (4K, 1 s) whose decoding needs ~400 MiB (16
    reference frames). The API's probes and the worker's run each in a cgroup of their own; the
    ladder's ffmpeg meets its own memory.max (app_ffmpeg_memory_max: 200M) and the kernel kills
    it there: the job fails with that reason, the worker keeps running, nothing is published,
    and no media cgroup is left."""
    jar = "/root/molecule-session-cookies"
    host.check_output(
        "ffmpeg -y -hide_banner -nostdin -v error -f lavfi -i testsrc2=size=3840x2160:rate=25 "
        "-t 1 -c:v libx264 -preset ultrafast -refs 16 -x264-params level=6.2 -crf 35 "
        "-pix_fmt yuv420p /tmp/molecule-hungry.mp4"
    )
    worker = host.check_output("systemctl show -p MainPID --value streamapp-worker")
    restarts = host.check_output("systemctl show -p NRestarts --value streamapp-worker")
    # Every running ffmpeg/ffprobe and its memory cgroup, every 50 ms, while the job runs.
    watch = host.check_output(
        "nohup sh -c 'while :; do for p in $(pgrep -x ffmpeg) $(pgrep -x ffprobe); do "
        'echo "$(cat /proc/$p/comm) $(grep :memory: /proc/$p/cgroup)"; done; sleep 0.05; done\' '
        ">/root/molecule-cgroups.log 2>/dev/null </dev/null & echo $!"
    )
    try:
        item = _curl(
            host, "-b", jar, "-X", "POST", "-F", "file=@/tmp/molecule-hungry.mp4",
            "-F", "title=Hungry", "-F", "visibility=private", f"{BASE}/api/items",
        )  # fmt: skip
        assert item.get("status") == "queued", item
        for _ in range(180):  # bounded: 180 s
            item = _curl(host, "-b", jar, f"{BASE}/api/items/{item['id']}")
            if "memory limit" in (item.get("failure_reason") or "") or item["status"] == "ready":
                break
            time.sleep(1)
    finally:
        host.run(f"kill {watch}")
    assert "ffmpeg was killed: it used more than its memory limit (200 MiB)" in (
        item.get("failure_reason") or ""
    ), item
    assert item["status"] in ("queued", "failed") and not item["renditions"], item
    seen = set(host.file("/root/molecule-cgroups.log").content_string.splitlines())
    # (On cgroup v1 a task that is exiting, e.g. just OOM-killed, shows as "/": left out.)
    cgroups = {line.split(":memory:", 1)[1] for line in seen if ":memory:" in line} - {"/"}
    assert cgroups, seen
    assert all("/media-" in c for c in cgroups), seen  # never the unit's cgroup or its leaf
    assert any(c.startswith("/system.slice/streamapp-worker.service/media-") for c in cgroups)
    assert any(c.startswith("/system.slice/streamapp-api.service/media-") for c in cgroups)
    # The worker that reported it is the one that ran it.
    assert host.check_output("systemctl show -p MainPID --value streamapp-worker") == worker
    assert host.check_output("systemctl show -p NRestarts --value streamapp-worker") == restarts
    # The bucket is private: listed with signed requests, as the app's role would.
    listed = host.check_output(
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing /opt/moto/bin/python -c "
        '\'import boto3, sys; print(boto3.client("s3", endpoint_url="http://127.0.0.1:5000", '
        'region_name="eu-west-1").list_objects_v2(Bucket="stream-test-media", '
        'Prefix=sys.argv[1])["KeyCount"])\' ' + f"hls/{item['id']}/"
    )
    assert listed.strip() == "0", listed
    for unit in ("streamapp-api", "streamapp-worker"):
        left = host.check_output(f"ls /sys/fs/cgroup/memory/system.slice/{unit}.service")
        assert "media-" not in left, left
    # No retries in the background of the later tests.
    host.check_output(f"curl -sS -b {jar} -X DELETE {BASE}/api/items/{item['id']}")


def test_boot_unit_writes_the_file_from_ssm_and_restarts_the_app(host, get):
    """With no environment file (a golden image holds none), the boot unit writes it from the
    outputs parameter, byte for byte what the role wrote, and the app serves again."""
    role_file = host.file(ENV_FILE).content_string
    host.check_output(f"rm {ENV_FILE} && systemctl restart streamapp-boot.service")
    assert host.file(ENV_FILE).content_string == role_file
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("root", "streamapp", 0o640)
    for _ in range(60):  # the boot unit restarted the API (try-restart): ready again
        if get(f"{BASE}/readyz").status == 200:
            break
        time.sleep(1)
    assert get(f"{BASE}/readyz").status == 200
    host.check_output("rm /etc/streamstack/host.json")


def test_no_failed_units(host):
    assert host.check_output("systemctl --failed --no-legend --plain") == ""
