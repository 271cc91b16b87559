"""The local load balancer (local/alb/haproxy.py): haproxy's pool follows the emulator's
target group (ready / drain / maint), and the load generator counts what fails."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator

import pytest

from local.alb.haproxy import LoadBalancer, LoadGenerator


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.server_address[1].to_bytes(4, "big")  # type: ignore[union-attr]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, *_args: object) -> None:
        pass  # haproxy's health checks hang up early; not an error here


@pytest.fixture
def backends() -> Iterator[list[int]]:
    servers = [_Server(("127.0.0.1", 0), _Handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [s.server_address[1] for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def target_group(aws) -> dict[str, object]:
    ec2, elb = aws("ec2"), aws("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.93.1.0/24")["Subnet"]["SubnetId"]
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-03cf127a", MinCount=2, MaxCount=2, SubnetId=subnet)[
            "Instances"
        ]
    ]
    arn = elb.create_target_group(
        Name=f"lbtest-{uuid.uuid4().hex[:8]}",
        Protocol="HTTP",
        Port=80,
        VpcId=vpc,
        HealthCheckPath="/healthz",
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}],
    )
    return {"arn": arn, "ids": ids}


def test_pool_follows_the_target_group(aws, target_group, backends, tmp_path):
    first, second = target_group["ids"]
    elb = aws("elbv2")
    lb = LoadBalancer(
        name="lbtest",
        state_dir=tmp_path / "lb",
        servers={first: ("127.0.0.1", backends[0]), second: ("127.0.0.1", backends[1])},
        target_group_arn=target_group["arn"],
        elbv2=elb,
    )
    with lb:
        # haproxy checks what the target group's health check names.
        assert "uri /healthz " in (tmp_path / "lb" / "haproxy.cfg").read_text()
        # Nothing registered yet: both servers in maintenance.
        assert {s["admin"] for s in lb.server_states().values()} == {"maint"}
        elb.register_targets(TargetGroupArn=target_group["arn"], Targets=[{"Id": first}])
        lb.wait_until(lambda s: s[first] == {"admin": "ready", "up": "yes"}, timeout=10)
        assert lb.server_states()[second]["admin"] == "maint"
        elb.register_targets(TargetGroupArn=target_group["arn"], Targets=[{"Id": second}])
        lb.wait_until(lambda s: all(v["up"] == "yes" for v in s.values()), timeout=10)

        with LoadGenerator(lb.url, ("/",), threads=2, rate=50, max_requests=60) as load:
            lb.wait_until(lambda _s: load.result.sent >= 60, timeout=10)
        assert load.result.failures == []
        assert set(load.result.served_by) == {first, second}

        elb.deregister_targets(TargetGroupArn=target_group["arn"], Targets=[{"Id": first}])
        lb.wait_until(lambda s: s[first]["admin"] == "drain", timeout=5)
        lb.wait_until(lambda s: s[first]["admin"] == "maint", timeout=10)
        with LoadGenerator(lb.url, ("/",), threads=2, rate=50, max_requests=20) as load:
            lb.wait_until(lambda _s: load.result.sent >= 20, timeout=10)
        assert load.result.failures == []
        assert set(load.result.served_by) == {second}
        # The controller saw every transition, in order.
        assert [state for _t, target, state in lb.events if target == first] == [
            "maint",
            "ready",
            "drain",
            "maint",
        ]
        assert lb.errors == []
    assert not (tmp_path / "lb" / "pid").exists()


def test_pool_takes_in_the_servers_that_appear_and_lets_gone_ones_go(
    aws, target_group, backends, tmp_path
):
    """With ``discover`` (what the local platform's hosts are now), haproxy starts with no
    server, takes in a host that appears (an instance the Auto Scaling group launched) and
    deletes one that is gone, without a reload."""
    first, second = target_group["ids"]
    elb = aws("elbv2")
    hosts: dict[str, tuple[str, int]] = {}
    lb = LoadBalancer(
        name="lbtest",
        state_dir=tmp_path / "lb",
        servers={},
        target_group_arn=target_group["arn"],
        elbv2=elb,
        discover=lambda: dict(hosts),
    )
    with lb:
        pid = (tmp_path / "lb" / "pid").read_text()
        assert lb.server_states() == {}
        elb.register_targets(
            TargetGroupArn=target_group["arn"], Targets=[{"Id": first}, {"Id": second}]
        )
        hosts[first] = ("127.0.0.1", backends[0])
        lb.wait_until(lambda s: s.get(first) == {"admin": "ready", "up": "yes"}, timeout=10)
        hosts[second] = ("127.0.0.1", backends[1])
        lb.wait_until(lambda s: s.get(second) == {"admin": "ready", "up": "yes"}, timeout=10)
        with LoadGenerator(lb.url, ("/",), threads=2, rate=50, max_requests=40) as load:
            lb.wait_until(lambda _s: load.result.sent >= 40, timeout=10)
        assert load.result.failures == []
        assert set(load.result.served_by) == {first, second}
        del hosts[first]
        lb.wait_until(lambda s: first not in s, timeout=10)
        assert [state for _t, target, state in lb.events if target == first] == [
            "added",
            "ready",
            "removed",
        ]
        with pytest.raises(ValueError, match="loopback"):
            lb._follow_servers({second: ("192.0.2.1", 80)})
        assert (tmp_path / "lb" / "pid").read_text() == pid  # the same haproxy throughout
        assert lb.errors == []


def test_load_generator_refuses_other_networks():
    with pytest.raises(ValueError, match="loopback"):
        LoadGenerator("http://192.0.2.1:80")


def test_load_generator_counts_failures(tmp_path):
    # Nothing listens on this port: every request fails, and the bounds stop it.
    with LoadGenerator("http://127.0.0.1:9", threads=1, rate=100, max_requests=5) as load:
        threading.Event().wait(0.5)
    assert load.result.sent == 5
    assert len(load.result.failures) == 5
