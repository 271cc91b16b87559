"""The emulated Elastic Beanstalk environments of an application, played by STAND-IN instances
(local/beanstalk/instances.py): one pass of ``Environments.reconcile()`` compares each
environment Elastic Beanstalk reports with the hosts that run it and starts what differs, as
the platform would:

- an environment that is Ready (or Updating) with a deployed version and fewer hosts than its
  capacity (``aws:autoscaling:asg`` MinSize) gets new instances of that version and platform;
- hosts of another version label or platform version (a deployment, a managed platform update)
  are replaced **rolling with an additional batch**: the new instances are launched, deployed
  and healthy first (a web instance: registered in the environment's target group and
  ``healthy`` there), then the old ones leave (deregistered, drained for the process's
  DeregistrationDelay, removed, their instances terminated);
- the hosts of an environment that is gone (terminated) are removed.

One operation per environment runs at a time, in a thread of its own; each pass writes the
state the local load balancer reads (``fleet.json``: the web hosts' published ports and the web
environment's target group, local/alb/controller.py's format).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.beanstalk.instances import Host, Instances, Spec

PROCESS = "aws:elasticbeanstalk:environment:process:default"


@dataclass
class Environments:
    instances: Instances
    application: str
    overlay: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] = print
    _busy: dict[str, threading.Thread] = field(default_factory=dict, init=False)
    _groups: dict[str, str] = field(default_factory=dict, init=False)  # env -> target group

    @property
    def aws(self) -> Callable[[str], Any]:
        return self.instances.aws

    @property
    def state_file(self) -> Path:
        return self.instances.state / "fleet.json"

    def reconcile(self) -> list[str]:
        """One pass; what it started."""
        envs = self.aws("elasticbeanstalk").describe_environments(
            ApplicationName=self.application, IncludeDeleted=False
        )["Environments"]
        alive = {e["EnvironmentName"]: e for e in envs if e["Status"] != "Terminated"}
        hosts = self.instances.running()
        done = []
        for host in hosts:
            if host.environment not in alive and host.environment not in self._busy:
                self._start(host.environment, self._retire, host.environment, [host])
                done.append(f"{host.name}: its environment is gone, removing it")
        for name, env in sorted(alive.items()):
            if env["Status"] not in ("Ready", "Updating") or not env.get("VersionLabel"):
                continue
            if name in self._busy:
                continue
            mine = [h for h in hosts if h.environment == name]
            stale = [
                h for h in mine
                if (h.version, h.platform) != (env["VersionLabel"], env["PlatformArn"])
            ]  # fmt: skip
            spec = Spec.of_environment(self.aws, name)
            wanted = max(int(spec.option("aws:autoscaling:asg", "MinSize", "1") or 1), 1)
            if len(mine) - len(stale) < wanted or stale:
                self._start(name, self._roll, spec, mine, stale, wanted)
                done.append(
                    f"{name}: {len(stale)} of {len(mine)} hosts to replace, "
                    f"{wanted} wanted on {env['VersionLabel']} "
                    f"(platform {env['PlatformArn'].rsplit('/', 1)[-1]})"
                )
        self._save()
        return done

    def idle(self) -> bool:
        return not any(t.is_alive() for t in self._busy.values())

    def join(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._busy.values()):
            thread.join(max(deadline - time.monotonic(), 0.1))

    # -- operations ------------------------------------------------------------------------
    def _start(self, env: str, target: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except Exception as exc:  # the next pass tries again
                self.log(f"{env}: {type(exc).__name__}: {exc}")
            finally:
                self._busy.pop(env, None)
                self._save()

        thread = threading.Thread(target=run, name=f"eb-{env}", daemon=True)
        self._busy[env] = thread
        thread.start()

    def _roll(self, spec: Spec, mine: list[Host], stale: list[Host], wanted: int) -> None:
        """Rolling with an additional batch: new instances up and healthy, then the old go."""
        started = time.monotonic()
        keep = len(mine) - len(stale)
        new = [self.instances.launch(spec, self.overlay) for _ in range(max(wanted - keep, 0))]
        group = self._target_group(spec) if spec.tier == "web" else None
        for host in new:
            self._admit(host, spec, group)
        self._save()
        self._retire(spec.environment, stale, spec, group)
        self.log(
            f"{spec.environment}: {len(new)} new on {spec.version_label}, {len(stale)} replaced "
            f"in {time.monotonic() - started:.0f} s"
        )

    def _admit(self, host: Host, spec: Spec, group: str | None) -> None:
        """Healthy itself, then (web) registered and healthy in the target group."""
        self.instances.healthy(host, spec.health_check_path or "/", timeout=180)
        if group is None:
            return
        self._declare({host.instance_id: {"80": f"127.0.0.1:{host.port}"}})
        elbv2 = self.aws("elbv2")
        elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": host.instance_id}])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            (found,) = elbv2.describe_target_health(
                TargetGroupArn=group, Targets=[{"Id": host.instance_id}]
            )["TargetHealthDescriptions"]
            if found["TargetHealth"]["State"] == "healthy":
                return
            time.sleep(1)
        raise TimeoutError(f"{host.name} not healthy in its target group within 120 s")

    def _retire(
        self, env: str, hosts: list[Host], spec: Spec | None = None, group: str | None = None
    ) -> None:
        """Deregistered and drained (web), then removed with their instances."""
        if not hosts:
            return
        if group:
            elbv2 = self.aws("elbv2")
            targets = [{"Id": h.instance_id} for h in hosts]
            elbv2.deregister_targets(TargetGroupArn=group, Targets=targets)
            delay = float(spec.option(PROCESS, "DeregistrationDelay", "20") if spec else 20)
            deadline = time.monotonic() + delay + 10
            while time.monotonic() < deadline:
                found = elbv2.describe_target_health(TargetGroupArn=group, Targets=targets)
                states = {d["TargetHealth"]["State"] for d in found["TargetHealthDescriptions"]}
                if states <= {"unused"}:
                    break
                time.sleep(1)
        for host in hosts:
            if host.port:
                self._declare({host.instance_id: None})
            self.instances.remove(host)
            self.log(f"{env}: {host.name} ({host.instance_id}, {host.version}) removed")

    # -- what the load balancer reads --------------------------------------------------------
    def _target_group(self, spec: Spec) -> str | None:
        """The environment's target group (on the shared load balancer), found by its tags."""
        if spec.environment in self._groups:
            return self._groups[spec.environment]
        elbv2 = self.aws("elbv2")
        arns = [g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]]
        for start in range(0, len(arns), 20):
            for described in elbv2.describe_tags(ResourceArns=arns[start : start + 20])[
                "TagDescriptions"
            ]:
                tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
                if tags.get("elasticbeanstalk:environment-name") == spec.environment:
                    self._groups[spec.environment] = described["ResourceArn"]
                    return described["ResourceArn"]
        return None

    def _save(self) -> None:
        hosts = {
            h.name: {"role": h.tier, "container": h.name, "instance_id": h.instance_id,
                     "port": h.port, "environment": h.environment, "version": h.version}
            for h in self.instances.running()
        }  # fmt: skip
        groups = sorted(self._groups.values())
        state = {"hosts": hosts, "target_group_arn": groups[0] if groups else None}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        tmp.replace(self.state_file)

    def _declare(self, hosts: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.instances.emulator_endpoint}/moto-api/fidelity/hosts",
            data=json.dumps(hosts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
