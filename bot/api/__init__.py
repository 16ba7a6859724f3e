"""The HTTP API's domain: bearer tokens, the writes made through it, and the queries it answers."""
