"""streamstack.aws.secretsmanager_rotation: the version stages of a rotation run by a playbook
(playbooks/rotate_db_login.yml). One sequence on one secret: info, --check of create, create,
create again (the pending version is resumed, not replaced), finish, finish again; no secret
value in any output."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

PLAYBOOK = PLAYBOOKS / "secretsmanager_rotation.yml"
OLD = {"username": "app_user", "password": f"old-{uuid.uuid4().hex}"}
NEW = {"username": "app_user_clone", "password": f"new-{uuid.uuid4().hex}"}


def test_a_rotation_goes_through_pending_to_current(playbook, aws, emulator):
    secrets = aws("secretsmanager")
    name = f"test/rotation-{uuid.uuid4().hex[:8]}"
    secrets.create_secret(Name=name, SecretString=json.dumps(OLD))

    def run(step, value=None, *, check=False):
        extra = {"sr_name": name, "sr_step": step} | ({"sr_value": value} if value else {})
        done = playbook(PLAYBOOK, extra_vars=extra, check=check, diff=True)
        assert done.ok, done.messages()
        text = json.dumps(done.plays, default=str) + done.stderr
        assert OLD["password"] not in text and NEW["password"] not in text
        ((_, _, res),) = list(done.task_results())
        return done, res

    def value(stage):
        return json.loads(
            secrets.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"]
        )

    emulator.journal(clear=True)
    done, info = run("info")
    assert done.changed == 0 and info["pending_version_id"] == ""
    assert 0 <= info["current_age_days"] < 0.01
    # The login is dated from the versions' list, never read for it.
    read = {r["action"] for r in emulator.journal() if r["params"].get("SecretId") == name}
    assert "GetSecretValue" not in read and "ListSecretVersionIds" in read
    done, _ = run("create", NEW, check=True)
    assert done.changed == 1
    assert "AWSPENDING" not in str(secrets.describe_secret(SecretId=name)["VersionIdsToStages"])
    done, created = run("create", NEW)
    assert done.changed == 1 and created["pending_version_id"]
    assert value("AWSPENDING") == NEW and value("AWSCURRENT") == OLD
    # An interrupted rotation is resumed with its own pending value, never a new one.
    done, again = run("create", {"username": "x", "password": "y"})
    assert done.changed == 0 and again["pending_version_id"] == created["pending_version_id"]
    done, finished = run("finish")
    assert done.changed == 1 and finished["pending_version_id"] == ""
    assert finished["current_version_id"] == created["pending_version_id"]
    assert value("AWSCURRENT") == NEW and value("AWSPREVIOUS") == OLD
    assert json.loads(secrets.get_secret_value(SecretId=name)["SecretString"]) == NEW
    done, _ = run("finish")
    assert done.changed == 0
