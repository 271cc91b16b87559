"""Find every AWS resource of one platform environment, service by service.

The tests use it to prove that preflight failures create nothing and that teardown leaves
nothing. Resources are found by their tags where the API filters on tags, otherwise by the
`<platform_name>-<platform_env>-` name prefix the conventions give them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Client = Callable[..., Any]


def find_platform_resources(aws: Client, name: str, env: str) -> dict[str, list[str]]:
    """{resource kind: [ids]} of everything left of `name`/`env`; empty kinds are omitted."""
    prefix = f"{name}-{env}-"
    tag_filters = [
        {"Name": "tag:Project", "Values": [name]},
        {"Name": "tag:Environment", "Values": [env]},
    ]
    ec2 = aws("ec2")
    found: dict[str, list[str]] = {
        "vpc": [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag_filters)["Vpcs"]],
        "subnet": [s["SubnetId"] for s in ec2.describe_subnets(Filters=tag_filters)["Subnets"]],
        "internet_gateway": [
            g["InternetGatewayId"]
            for g in ec2.describe_internet_gateways(Filters=tag_filters)["InternetGateways"]
        ],
        "nat_gateway": [
            g["NatGatewayId"]
            for g in ec2.describe_nat_gateways(Filters=tag_filters)["NatGateways"]
            if g["State"] not in ("deleted", "deleting")
        ],
        "route_table": [
            t["RouteTableId"] for t in ec2.describe_route_tables(Filters=tag_filters)["RouteTables"]
        ],
        "security_group": [
            g["GroupId"]
            for g in ec2.describe_security_groups(Filters=tag_filters)["SecurityGroups"]
        ],
        "launch_template": [
            t["LaunchTemplateName"]
            for t in ec2.describe_launch_templates()["LaunchTemplates"]
            if t["LaunchTemplateName"].startswith(prefix)
        ],
        "image": [
            i["ImageId"]
            for i in ec2.describe_images(Owners=["self"], Filters=tag_filters)["Images"]
        ],
        "snapshot": [
            s["SnapshotId"]
            for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=tag_filters)["Snapshots"]
        ],
        "flow_log": [
            f["FlowLogId"] for f in ec2.describe_flow_logs(Filters=tag_filters)["FlowLogs"]
        ],
        "instance": [
            i["InstanceId"]
            for r in ec2.describe_instances(Filters=tag_filters)["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] not in ("terminated", "shutting-down")
        ],
    }
    found["bucket"] = [
        b["Name"] for b in aws("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)
    ]
    found["db_instance"] = [
        d["DBInstanceIdentifier"]
        for d in aws("rds").describe_db_instances()["DBInstances"]
        if d["DBInstanceIdentifier"].startswith(prefix)
    ]
    found["db_subnet_group"] = [
        g["DBSubnetGroupName"]
        for g in aws("rds").describe_db_subnet_groups()["DBSubnetGroups"]
        if g["DBSubnetGroupName"].startswith(prefix)
    ]
    found["dynamodb_table"] = [
        t for t in aws("dynamodb").list_tables()["TableNames"] if t.startswith(prefix)
    ]
    found["sqs_queue"] = aws("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    found["sns_topic"] = [
        t["TopicArn"]
        for t in aws("sns").list_topics()["Topics"]
        if t["TopicArn"].rsplit(":", 1)[1].startswith(prefix)
    ]
    found["log_group"] = [
        g["logGroupName"]
        for g in aws("logs").describe_log_groups(logGroupNamePrefix=f"/{name}/{env}/")["logGroups"]
    ]
    found["alarm"] = [
        a["AlarmName"]
        for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    ]
    found["secret"] = [
        s["Name"]
        for s in aws("secretsmanager").list_secrets()["SecretList"]
        if s["Name"].startswith(f"{name}-{env}/")
    ]
    found["ssm_parameter"] = [
        p["Name"]
        for p in aws("ssm").get_parameters_by_path(Path=f"/{name}/{env}", Recursive=True)[
            "Parameters"
        ]
    ]
    found["iam_role"] = [
        r["RoleName"] for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith(prefix)
    ]
    found["instance_profile"] = [
        p["InstanceProfileName"]
        for p in aws("iam").list_instance_profiles()["InstanceProfiles"]
        if p["InstanceProfileName"].startswith(prefix)
    ]
    found["autoscaling_group"] = [
        g["AutoScalingGroupName"]
        for g in aws("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        if g["AutoScalingGroupName"].startswith(prefix)
    ]
    elb = aws("elbv2")
    found["load_balancer"] = [
        lb["LoadBalancerName"]
        for lb in elb.describe_load_balancers()["LoadBalancers"]
        if lb["LoadBalancerName"].startswith(prefix)
    ]
    found["target_group"] = [
        tg["TargetGroupName"]
        for tg in elb.describe_target_groups()["TargetGroups"]
        if tg["TargetGroupName"].startswith(prefix)
    ]
    route53 = aws("route53")
    found["origin_record"] = [
        record["Name"]
        for zone in route53.list_hosted_zones()["HostedZones"]
        for record in route53.list_resource_record_sets(HostedZoneId=zone["Id"])[
            "ResourceRecordSets"
        ]
        if record["Name"].startswith(prefix)
    ]
    cloudfront = aws("cloudfront")
    distributions = cloudfront.list_distributions()["DistributionList"].get("Items", [])
    found["distribution"] = [
        d["Id"] for d in distributions if d.get("Comment", "").startswith(f"{name}-{env} ")
    ]
    found["origin_access_control"] = [
        o["Name"]
        for o in cloudfront.list_origin_access_controls()["OriginAccessControlList"].get(
            "Items", []
        )
        if o["Name"].startswith(prefix)
    ]
    found["public_key"] = [
        k["Name"]
        for k in cloudfront.list_public_keys()["PublicKeyList"].get("Items", [])
        if k["Name"].startswith(prefix)
    ]
    found["web_acl"] = [
        acl["Name"]
        for acl in aws("wafv2", "us-east-1").list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
        if acl["Name"].startswith(prefix)
    ]
    found["response_headers_policy"] = [
        p["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"]
        for p in cloudfront.list_response_headers_policies(Type="custom")[
            "ResponseHeadersPolicyList"
        ].get("Items", [])
        if p["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"].startswith(prefix)
    ]
    found["key_group"] = [
        g["KeyGroup"]["KeyGroupConfig"]["Name"]
        for g in cloudfront.list_key_groups()["KeyGroupList"].get("Items", [])
        if g["KeyGroup"]["KeyGroupConfig"]["Name"].startswith(prefix)
    ]
    # CloudFront's access log delivery: managed in us-east-1, named after the environment.
    logs = aws("logs", "us-east-1")
    found["delivery_source"] = [
        s["name"]
        for s in logs.describe_delivery_sources()["deliverySources"]
        if s["name"].startswith(prefix)
    ]
    found["delivery_destination"] = [
        d["name"]
        for d in logs.describe_delivery_destinations()["deliveryDestinations"]
        if d["name"].startswith(prefix)
    ]
    found["delivery"] = [
        d["id"]
        for d in logs.describe_deliveries()["deliveries"]
        if d["deliverySourceName"].startswith(prefix)
    ]
    # Elastic Beanstalk (app_hosting: beanstalk): the application is named after the environment.
    beanstalk = aws("elasticbeanstalk")
    found["beanstalk_application"] = [
        a["ApplicationName"]
        for a in beanstalk.describe_applications(ApplicationNames=[f"{name}-{env}"])["Applications"]
    ]
    found["beanstalk_environment"] = [
        e["EnvironmentName"]
        for e in beanstalk.describe_environments(IncludeDeleted=False)["Environments"]
        if e["EnvironmentName"].startswith(prefix)
    ]
    return {kind: ids for kind, ids in found.items() if ids}
