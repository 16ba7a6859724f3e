"""The only outbound I/O: Slack, PagerDuty and remediation executors."""
