"""The durable job table and the dispatcher that runs it: infrastructure below the flows."""
