"""Block Kit builders: data in, blocks out, no I/O."""
