"""Nabat: a self-hosted alert and notification service."""

__version__ = "0.1.0"
