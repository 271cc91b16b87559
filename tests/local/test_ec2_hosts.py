"""The local EC2's stand-ins for what EC2 gives an instance (local/ec2/hosts.py), without
podman: cloud-init's ``write_files`` of the launch template's real user data, and the instance
metadata service's settings. The hosts themselves are proven by tests/local/test_make_up.py."""

from __future__ import annotations

import base64
import configparser
import json

import jinja2
import pytest
import yaml

from local.ansible import ROOT
from local.ec2.hosts import cloud_init_files, metadata_settings

USER_DATA = ROOT / "playbooks" / "provision" / "templates" / "user_data.yml.j2"


def test_the_launch_templates_user_data_gives_the_boot_unit_its_host_json():
    # Its own folder loads what it includes (the SSM agent's installation).
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(USER_DATA.parent))  # noqa: S701 (YAML)
    rendered = env.get_template(USER_DATA.name).render(
        platform_name="stream",
        platform_env="local",
        role="web",
        aws_region="eu-west-1",
        platform_ssm_prefix="/stream/local",
        ssm_agent_install=True,
    )
    files = cloud_init_files(rendered)
    assert set(files) == {"/etc/streamstack/host.json"}
    content, mode = files["/etc/streamstack/host.json"]
    assert mode == 0o644
    assert json.loads(content) == {
        "platform": "stream",
        "environment": "local",
        "role": "web",
        "region": "eu-west-1",
        "parameters": "/stream/local",
    }
    # What the stand-in does not run: the SSM agent's installation (Session Manager).
    (command,) = yaml.safe_load(rendered)["runcmd"]
    assert command[:2] == ["sh", "-ec"] and "dpkg -i" in command[2]


def test_base64_content_and_no_user_data():
    encoded = base64.b64encode(b'{"a": 1}').decode()
    user_data = (
        "#cloud-config\nwrite_files:\n"
        f"  - path: /etc/streamstack/x.json\n    encoding: b64\n    content: {encoded}\n"
    )
    assert cloud_init_files(user_data) == {"/etc/streamstack/x.json": ('{"a": 1}', 0o644)}
    assert cloud_init_files("  \n") == {}


@pytest.mark.parametrize(
    ("user_data", "refusal"),
    [
        ("#!/bin/sh\necho hi\n", "runs no scripts"),
        ("#cloud-config\nwrite_files:\n  - path: /etc/passwd\n", "writes only into"),
        (
            "#cloud-config\nwrite_files:\n  - path: /etc/streamstack/../passwd\n",
            "writes only into",
        ),
        (
            "#cloud-config\nwrite_files:\n  - path: /etc/streamstack/a\n    encoding: gzip\n",
            "encoding gzip not supported",
        ),
    ],
)
def test_what_the_stand_in_does_not_do_is_refused(user_data, refusal):
    with pytest.raises(ValueError, match=refusal):
        cloud_init_files(user_data)


def test_metadata_settings_name_the_instances_own_service():
    endpoint = "http://10.0.2.2:5000/moto-api/fidelity/imds/i-0123"
    files = metadata_settings(endpoint)
    dropin = configparser.ConfigParser()
    dropin.read_string(files["systemd/50-streamstack-metadata.conf"])
    assert (
        f'"AWS_EC2_METADATA_SERVICE_ENDPOINT={endpoint}"' in dropin["Manager"]["DefaultEnvironment"]
    )
    config = configparser.ConfigParser()
    config.read_string(files["aws/config"])
    assert config["default"]["ec2_metadata_service_endpoint"] == endpoint


def test_a_bake_of_another_runs_settings_gets_no_user_data(tmp_path, monkeypatch):
    """Its boot unit would read SSM at that run's emulator (gone); configure.yml converges it."""
    from local.ec2 import hosts as ec2_hosts
    from local.hosts import bake as hostbake
    from local.hosts import image as hostimage

    settings = tmp_path / "fleet-vars.json"
    settings.write_text('{"local_emulator_port": 5000}')
    labels = {"bake:this-run": hostbake.settings_digest(settings), "bake:older": "0" * 24}
    monkeypatch.setattr(hostbake, "settings_of", labels.get)
    hosts = ec2_hosts.Ec2Hosts(None, None, "stream", "local", "", settings_file=settings)  # type: ignore[arg-type]
    assert hosts._baked_for_another_run("bake:older")
    assert not hosts._baked_for_another_run("bake:this-run")
    assert not hosts._baked_for_another_run(hostimage.IMAGE)  # the plain image: no boot unit
    hosts.settings_file = None  # the CLI's wait and reconcile: never held back
    assert not hosts._baked_for_another_run("bake:older")
