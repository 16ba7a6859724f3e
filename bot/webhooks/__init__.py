"""Outgoing webhooks: who subscribes to which incident events, what each event says, and how far
each endpoint has got through the timeline."""
