"""streamstack.aws.cloudwatchlogs_delivery against the emulator (its fidelity layer answers
as AWS does for deliveries: one source per resource, CloudFront in us-east-1 only, sources and
destinations in use not deleted, UpdateDeliveryConfiguration), asserted with boto3.

One module-scoped sequence: bad input, --check of the create, create, run again, --check of a
replacement, record fields and S3 layout updated in place, tags, a delivery deleted behind the
module's back, a new distribution (source replaced), delete, delete again.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

PLAYBOOK = PLAYBOOKS / "cloudwatchlogs_delivery.yml"
TAGS = {"Project": "cd", "Environment": "test"}


def distribution_arn() -> str:
    return f"arn:aws:cloudfront::123456789012:distribution/E{uuid.uuid4().hex[:12].upper()}"


@pytest.fixture(scope="module")
def name() -> str:
    return f"cd-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def state(aws, name):
    """Source, destination and delivery as CloudWatch Logs (us-east-1) reports them."""
    logs = aws("logs", "us-east-1")

    def read():
        found = {}
        for kind, key in (("source", "deliverySources"), ("destination", "deliveryDestinations")):
            method = getattr(logs, f"describe_delivery_{kind}s")
            items = [
                i
                for i in method()[key]
                if i["name"] == name + ("-s3" if kind == "destination" else "")
            ]
            found[kind] = items[0] if items else None
        found["deliveries"] = [
            d for d in logs.describe_deliveries()["deliveries"] if d["deliverySourceName"] == name
        ]
        found["tags"] = {
            kind: logs.list_tags_for_resource(resourceArn=item["arn"])["tags"]
            for kind, item in [("source", found["source"]), ("destination", found["destination"])]
            + [("delivery", d) for d in found["deliveries"]]
            if item
        }
        return found

    return read


@pytest.fixture(scope="module")
def run(playbook, name):
    def run(*, check=False, diff=False, **variables):
        result = playbook(
            PLAYBOOK, extra_vars={"cd_name": name, **variables}, check=check, diff=diff
        )
        return result

    return run


def task(result) -> dict:
    (found,) = [res for name, _h, res in result.task_results() if name == "Delivery"]
    return found


@pytest.fixture(scope="module")
def first(run, name):
    return {"distribution": distribution_arn(), "bucket": f"{name}-logs"}


BAD = {
    "CloudFront outside us-east-1": ({"cd_region": "eu-west-1"}, "us-east-1 only"),
    "a queue as destination": (
        {"cd_destination_arn": "arn:aws:sqs:us-east-1:123456789012:q"},
        "destination.resource_arn",
    ),
    "a name with a space": ({"cd_source_name": "cd logs"}, "source.name must be"),
    "an S3 layout for a log group": (
        {
            "cd_destination_arn": "arn:aws:logs:us-east-1:123456789012:log-group:/cd",
            "cd_s3": {"suffix_path": "x/"},
        },
        "for an S3 destination only",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_fails_before_any_change(run, state, first, case):
    variables, words = BAD[case]
    result = run(
        **{"cd_distribution": first["distribution"], "cd_bucket": first["bucket"], **variables}
    )
    assert not result.ok and words in result.messages(), result.messages()
    assert state()["source"] is None and state()["destination"] is None


def test_check_mode_shows_the_create_without_making_it(run, state, first):
    result = run(check=True, cd_distribution=first["distribution"], cd_bucket=first["bucket"])
    assert result.ok, result.messages()
    assert task(result)["actions"] == [
        "create delivery source",
        "create delivery destination",
        "create delivery",
    ]
    assert state()["source"] is None and state()["deliveries"] == []


def test_create(run, state, first, name):
    result = run(
        cd_distribution=first["distribution"],
        cd_bucket=first["bucket"],
        cd_format="w3c",
        cd_tags=TAGS,
    )
    assert result.ok, result.messages()
    found = state()
    assert found["source"]["resourceArns"] == [first["distribution"]]
    assert found["source"]["logType"] == "ACCESS_LOGS"
    assert found["destination"]["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"arn:aws:s3:::{first['bucket']}"
    }
    assert found["destination"]["outputFormat"] == "w3c"
    (delivery,) = found["deliveries"]
    assert delivery["deliveryDestinationArn"] == found["destination"]["arn"]
    assert found["tags"] == {"source": TAGS, "destination": TAGS, "delivery": TAGS}
    assert task(result)["delivery"]["id"] == delivery["id"]


def test_second_run_changes_nothing(run, first):
    again = run(
        cd_distribution=first["distribution"],
        cd_bucket=first["bucket"],
        cd_format="w3c",
        cd_tags=TAGS,
    )
    assert again.ok, again.messages()
    assert again.changed == 0, task(again)["actions"]


def test_check_of_a_new_format_shows_the_destination_replaced(run, state, first):
    before = state()
    check = run(
        check=True,
        diff=True,
        cd_distribution=first["distribution"],
        cd_bucket=first["bucket"],
        cd_format="json",
        cd_tags=TAGS,
    )
    assert check.ok, check.messages()
    found = task(check)
    assert found["actions"] == [
        f"delete delivery {before['deliveries'][0]['id']}",
        "delete delivery destination (replaced)",
        "create delivery destination",
        "create delivery",
    ]
    assert found["diff"]["after"]["destination"]["output_format"] == "json"
    assert state() == before


def test_fields_layout_and_tags_change_in_place(run, state, first):
    delivery_id = state()["deliveries"][0]["id"]
    layout = {
        "suffix_path": "AWSLogs/{account-id}/CloudFront/{DistributionId}/{yyyy}/{MM}/{dd}/{HH}"
    }
    result = run(
        cd_distribution=first["distribution"],
        cd_bucket=first["bucket"],
        cd_fields=["date", "time", "c-ip", "cs-uri-stem", "sc-status"],
        cd_s3=layout,
        cd_tags={"Project": "cd"},
    )
    assert result.ok, result.messages()
    assert "update delivery configuration" in task(result)["actions"]
    found = state()
    (delivery,) = found["deliveries"]
    assert delivery["id"] == delivery_id
    assert delivery["recordFields"] == ["date", "time", "c-ip", "cs-uri-stem", "sc-status"]
    assert delivery["s3DeliveryConfiguration"]["suffixPath"] == layout["suffix_path"]
    assert found["tags"] == {k: {"Project": "cd"} for k in ("source", "destination", "delivery")}
    assert found["destination"]["outputFormat"] == "w3c"  # not given: left alone


def test_a_delivery_deleted_behind_its_back_comes_back(run, state, first, aws):
    aws("logs", "us-east-1").delete_delivery(id=state()["deliveries"][0]["id"])
    result = run(
        cd_distribution=first["distribution"], cd_bucket=first["bucket"], cd_tags={"Project": "cd"}
    )
    assert result.ok, result.messages()
    assert task(result)["actions"] == ["create delivery"]
    assert len(state()["deliveries"]) == 1


def test_a_new_distribution_replaces_the_source(run, state, first):
    replacement = distribution_arn()
    result = run(cd_distribution=replacement, cd_bucket=first["bucket"], cd_tags={"Project": "cd"})
    assert result.ok, result.messages()
    actions = task(result)["actions"]
    assert actions[1:] == [
        "delete delivery source (replaced)",
        "create delivery source",
        "create delivery",
    ]
    found = state()
    assert found["source"]["resourceArns"] == [replacement]
    assert len(found["deliveries"]) == 1


def test_delete_and_delete_again(run, state):
    gone = run(cd_state="absent")
    assert gone.ok, gone.messages()
    assert task(gone)["actions"][-2:] == ["delete delivery source", "delete delivery destination"]
    found = state()
    assert found["source"] is None and found["destination"] is None and found["deliveries"] == []
    again = run(cd_state="absent")
    assert again.ok and again.changed == 0, again.messages()
