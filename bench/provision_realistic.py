"""First provision in the emulator's realistic mode beside its critical path and the naive
sequential sum (issue 17 part 2), in one run on this machine.

- ours: the wall time of playbooks/provision.yml's first run on a fresh emulator in the
  realistic mode (AWS's durations at --scale, eventual consistency, --fault-rate faults).
- the critical path: the longest chain of steps that need each other (provision_plan.yml's
  `needs`; the lanes' order is ours, not AWS's), each step weighing what AWS makes a first run
  wait for there (WAITS below, the durations the emulator itself plays, read from it), API calls
  weighing nothing. No tool can provision these resources faster.
- the naive sequential sum: every resource waited for in turn, those nothing waits for too
  (SETTLES: a load balancer provisioning, a distribution deploying, instances pending).

It also draws the measured run (docs/provision_timeline.svg): one row per lane, each step from
the moment it could start (what it needs was done) to its end, its wait for them before.

    .venv/bin/python bench/provision_realistic.py [--scale 1] [--fault-rate 0.05] [--seed 17]
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.streamstack.aws.plugins.filter.hosted_plan import (  # noqa: E402
    hosted_plan,
)

from local import prepared_account  # noqa: E402
from local.ansible import run_playbook  # noqa: E402
from local.emulator import Emulator, operator_client  # noqa: E402

PROVISION = ROOT / "playbooks" / "provision.yml"
PLAN = ROOT / "playbooks" / "provision" / "vars" / "provision_plan.yml"
SVG = ROOT / "docs" / "provision_timeline.svg"
# What a first run waits for in each step, as the emulator's duration (or consistency window)
# names: the step's dependents cannot start before it is over.
WAITS = {
    "vpc_subnets_and_routes:subnets": ["ec2.new_resource_id"],  # NotFound for a moment
    "vpc_subnets_and_routes:routes": ["ec2.nat_gateway.pending"],  # one gateway (single mode)
    "ec2_security_group": ["ec2.new_resource_id"],
    "rds": ["rds.db_instance.creating"],  # rds:serving waits for it
    "dynamodb": ["dynamodb.table.continuous_backups_unavailable"],  # PITR retried until then
    "iam": ["iam.instance_profile"],  # Auto Scaling refuses the profile until then
    # app_hosting: beanstalk (this bench runs the EC2 path: plan() leaves these out).
    "beanstalk:environments": ["elasticbeanstalk.environment.launching"],  # waited for Ready
}
# What AWS finishes later without anything of ours waiting for it (counted in the naive sum).
SETTLES = {
    "elb": ["elbv2.load_balancer.provisioning"],
    "cloudfront_distribution": ["cloudfront.distribution.deploying"],
    "autoscaling:web+worker": ["autoscaling.instance.pending", "autoscaling.instance.pending"],
}
# Steps whose calls AWS answers at once and which nothing has to wait for afterwards.
NO_WAIT = {
    "rds:serving",
    "ssm_parameter",
    "cloudfront_signing",
    "cloudfront_response_headers_policy",
    "wafv2_web_acl",
    "s3_bucket_policy",
    "cloudwatchlogs_delivery",
    "wafv2_web_acl:retire",
    "secretsmanager",
    "sqs",
    "ec2_launch_template:ami",
    "cloudwatch_logs",
    "sns",
    "ec2_launch_template:web+worker",
    "s3",
    "ec2_vpc_flow_log",
    "route53",
    "cloudwatch_alarms:service+load_balancer",
    "beanstalk:store",
    "beanstalk:version",
    "beanstalk:origin_guard",
}


def plan(hosting: str = "ec2") -> tuple[list[str], dict[str, dict]]:
    """The lanes, and each step of this app_hosting with its lane and needs, as the run has
    them (streamstack.aws.hosted_plan: the other hosting's steps and the needs on them left out)."""
    hosted = hosted_plan(yaml.safe_load(PLAN.read_text())["provision_plan"], hosting)
    steps = {
        entry["step"]: {"lane": lane, "needs": entry.get("needs", [])}
        for lane, listed in hosted.items()
        for entry in listed
    }
    return list(hosted), steps


def seconds(mode: dict) -> dict[str, float]:
    """Each duration and consistency window in seconds, as the emulator plays them now (the
    durations scaled, the windows times its consistency factor)."""
    return {
        **{name: value[0] * mode["scale"] for name, value in mode["durations"].items()},
        **{
            name: value[0] * mode["consistency"]
            for name, value in mode["consistency_windows"].items()
        },
    }


def weight(step: str, table: dict[str, float], kinds=(WAITS,)) -> float:
    return sum(table[name] for kind in kinds for name in kind.get(step, []))


def critical_path(steps: dict[str, dict], table: dict[str, float]) -> tuple[float, list[str]]:
    """(seconds, chain) of the longest chain of needs, each step weighing what it waits for."""
    unknown = set(steps) - set(WAITS) - set(SETTLES) - NO_WAIT
    if unknown:
        sys.exit(
            f"bench/provision_realistic.py: say what {sorted(unknown)} wait for (WAITS/NO_WAIT)"
        )
    best: dict[str, tuple[float, list[str]]] = {}

    def longest(name: str) -> tuple[float, list[str]]:
        if name not in best:
            before = max((longest(need) for need in steps[name]["needs"]), default=(0.0, []))
            best[name] = (before[0] + weight(name, table), [*before[1], name])
        return best[name]

    return max(longest(name) for name in steps)


def sequential_sum(steps: dict[str, dict], table: dict[str, float]) -> float:
    return sum(weight(name, table, (WAITS, SETTLES)) for name in steps)


def timeline(result, started: float) -> dict[str, dict]:
    """step -> {lane, waited_from, ready (could start), done}, in seconds since the run started,
    from the lanes' own record (streamstack.aws.lane_sync's results)."""
    steps: dict[str, dict] = {}
    for _name, _host, res in result.task_results():
        if "lane" not in res or "began" not in res:
            continue
        if res["done"]:
            steps.setdefault(res["done"], {})["done"] = res["began"] - started
        if res["start"]:
            steps.setdefault(res["start"], {}).update(
                lane=res["lane"], waited_from=res["began"] - started, ready=res["at"] - started
            )
    return steps


def lanes_began(result, started: float) -> float:
    """When the first lane started (the first play - preflight, VPC - was over)."""
    times = [
        datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
        for _host, start, _end in result.task_times("Read the plan and the resource settings")
    ]
    return (min(times) - started) if times else 0.0


def svg(lanes, steps, wall, prelude, critical, chain, title) -> str:
    """One row per lane (each step: waiting for its needs light, running dark), then the critical
    path as one bar; the dashed line is where our run ended."""
    width, left, right, row, top = 1100, 100, 20, 30, 48
    bottom = top + row * (len(lanes) + 1)
    span = max(wall, critical) * 1.02
    scale = (width - left - right) / span

    def x(seconds: float) -> float:
        return left + seconds * scale

    def bar(start, end, y, fill, tip, label=""):
        shape = (
            f'<rect x="{x(start):.1f}" y="{y}" width="{max((end - start) * scale, 1):.1f}" '
            f'height="20" fill="{fill}" stroke="#fff"><title>{html.escape(tip)}</title></rect>'
        )
        fits = (end - start) * scale > 6.5 * len(label) + 6
        text = f'<text x="{x(start) + 3:.1f}" y="{y + 14}" fill="#fff">{html.escape(label)}</text>'
        return shape + (text if label and fits else "")

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{bottom + 52}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="13">{html.escape(title)}</text>',
    ]
    tick = 10 ** max(0, len(str(int(span))) - 1)
    for at in range(0, int(span) + 1, tick):
        out.append(
            f'<line x1="{x(at):.1f}" y1="{top - 4}" x2="{x(at):.1f}" y2="{bottom}" '
            f'stroke="#ddd"/><text x="{x(at):.1f}" y="{bottom + 14}" text-anchor="middle" '
            f'fill="#555">{at} s</text>'
        )
    out.append(bar(0, prelude, top, "#bbb", f"preflight and VPC: {prelude:.1f} s", "preflight"))
    for index, lane in enumerate(lanes):
        y = top + index * row
        out.append(f'<text x="10" y="{y + 14}">{html.escape(lane)}</text>')
        for name, step in steps.items():
            if step.get("lane") != lane or "done" not in step:
                continue
            if step["ready"] - step["waited_from"] > 0.05:
                tip = f"{name} waits for its needs: {step['ready'] - step['waited_from']:.1f} s"
                out.append(bar(step["waited_from"], step["ready"], y, "#c6dbef", tip))
            tip = f"{name}: {step['ready']:.1f}-{step['done']:.1f} s"
            out.append(bar(step["ready"], step["done"], y, "#2c7fb8", tip, name))
    y = top + len(lanes) * row
    out.append(f'<text x="10" y="{y + 14}">critical path</text>')
    out.append(bar(0, critical, y, "#c0392b", " -> ".join(chain), f"{critical:.0f} s"))
    out.append(
        f'<line x1="{x(wall):.1f}" y1="{top - 8}" x2="{x(wall):.1f}" y2="{bottom}" stroke="#000" '
        f'stroke-dasharray="4 3"/><text x="{x(wall) - 4:.1f}" y="{top - 10}" text-anchor="end">'
        f"ours: {wall:.0f} s</text>"
    )
    out.append(
        f'<text x="10" y="{bottom + 34}" fill="#555">dark: a step running; light: waiting for the '
        "steps it needs; grey: preflight and the VPC, before the lanes; red: the longest chain of "
        "needs, each step weighing what AWS makes it wait (hover for names)</text></svg>"
    )
    return "\n".join(out) + "\n"


