"""Slack: thin Bolt listeners, Block Kit views and the war-room setup job."""
