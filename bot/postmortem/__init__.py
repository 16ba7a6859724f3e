"""Postmortems: the draft built from an incident's recorded facts, its review questions, and the
incidents report (time to acknowledge, mitigate and resolve across many incidents)."""
