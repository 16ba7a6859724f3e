"""After-ack work as durable jobs: one module per flow, each saying what it needs (ids and the
words already decided), what it does, and the key that makes doing it twice a no-op."""
