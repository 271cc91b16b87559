"""Rolling patching (playbooks/patch.yml) on podman hosts converged with the roles, behind a local
load balancer whose pool follows the emulator's target group (local/alb/haproxy.py).

One module-scoped fleet (3 web + 1 worker, platform `patchtest`; started from the make-up
suite's baked hosts when they match the sources) serves every test, in file order: preflight,
check mode, the zero-downtime patch under load, a second run that changes nothing, and last the
fault (a host whose app does not come back). What there is to patch comes from a test apt
repository (local/hosts/patching.py): a security update of a library the app's units have
loaded, and a non-security update of another package.
"""

from __future__ import annotations

import contextlib
import time

import boto3
import pytest
from botocore.config import Config

from local.alb.haproxy import LoadBalancer, LoadGenerator
from local.hosts import bake as hostbake
from local.hosts.fleet import Fleet
from local.hosts.patching import EXTRA, PATCH, PROBE, PatchFleet
from tests.conftest import ROOT
from tests.harness import ci_roles

pytestmark = [pytest.mark.podman, pytest.mark.slow]

NAME = "patchtest"
HOSTS = {"web-1": "web", "web-2": "web", "web-3": "web", "worker-1": "worker"}
WEB = [h for h, r in HOSTS.items() if r == "web"]
# Bounds of every load run: requests, seconds.
LOAD = {"threads": 4, "rate": 25.0, "max_requests": 10000, "max_seconds": 300.0}
# Provision, configure, the plan and the second patch run go through the emulator's realistic
# mode: AWS's timings at 1/360 (RDS creating 2 s), eventual consistency, 5 % of the requests
# throttled or failing (this seed's). Not the runs under load: the app's own calls would fail
# too (it retries 3 times, as it should with its short timeouts).
REALISTIC = {"scale": 1 / 360, "fault_rate": 0.05, "seed": 23}


@contextlib.contextmanager
def realistic(emulator, what: str):
    """The realistic mode for one step; prints the faults it gave."""
    emulator.realistic(**REALISTIC)
    try:
        yield
        faults = emulator.realistic_state()["faults"]
        print(f"{what} in the realistic mode {REALISTIC}: faults given {faults}")
    finally:
        emulator.realistic(0, 0)


@pytest.fixture(scope="module")
def pf(aws, emulator, postgres, host_image):
    work = ROOT / ".cache" / "patchtest" / str(id(emulator))
    fleet = Fleet(NAME, HOSTS, state_dir=work / "fleet")
    fleet.remove()  # containers a crashed run left behind
    # The hosts tests/local/test_make_up.py baked, when they match the current sources:
    # configure.yml still converges them in full to this platform's settings, with less left to do.
    fleet.images = hostbake.images(roles=set(HOSTS.values()), repo=hostbake.TEST_REPO)
    # Provision, configure and patch as CI's deploy job of this environment (IAM enforced).
    deploy = ci_roles.bootstrap(NAME, emulator.endpoint).deploy
    patch_fleet = PatchFleet(fleet, NAME, work, aws, emulator.endpoint, postgres, aws_env=deploy)
    try:
        with realistic(emulator, "provision and configure"):
            patch_fleet.up()
        yield patch_fleet
    finally:
        patch_fleet.remove()
    assert fleet.containers() == {}


@pytest.fixture(scope="module")
def lb(pf, emulator, tmp_path_factory):
    ids, ports = pf.fleet.instance_ids(), pf.fleet.ports()
    balancer = LoadBalancer(
        name=NAME,
        state_dir=tmp_path_factory.mktemp("lb"),
        servers={ids[h]: ("127.0.0.1", ports[h]) for h in WEB},
        target_group_arn=pf.target_group_arn(),
        # It plays the ALB, which follows its targets' health without API throttling.
        elbv2=boto3.client(
            "elbv2",
            region_name=emulator.region,
            endpoint_url=emulator.endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 10}),
        ),
    )
    with balancer:
        balancer.wait_until(
            lambda s: all(v == {"admin": "ready", "up": "yes"} for v in s.values()), timeout=60
        )
        yield balancer
    assert balancer.errors == []


