"""The architecture diagram is rendered from its source and names what the playbooks create."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOT = ROOT / "docs" / "architecture.dot"

# Each resource file of playbooks/provision/resources/ and the words the diagram must show for it.
DIAGRAM_TERMS = {
    "vpc": ["VPC"],
    "vpc_subnets_and_routes": ["Public subnets", "Private subnets", "Internet gateway", "NAT"],
    "ec2_vpc_flow_log": ["VPC flow logs"],
    "s3": ["S3 media bucket", "S3 log bucket"],
    "s3_bucket_policy": ["readable only by the distribution", "TLS-only"],
    "cloudfront_signing": ["Key group", "public key", "Origin access control"],
    "cloudfront_distribution": ["CloudFront distribution"],
    "cloudfront_response_headers_policy": ["HSTS", "response headers policy"],
    "wafv2_web_acl": ["optional WAF web ACL"],
    "dynamodb": ["DynamoDB", "TTL"],
    "sqs": ["SQS", "dead-letter"],
    "secretsmanager": ["Secrets Manager"],
    "iam": ["IAM: one instance role per tier"],
    "ec2_security_group": ["sg: alb", "sg: app", "sg: db"],
    "rds": ["RDS PostgreSQL"],
    "ec2_launch_template": ["launch template", "IMDSv2"],
    "elb": ["ALB", "target group", "HTTPS only", "403 without"],
    "route53": ["Route 53 alias record"],
    "autoscaling": ["Web ASG", "Worker ASG", "target tracking"],
    "beanstalk": ["Elastic Beanstalk", "shared one", "worker environment"],
    "ec2_ebs_encryption_by_default": ["EBS encryption by default"],
    "cloudwatch_logs": ["log groups"],
    "cloudwatch_alarms": ["alarms"],
    "cloudwatchlogs_delivery": ["standard logging v2"],
    "sns": ["SNS"],
    "ssm_parameter": ["SSM parameter"],
}


def planned_resource_files() -> set[str]:
    plan = yaml.safe_load((ROOT / "playbooks/provision/vars/provision_plan.yml").read_text())
    files = {"vpc"}
    for entries in plan["provision_plan"].values():
        files.update(entry["step"].split(":")[0] for entry in entries)
    return files


def test_diagram_names_every_provisioned_resource():
    assert planned_resource_files() <= DIAGRAM_TERMS.keys(), "a new resource file needs a term"
    source = DOT.read_text()
    missing = {
        name: term for name, terms in DIAGRAM_TERMS.items() for term in terms if term not in source
    }
    assert not missing


def test_svg_is_rendered_from_the_current_source():
    rendered = subprocess.run(
        ["dot", "-Tsvg", str(DOT)], check=True, capture_output=True, text=True
    ).stdout
    committed = (ROOT / "docs" / "architecture.svg").read_text()
    assert rendered == committed, "run `make docs` and commit docs/architecture.svg"


def test_benchmark_plot_is_rendered_from_the_recorded_results():
    spec = importlib.util.spec_from_file_location("bench_plot", ROOT / "bench" / "plot.py")
    plot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot)
    data = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    committed = (ROOT / "docs" / "benchmarks.svg").read_text()
    assert plot.render(data["results"], data["title"]) == committed, "run `make docs`"
