"""Posting the runbooks that fit an incident in its war room, each once: now a durable flow
(`bot.flows.runbooks`); this name stays for the room and outcome code that calls it."""

from bot.flows.runbooks import post_new_runbooks

__all__ = ["post_new_runbooks"]