def ids_of(pf: PatchFleet, hosts: list[str]) -> list[str]:
    ids = pf.fleet.instance_ids()
    return [ids[h] for h in hosts]


def plan_messages(result) -> dict[str, str]:
    return {
        host: res.get("msg", "")
        for name, host, res in result.task_results()
        if name == "Plan | What this host would get"
    }


BAD_INPUTS = {
    "upgrade choice": ({"patch_upgrade": "everything"}, "patch_upgrade"),
    "serial zero": ({"patch_serial": 0}, "patch_serial must be a positive number"),
    "failure percentage": ({"patch_max_fail_percentage": 150}, "patch_max_fail_percentage 0-100"),
    "reboot not a boolean": ({"patch_reboot": "maybe"}, "patch_reboot"),
    "no such target group": ({"patch_target_group_names": ["nope"]}, "target group(s) nope"),
    "negative healthy minimum": (
        {"patch_min_healthy_targets": -1},
        "patch_apt_lock_timeout and patch_min_healthy_targets 0 or more",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_preflight_rejects_bad_inputs(pf, case):
    extra_vars, words = BAD_INPUTS[case]
    result = pf.playbook(PATCH, extra_vars=extra_vars)
    assert not result.ok
    assert words in result.messages(), result.messages()
    names = {name for name, _host, _res in result.task_results()}
    assert not any(name.startswith(("Plan |", "Apply |")) for name in names)
    assert {pf.package_version(h) for h in HOSTS} == {"1.0"}


def test_check_mode_lists_the_upgrades_and_changes_nothing(pf, lb, emulator):
    first_event = len(lb.events)
    with realistic(emulator, "patch --check"):
        result = pf.playbook(PATCH, check=True)
    assert result.ok, result.messages()
    plans = plan_messages(result)
    assert set(plans) == {pf.fleet.container(h) for h in HOSTS}
    for msg in plans.values():
        assert (
            f"1 package(s) to upgrade (security, 1 other update(s) left out): {PROBE} 1.0 -> 1.1"
            in msg
        )
        assert "Would patch it." in msg
    assert result.changed == len(HOSTS)  # one "would patch" per host, nothing else
    # Ad hoc: one host, every update.
    one = pf.playbook(
        PATCH, check=True, limit=pf.fleet.container("web-1"), extra_vars={"patch_upgrade": "all"}
    )
    assert one.ok, one.messages()
    (msg,) = plan_messages(one).values()
    assert f"{EXTRA} 1.0 -> 1.1" in msg and f"{PROBE} 1.0 -> 1.1" in msg
    # Nothing changed: versions, the target group, the pool.
    assert {pf.package_version(h) for h in HOSTS} == {"1.0"}
    assert set(pf.target_states().values()) == {"healthy"}
    assert {tuple(v.values()) for v in lb.server_states().values()} == {("ready", "yes")}
    assert lb.events[first_event:] == []


def test_rolling_patch_serves_every_request(pf, lb):
    api_pids = {h: pf.main_pid(h, "streamapp-api.service") for h in WEB}
    worker_pid = pf.main_pid("worker-1", "streamapp-worker.service")
    first_event = len(lb.events)
    started = time.monotonic()
    with LoadGenerator(lb.url, **LOAD) as load:
        result = pf.playbook(PATCH, extra_vars={"patch_serial": 1})
        time.sleep(1)  # requests after the last host is back
    seconds = time.monotonic() - started
    assert result.ok, result.messages()
    assert load.result.failures == [], load.result.summary()
    assert load.result.sent >= 10 * seconds, load.result.summary()
    assert set(load.result.served_by) == set(ids_of(pf, WEB)), load.result.summary()

    # The security update is in, the other one is not; the app's units were restarted (they
    # had the replaced library loaded), and every web host is back in the target group.
    assert {h: pf.package_version(h) for h in HOSTS} == dict.fromkeys(HOSTS, "1.1")
    assert {pf.package_version(h, EXTRA) for h in HOSTS} == {"1.0"}
    assert all(pf.main_pid(h, "streamapp-api.service") != api_pids[h] for h in WEB)
    assert pf.main_pid("worker-1", "streamapp-worker.service") != worker_pid
    assert pf.target_states() == dict.fromkeys(ids_of(pf, WEB), "healthy")

    # The pool followed: each web host drained, left and came back, one at a time.
    events = lb.events[first_event:]
    for instance_id in ids_of(pf, WEB):
        assert [s for _t, i, s in events if i == instance_id] == ["drain", "maint", "ready"]
    out = set()
    for _t, instance_id, state in events:
        (out.discard if state == "ready" else out.add)(instance_id)
        assert len(out) <= 1, events
    print(f"patched {len(HOSTS)} hosts in {seconds:.0f} s; load: {load.result.summary()}")


def test_second_run_changes_nothing(pf, lb, emulator):
    with realistic(emulator, "patch again"):
        result = pf.playbook(PATCH, extra_vars={"patch_serial": 2})
    assert result.ok, result.messages()
    assert result.changed == 0, result.changed_tasks()
    assert all("Nothing to do." in msg for msg in plan_messages(result).values())


def test_batch_that_would_empty_the_target_group_is_refused(pf, lb):
    """All web hosts in one batch would leave nobody to serve: refused before deregistering."""
    pf.repo.publish_probe("1.2")
    first_event = len(lb.events)
    result = pf.playbook(
        PATCH,
        extra_vars={"patch_serial": 3},
        limit=",".join(pf.fleet.container(h) for h in WEB),
    )
    assert not result.ok
    messages = result.messages()
    assert f"{NAME}-local-web would keep 0 healthy target(s)" in messages, messages
    assert "Use a smaller patch_serial" in messages, messages
    # Nothing was touched: versions, the target group, the pool.
    assert {pf.package_version(h) for h in WEB} == {"1.1"}
    assert set(pf.target_states().values()) == {"healthy"} and len(pf.target_states()) == 3
    assert lb.events[first_event:] == []


def test_failed_host_stops_the_play_and_stays_out_of_the_pool(pf, lb):
    """Last: web-2's app will not come back after its restart (a wrong database URL)."""
    pf.repo.publish_probe("1.2")
    pf.break_app("web-2")
    victim = pf.fleet.instance_ids()["web-2"]
    with LoadGenerator(lb.url, **LOAD) as load:
        result = pf.playbook(
            PATCH,
            extra_vars={"patch_serial": 1, "patch_readyz_retries": 6, "patch_readyz_delay": 2},
        )
        time.sleep(1)
    assert not result.ok
    # The others kept serving every request.
    assert load.result.failures == [], load.result.summary()
    assert set(load.result.served_by) == set(ids_of(pf, WEB)), load.result.summary()

    # The run says which host failed, at which step and why.
    messages = result.messages()
    host = pf.fleet.container("web-2")
    assert f"PATCH FAILED on {host} ({victim})" in messages, messages
    assert 'step "Rejoin | Wait until the app is ready' in messages, messages
    assert "Status code was 503" in messages, messages
    assert f"stays deregistered from {NAME}-local-web" in messages, messages
    assert '/readyz answered: {"status":"unavailable","checks":{"database":{"ok":false' in messages
    # The play stopped there: web-3 and the worker were not touched.
    versions = {h: pf.package_version(h) for h in HOSTS}
    assert versions == {"web-1": "1.2", "web-2": "1.2", "web-3": "1.1", "worker-1": "1.1"}

    # The failed host is out of the target group and of the pool; the others are in.
    states = pf.target_states()
    assert victim not in states
    assert set(states.values()) == {"healthy"} and len(states) == 2
    pool = lb.wait_until(lambda s: s[victim]["admin"] == "maint", timeout=5)
    assert all(v["admin"] == "ready" for i, v in pool.items() if i != victim)


def test_the_fleet_was_provisioned_configured_and_patched_as_ci(pf, emulator):
    """Every run above was CI's deploy job of this environment (tests/harness/ci_roles.py): the
    emulator decided its calls as the deploy role's, refusing none."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/fidelity/iam", timeout=10) as r:
        decisions = json.loads(r.read())
    role = f"assumed-role/ci-deploy-{NAME}-local/"
    deploy = [d for d in decisions if role in d["principal"]]
    assert deploy, {d["principal"] for d in decisions}
    assert [d for d in deploy if not d["allowed"]] == []
