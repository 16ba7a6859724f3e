"""A strict fake of the Slack Web API, served over HTTP on 127.0.0.1."""

from .calls import Call
from .simulator import SlackSimulator

__all__ = ["Call", "SlackSimulator"]
