"""Tests of the GitHub workflows and the helpers they run."""
