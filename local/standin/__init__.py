"""Stand-ins for what AWS hosts and the offline machine cannot reach (the CloudWatch agent
package: cwagent.py builds it from cloudwatch_agent/)."""
