"""playbooks/rotate_db_login.yml. The rotation's steps are proven on the module,
streamstack.aws.secretsmanager_rotation, by the collection's integration tests."""

from __future__ import annotations

from tests.conftest import ROOT

ROTATE = ROOT / "playbooks" / "rotate_db_login.yml"


def test_the_rotation_playbook_refuses_to_pass_quietly(playbook):
    """playbooks/rotate_db_login.yml, run on a schedule, fails before any call when it cannot
    rotate: an inventory without a web host (the set step's place; the play would otherwise
    match no host and end "ok", rotating nothing, forever) or a bad input, named."""
    done = playbook(ROTATE)  # inventories/local: the controller only, no web host
    assert not done.ok
    assert "no host in the group 'web'" in done.messages(), done.messages()
    bad = playbook(ROTATE, extra_vars={"db_app_login_rotation_days": 0})
    assert not bad.ok
    assert "db_app_login_rotation_days is a whole number" in bad.messages(), bad.messages()
