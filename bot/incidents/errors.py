"""Errors raised by incident use cases; each message is safe to show."""

from bot.errors import WarroomError


class InvalidInput(WarroomError):
    """What someone typed cannot be used; the message says what to type instead."""


class IncidentNotFound(WarroomError):
    """No incident has that number."""
