"""Test helpers: servers the tests start themselves."""