def first_run(args) -> tuple:
    """(result, wall seconds, start time, {duration name: seconds as played}, faults given) of
    provision.yml's first run on a fresh emulator in the realistic mode."""
    with tempfile.TemporaryDirectory() as tmp:
        emulator = Emulator(state_dir=Path(tmp) / "emulator")
        endpoint = emulator.start()
        try:
            prepared_account.prepare(lambda service: operator_client(endpoint, service))
            mode = emulator.realistic(args.scale, args.fault_rate, args.seed)
            started = time.time()
            result = run_playbook(
                PROVISION,
                extra_vars={"aws_endpoint_url": endpoint},
                env=emulator.env(),
                timeout=3 * 3600,
            )
            wall = time.time() - started
            faults = sum(emulator.realistic_state()["faults"].values())
        finally:
            emulator.stop()
    if not result.ok:
        sys.exit(f"provision.yml failed:\n{result.messages()}")
    return result, wall, started, seconds(mode), faults


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="AWS's durations x this (1: AWS)")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="share of requests refused")
    parser.add_argument("--seed", type=int, default=17, help="the faults' seed")
    parser.add_argument("--svg", type=Path, default=SVG, help="where to draw the timeline")
    args = parser.parse_args()
    lanes, steps = plan()
    loads = [os.getloadavg()[0]]
    result, wall, started, table, faults = first_run(args)
    loads.append(os.getloadavg()[0])
    critical, chain = critical_path(steps, table)
    naive = sequential_sum(steps, table)
    measured = timeline(result, started)
    prelude = lanes_began(result, started)
    mode = f"scale {args.scale:g}, {args.fault_rate:.0%} faults (seed {args.seed}: {faults} given)"
    load = f"1-min load average {min(loads):.1f}-{max(loads):.1f}, {os.cpu_count()} cores"
    print(f"first provision in the emulator's realistic mode ({mode}), {load}:")
    print(f"  ours (wall time)      {wall:8.1f} s  (preflight and VPC {prelude:.1f} s, then lanes)")
    print(f"  critical path         {critical:8.1f} s  {' -> '.join(chain)}")
    print(f"  naive sequential sum  {naive:8.1f} s")
    print(f"  ours / critical path  {wall / critical:8.2f}    (goal: 1.15 or less)")
    for name in chain:
        if step := measured.get(name):
            print(f"    {name:<32} could start {step['ready']:7.1f} s, done {step['done']:7.1f} s")
    title = (
        f"First provision ({mode}; {load}): ours {wall:.0f} s, "
        f"critical path {critical:.0f} s, sequential {naive:.0f} s"
    )
    args.svg.write_text(svg(lanes, measured, wall, prelude, critical, chain, title))
    print(f"  timeline: {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
