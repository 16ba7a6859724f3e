"""Warroom: an incident-command bot for Slack."""
