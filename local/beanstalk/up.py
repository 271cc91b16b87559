"""`make up UP_HOSTING=beanstalk`: the local platform with the app on Elastic Beanstalk's STAND-IN
(local/beanstalk/) instead of the Auto Scaling groups' hosts. local/up.py runs these steps
after its own first ones (emulator and PostgreSQL, provisioning with app_hosting: beanstalk,
the database's master password):

 1. the stand-in image (local/beanstalk/image.py, cached), built while provisioning runs
 2. the stand-in daemon (python -m local.beanstalk): an instance for each Ready environment of
    the application, the bundle provisioning built and registered deployed onto it, the web
    instance registered in its environment's target group on the shared ALB; the environments'
    properties with the local platform's overlay (the database: the controller's PostgreSQL)
 3. the app's database roles, login and schema: playbooks/beanstalk_migrate.yml, as on AWS
    (streamapp-migrate with the master user's credentials on stdin, on a web instance; the
    local inventory reaches it with podman where AWS's uses Session Manager)
 4. the "ALB": haproxy on 127.0.0.1 following the web environment's target group, and in
    front of it for the media paths CloudFront's stand-in: the emulator's edge of the
    distribution, which checks the app's signed URLs against the trusted key group
 5. the demo's accounts and samples through it; the samples are transcoded by the worker
    environment's instance (its SQS daemon stand-in posts each job to the app), then played
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from local import seed
from local.alb import controller as alb
from local.beanstalk import controller as standin
from local.beanstalk.instances import Instances
from local.hosts.fleet import CONTROLLER_ADDRESS

if TYPE_CHECKING:
    from local.up import Platform

# The properties' file on an instance (the engine's): how an operator's command gets them.
ENV_FILE = "/opt/elasticbeanstalk/deployment/env"


def build_image(p: Platform) -> subprocess.Popen[bytes]:
    p.step("Elastic Beanstalk stand-in image (in the background, while provisioning runs)")
    log = open(p.state / "standin-image.log", "wb")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, "-m", "local.beanstalk.image", "build"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for_image(p: Platform, build: subprocess.Popen[bytes]) -> None:
    log = (p.state / "standin-image.log").read_text
    if build.wait() != 0:
        print(log(), file=sys.stderr)
        raise RuntimeError("building the Elastic Beanstalk stand-in image failed")
    print(f"    image: {log().strip().splitlines()[-1]}", flush=True)


def web_properties(p: Platform, aws: Any) -> dict[str, str]:
    """The web environment's properties (aws:elasticbeanstalk:application:environment)."""
    (settings,) = aws("elasticbeanstalk").describe_configuration_settings(
        ApplicationName=p.prefix, EnvironmentName=f"{p.prefix}-web"
    )["ConfigurationSettings"]
    return {
        o["OptionName"]: o.get("Value", "")
        for o in settings["OptionSettings"]
        if o["Namespace"] == "aws:elasticbeanstalk:application:environment"
    }


def overlay(p: Platform, aws: Any) -> dict[str, str]:
    """What differs on this machine: the database's address (the emulated RDS endpoint serves
    nothing) is the controller's PostgreSQL, with the login the environments name; viewers reach
    the distribution at the load balancer's origin, whose media paths go to the emulator's edge
    of it (start_load_balancer), so the app signs its CloudFront URLs for that origin."""
    parts = urlsplit(web_properties(p, aws)["STREAMAPP_DATABASE_URL"])
    user = parts.netloc.rsplit("@", 1)[0]
    netloc = f"{user}@{CONTROLLER_ADDRESS}:{p.postgres.port}"
    return {
        "STREAMAPP_DATABASE_URL": urlunsplit(parts._replace(netloc=netloc)),
        "STREAMAPP_CLOUDFRONT_DOMAIN": p.url,
    }


