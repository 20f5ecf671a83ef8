"""Signals within one process (``nabat serve`` on SQLite): listeners are called directly."""

from __future__ import annotations

import logging

from nabat.signals.base import Listener, Signals, Subscription, check

log = logging.getLogger("nabat.signals")


class LocalSignals(Signals):
    """Signals that reach the listeners of this process only, at once."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Subscription]] = {}

    async def start(self) -> None:
        """Nothing to start: there is no other process to reach."""

    def publish(self, topic: str, payload: str = "") -> None:
        """Call the topic's listeners now, in the order they subscribed."""
        check(topic, payload)
        self.deliver(topic, payload)

    def subscribe(self, topic: str, listener: Listener) -> Subscription:
        """Add ``listener`` to ``topic``."""
        check(topic, "")
        subscription = Subscription(topic, listener, self._remove)
        self._listeners.setdefault(topic, []).append(subscription)
        return subscription

    async def listening(self) -> None:
        """At once: a subscription here is in effect when ``subscribe`` returns."""

    async def close(self) -> None:
        """Forget every listener."""
        self._listeners.clear()

    @property
    def topics(self) -> set[str]:
        """The topics that have a listener now."""
        return set(self._listeners)

    def deliver(self, topic: str, payload: str | None) -> None:
        """Call the listeners of ``topic`` with ``payload``; one that raises is logged and
        does not keep the others from hearing it."""
        # A copy: a listener may close its subscription (or add one) while being called.
        for subscription in list(self._listeners.get(topic, ())):
            try:
                subscription.listener(payload)
            except Exception:
                log.exception("a listener of signal %r failed", topic)

    def missed(self) -> None:
        """Tell every listener that signals may have been missed (``None``)."""
        for topic in list(self._listeners):
            self.deliver(topic, None)

    def _remove(self, subscription: Subscription) -> None:
        found = self._listeners.get(subscription.topic)
        if found is None or subscription not in found:
            return
        found.remove(subscription)
        if not found:
            del self._listeners[subscription.topic]
