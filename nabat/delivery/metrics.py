"""Prometheus metrics, in a registry of the app's own (nothing global, nothing at import)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The delivery engine's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sent = Counter(
            "notifications_sent",
            "Delivery attempts by channel type and resulting status.",
            ["channel", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "notification_delivery_duration_seconds",
            "Time a provider took to answer one attempt.",
            ["channel"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.failures = Counter(
            "notification_failures",
            "Failed attempts by channel type and failure class.",
            ["channel", "failure_class"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str | None], tuple[Any, Any, Any]] = {}
        self.queue_depth = Gauge(
            "notification_queue_depth",
            "Deliveries waiting, by status (QUEUED, FAILED, SENDING).",
            ["status"],
            registry=self.registry,
        )
        self.events_pending = Gauge(
            "nabat_events_pending",
            "Batched events stored and waiting for the router.",
            registry=self.registry,
        )

    def attempt(self, channel: str, status: str, seconds: float, failure_class: str | None) -> None:
        """Count one attempt."""
        # labels() takes a lock and a lookup per call; the label sets are few, so their
        # children are kept at hand.
        key = (channel, status, failure_class)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.sent.labels(channel, status),
                self.duration.labels(channel),
                self.failures.labels(channel, failure_class) if failure_class else None,
            )
        sent, duration, failures = children
        sent.inc()
        duration.observe(seconds)
        if failures is not None:
            failures.inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