def start_instances(p: Platform, aws: Any) -> list[Any]:
    p.step(f"Elastic Beanstalk stand-in: instances of {p.prefix}'s environments (podman)")
    state = p.state / "beanstalk"
    state.mkdir(parents=True, exist_ok=True)
    overlay_file = state / "overlay.json"
    overlay_file.write_text(json.dumps(overlay(p, aws), indent=2))
    if standin.start(
        state,
        fleet=p.settings.fleet,
        application=p.prefix,
        overlay=overlay_file,
        database_ca=p.postgres.ca_file,
    ):
        raise RuntimeError("the Elastic Beanstalk stand-in did not start")
    instances = Instances(p.settings.fleet, aws, p.endpoint, state)
    deadline = time.monotonic() + 900
    wanted = {f"{p.prefix}-web", f"{p.prefix}-worker"}
    fleet = state / "fleet.json"
    while True:
        hosts = instances.running()
        serving = {h.environment for h in hosts}
        tg = fleet.is_file() and json.loads(fleet.read_text()).get("target_group_arn")
        web = [h for h in hosts if h.tier == "web"]
        if wanted <= serving and tg and web and _target_healthy(aws, tg, web[0].instance_id):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no stand-in instances for {sorted(wanted - serving)} within 900 s; "
                f"see {state / 'beanstalk.log'}"
            )
        time.sleep(2)
    for h in hosts:
        port = f"127.0.0.1:{h.port}" if h.port else ""
        print(
            f"    {h.name:<28} {h.tier:<7} {h.instance_id:<21} {port:<16} {h.version}", flush=True
        )
    return hosts


def _target_healthy(aws: Any, group: str, instance_id: str) -> bool:
    found = aws("elbv2").describe_target_health(
        TargetGroupArn=group, Targets=[{"Id": instance_id}]
    )["TargetHealthDescriptions"]
    return bool(found) and found[0]["TargetHealth"]["State"] == "healthy"


def operator_command(host: str, *argv: str) -> list[str]:
    """A command of the app's on an instance as its processes run (a transient unit: user
    webapp, the environment's properties, the instance's metadata service and AWS network from
    systemd's environment; the venv's bin first on PATH), stdin and stdout piped."""
    command = " ".join(shlex.quote(a) for a in argv)
    return [
        "podman", "exec", "-i", host, "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
        "-p", "User=webapp", "-p", f"EnvironmentFile={ENV_FILE}",
        "-p", "WorkingDirectory=/var/app/current", "/bin/sh", "-c", f"exec {command} \"$@\"", "sh",
    ]  # fmt: skip


def start_load_balancer(p: Platform, aws: Any) -> None:
    """haproxy following the web environment's target group, CloudFront's STAND-IN in front of
    it for the media paths: the emulator's edge of the distribution checks their signed URLs
    (trusted key group) and reads the bucket through the origin access control."""
    port = int(p.url.rsplit(":", 1)[1])
    p.step(f"Load balancer on {p.url} (haproxy following the web environment's target group)")
    properties = web_properties(p, aws)
    domain = properties["STREAMAPP_CLOUDFRONT_DOMAIN"]
    edge = f"{p.endpoint}/moto-api/fidelity/cloudfront-edge/{domain}"
    paths = tuple(
        "/" + properties[name].strip("/") + "/"
        for name in ("STREAMAPP_HLS_PREFIX", "STREAMAPP_THUMBS_PREFIX")
    )
    state = p.state / "beanstalk"
    if alb.start(p.state, port, state / "fleet.json", 120, media_edge=edge, media_paths=paths):
        raise RuntimeError("the load balancer found no healthy web instance")


def seed_samples(p: Platform, hosts: list[Any]) -> dict[str, Any]:
    p.step("Seed: demo accounts, a sample video and song (transcoded by the worker environment)")
    web = next(h.name for h in hosts if h.tier == "web")
    # Played: the app's CloudFront URLs, through the load balancer's edge of the distribution.
    seeded = seed.seed(p.url, p.state, 600, operator_command(web, "streamapp-admin"))
    (p.state / "seed.json").write_text(json.dumps(seeded) + "\n")
    return seeded
