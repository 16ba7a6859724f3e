"""Follow-ups tracked as tickets in an issue tracker (GitHub Issues)."""
