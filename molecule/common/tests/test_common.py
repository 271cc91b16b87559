"""common: base packages, time sync, unattended upgrades, service user, tuning, journald."""

import pytest


@pytest.mark.parametrize(
    "package", ["acl", "ca-certificates", "curl", "chrony", "unattended-upgrades"]
)
def test_packages_installed(host, package):
    assert host.package(package).is_installed


def test_timesyncd_replaced_by_chrony(host):
    assert not host.package("systemd-timesyncd").is_installed


def test_chrony_enabled_and_uses_amazon_time_sync(host):
    # chronyd needs CAP_SYS_TIME, which containers lack (its unit's ConditionCapability skips
    # it here); on an EC2 host it runs. Enabled it must be everywhere.
    assert host.service("chrony").is_enabled
    conf = host.file("/etc/chrony/chrony.conf")
    assert conf.contains("^server 169.254.169.123 prefer iburst")
    assert host.run("chronyd -p -f /etc/chrony/chrony.conf").rc == 0


def test_unattended_upgrades_security_only(host):
    out = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "Debian-Security" in out
    assert "${distro_codename}-updates" not in out
    assert host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade").endswith('"1";')
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_service_user_unprivileged(host):
    user = host.user("streamstack")
    assert user.exists
    assert user.uid < 1000
    assert user.shell == "/usr/sbin/nologin"
    assert user.group == "streamstack"
    home = host.file("/var/lib/streamstack")
    assert home.is_directory
    assert home.user == "streamstack"
    assert home.mode == 0o750


def test_sysctl_file(host):
    conf = host.file("/etc/sysctl.d/60-streamstack.conf")
    assert conf.mode == 0o644
    assert conf.contains("^net.core.somaxconn = 4096$")
    assert conf.contains("^fs.file-max = 2097152$")


def test_open_files_limits(host):
    assert host.file("/etc/security/limits.d/60-streamstack.conf").contains(
        "^streamstack hard nofile 65536$"
    )
    out = host.check_output("systemctl show --property DefaultLimitNOFILE")
    assert out == "DefaultLimitNOFILE=65536"


def test_journald_limited(host):
    conf = host.file("/etc/systemd/journald.conf.d/60-streamstack.conf")
    assert conf.contains("^SystemMaxUse=1G$")
    assert host.service("systemd-journald").is_running


def test_no_failed_units(host):
    assert host.check_output("systemctl --failed --no-legend --plain") == ""
