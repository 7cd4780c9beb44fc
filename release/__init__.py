"""Helpers the release workflow runs after a deploy."""
