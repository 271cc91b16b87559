"""The modules' shared scaffolding: the set reconciler (sets.py), the tag sync (tagging.py), the
error handlers (errors.py) and CloudFront's ETag-locked resources (cloudfront.py)."""

from __future__ import annotations

import pytest
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    ConfigResource,
    ensure_config,
    list_all,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import (
    exit_absent,
    exit_present,
    require_unique,
)
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)
from botocore.exceptions import ClientError


class Exited(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode=False, diff=False):
        self.check_mode, self._diff = check_mode, diff

    def exit_json(self, **result):
        raise Exited(result)

    def fail_json(self, **result):
        raise Exited(dict(result, failed=True))


def exited(call, *args, **kwargs):
    with pytest.raises(Exited) as info:
        call(*args, **kwargs)
    return info.value.args[0]


def client_error(code):
    return ClientError({"Error": {"Code": code, "Message": code}}, "Operation")


def test_a_name_given_twice_fails_naming_it():
    result = exited(require_unique, FakeModule(), ["a", "b", "a"], "queues")
    assert result == {"msg": "queues given more than once: a", "failed": True}
    require_unique(FakeModule(), ["a", "b"], "queues")  # no exit


def test_absent_deletes_only_outside_check_mode_and_in_batches():
    deleted = []
    result = exited(exit_absent, FakeModule(), "items", ["a", "b", "c"], deleted.append, batch=2)
    assert deleted == [["a", "b"], ["c"]]
    assert result["changed"] and result["deleted"] == ["a", "b", "c"] and "diff" not in result
    result = exited(exit_absent, FakeModule(check_mode=True, diff=True), "items", ["a"], None)
    assert result["deleted"] == ["a"] and result["diff"] == {"before": {"a": {}}, "after": {}}


def test_present_projects_check_mode_and_reads_again_after_a_change():
    live = {"old": {"v": 1}}
    calls = []

    def apply(name, current):
        calls.append(name)
        return current is None or current["v"] != 2

    kwargs = dict(
        apply=apply,
        view=dict,
        wanted_view=lambda name, current: {"v": 2},
        result=lambda current: dict(current, read=True),
        planned=lambda name, wanted: dict(wanted, planned=True),
        refresh=lambda: {"old": {"v": 2}, "new": {"v": 2}},
    )
    checked = exited(
        exit_present, FakeModule(check_mode=True), "items", ["old", "new"], live, **kwargs
    )
    assert checked["created"] == ["new"] and checked["updated"] == ["old"]
    assert checked["items"] == [{"v": 2, "planned": True}] * 2
    done = exited(exit_present, FakeModule(diff=True), "items", ["old", "new"], live, **kwargs)
    assert done["items"] == [{"v": 2, "read": True}] * 2
    assert done["diff"] == {
        "before": {"old": {"v": 1}},
        "after": {"old": {"v": 2}, "new": {"v": 2}},
    }


def test_tags_sync_through_the_services_calls():
    seen = []
    tag, untag = (
        (lambda add: seen.append(("tag", add))),
        (lambda keys: seen.append(("untag", keys))),
    )
    live = {"a": "1", "b": "2", "aws:cloudformation:stack-name": "s"}
    assert sync_tags(FakeModule(), live, {"a": "1", "c": "3"}, True, tag=tag, untag=untag)
    assert seen == [("untag", ["b"]), ("tag", {"c": "3"})]
    assert planned_tags(live, {"a": "1", "c": "3"}, True) == {
        "a": "1",
        "c": "3",
        "aws:cloudformation:stack-name": "s",
    }
    assert planned_tags(live, {"c": "3"}, False) == dict(live, c="3")
    assert planned_tags(live, None, True) == live
    seen.clear()
    assert sync_tags(FakeModule(check_mode=True), live, {}, True, tag=tag, untag=untag)
    assert not sync_tags(FakeModule(), live, None, True, tag=tag, untag=untag)
    assert not sync_tags(FakeModule(), live, live, True, tag=tag, untag=untag)
    updates = []
    sync_tags(FakeModule(), live, {"a": "9"}, False, update=lambda *change: updates.append(change))
    assert seen == [] and updates == [({"a": "9"}, [])]


def test_error_handlers_say_what_failed_and_treat_missing_as_gone():
    errors = error_handler("NoSuchThing")

    @errors.common_error_handler("read thing {name}")
    def read(name):
        raise client_error("AccessDenied")

    @errors.deletion_error_handler("delete thing {name}")
    def delete(name):
        raise client_error("NoSuchThing")

    with pytest.raises(AnsibleAWSError) as info:
        read("x")
    assert info.value.message == "Failed to read thing x"
    assert delete("x") is False


class FakeCloudFront:
    def __init__(self, config, error=None):
        self.config, self.error, self.calls = config, error, []

    def get_key_group(self, **kwargs):
        return {"KeyGroup": {"Id": "k1", "KeyGroupConfig": self.config}, "ETag": "E1"}

    def update_key_group(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise client_error(self.error)
        return {"KeyGroup": {"Id": "k1", "KeyGroupConfig": kwargs["KeyGroupConfig"]}, "ETag": "E2"}


def key_groups(client):
    return ConfigResource(
        client,
        "KeyGroup",
        "key group",
        missing_code="NoSuchResource",
        in_use_code="ResourceInUse",
        in_use_hint="is in use",
    )


def test_a_config_resource_updates_quoting_its_etag():
    client = FakeCloudFront({"Name": "g", "Items": ["a"]})
    result = exited(
        ensure_config,
        FakeModule(diff=True),
        key_groups(client),
        "k1",
        {"Name": "g", "Items": ["b"]},
        key="key_group",
        view=dict,
        result=lambda resource_id, config, etag: dict(config, id=resource_id, etag=etag),
    )
    assert client.calls == [
        {
            "aws_retry": True,
            "Id": "k1",
            "IfMatch": "E1",
            "KeyGroupConfig": {"Name": "g", "Items": ["b"]},
        }
    ]
    assert result["key_group"] == {"Name": "g", "Items": ["b"], "id": "k1", "etag": "E2"}
    assert result["diff"]["before"] == {"Name": "g", "Items": ["a"]}


def test_a_stale_etag_fails_asking_to_run_again():
    resource = key_groups(FakeCloudFront({}, error="PreconditionFailed"))
    with pytest.raises(AnsibleAWSError) as info:
        resource.update("k1", "E1", {"Name": "g"})
    assert info.value.message == "Key group k1 changed while updating it; run again"


def test_a_failed_cloudfront_list_says_which():
    class Refusing:
        def list_key_groups(self, **kwargs):
            raise client_error("AccessDenied")

    with pytest.raises(AnsibleAWSError) as info:
        list_all(Refusing(), "list_key_groups", "KeyGroupList")
    assert info.value.message == "Failed to list key groups"
