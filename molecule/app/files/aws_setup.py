"""Creates, on the moto server inside the test host, what provisioning creates for the app on
AWS (bucket, sessions table, transcoding queue and DLQ, the database master secret and the
app's login secret) and
publishes the outputs parameter /<platform>/<env>/outputs with the keys of
playbooks/provision/resources/ssm_parameter.yml. Idempotent: run again, it changes nothing.

    python aws_setup.py ENDPOINT PLATFORM ENV DB_PASSWORD
"""

from __future__ import annotations

import json
import secrets
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, platform, env, db_password = sys.argv[1:5]
region = "eu-west-1"
prefix = f"{platform}-{env}"
kw = {"region_name": region, "endpoint_url": endpoint}

s3 = boto3.client("s3", **kw)
bucket = f"{prefix}-media"
try:
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
except ClientError as err:
    if err.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
        raise
# Private, as provisioning makes it: nginx reads the media through files/media_origin.py, which
# signs its requests as CloudFront's origin access control does.

ddb = boto3.client("dynamodb", **kw)
table = f"{prefix}-sessions"
if table not in ddb.list_tables()["TableNames"]:
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )

sqs = boto3.client("sqs", **kw)
dlq_url = sqs.create_queue(QueueName=f"{prefix}-transcode-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
    "QueueArn"
]
queue_url = sqs.create_queue(
    QueueName=f"{prefix}-transcode",
    Attributes={
        "VisibilityTimeout": "120",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
    },
)["QueueUrl"]

sm = boto3.client("secretsmanager", **kw)
secret_name = f"{prefix}/db-master"
secret = json.dumps({"username": "streamapp", "password": db_password})
try:
    db_secret_arn = sm.describe_secret(SecretId=secret_name)["ARN"]
except ClientError:
    db_secret_arn = sm.create_secret(Name=secret_name, SecretString=secret)["ARN"]
# The app's DML-only login; the migration step makes the user with this password.
app_secret_name = f"{prefix}/db-app"
app_secret = json.dumps({"username": "streamapp_app_user", "password": secrets.token_urlsafe(24)})
try:
    db_app_secret_arn = sm.describe_secret(SecretId=app_secret_name)["ARN"]
except ClientError:
    db_app_secret_arn = sm.create_secret(Name=app_secret_name, SecretString=app_secret)["ARN"]

outputs = {
    "region": region,
    "media_bucket": bucket,
    "media_prefixes": {"sources": "sources/", "hls": "hls/", "thumbs": "thumbs/"},
    "cloudfront_domain": "d111111abcdef8.cloudfront.net",
    "cloudfront_key_pair_id": "K2JCJMDEHXQW5F",
    "cloudfront_signing_key_secret": f"{prefix}/cloudfront-signing-key",
    "sessions_table": table,
    "transcode_queue_url": queue_url,
    "db_host": "127.0.0.1",
    "db_port": 5432,
    "db_name": "streamapp",
    "db_app_secret_arn": db_app_secret_arn,
    "log_groups": {p: f"/{platform}/{env}/{p}" for p in ("nginx", "app", "worker")},
}
boto3.client("ssm", **kw).put_parameter(
    Name=f"/{platform}/{env}/outputs",
    Value=json.dumps(outputs, sort_keys=True),
    Type="String",
    Overwrite=True,
)
print(json.dumps(outputs, sort_keys=True))
