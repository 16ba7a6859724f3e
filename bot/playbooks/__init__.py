"""Runbooks: Markdown files with YAML front matter, validated, matched to incidents."""
