"""What a delivery says: one typed content for every kind of delivery.

A routed event, a send-API notification, a channel test and a channel-health notice are
all stored the same way — the event they are about, plus what the producer fixed — and
worded at send time by :func:`nabat.delivery.render.render`, so the project's templates,
language and signature apply to each of them. Rows stored before this shape (a ``render``
spec beside the event, or text worded when queued) are read back too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from nabat.catalogue import STATUS_TYPES
from nabat.routing.snapshot import event_snapshot

ContentKind = Literal["event", "test", "channel_health"]
CONTENT_KINDS: tuple[ContentKind, ...] = get_args(ContentKind)
# Bumped when the stored shape changes; rows without it are one of the two older shapes.
VERSION = 2
_HEALTH_TYPES = ("channel.failing", "channel.recovered")


def seed_payload(
    *,
    username: str | None,
    service_name: str | None,
    service_url: str | None,
    status: str,
    severity: str,
    message: str,
    timestamp: datetime,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Seed 002's webhook payload."""
    return {
        "username": username,
        "serviceName": service_name,
        "serviceUrl": service_url,
        "status": status,
        "severity": severity,
        "message": message,
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
        "metadata": metadata or {},
    }


@dataclass(frozen=True)
class DeliveryContent:
    """The stored content of one delivery.

    ``event`` is the event snapshot (:func:`nabat.routing.snapshot.event_snapshot`) that
    templates see as ``event``; for a test or a health notice it is made up when queued
    (type ``test``, ``channel.failing`` or ``channel.recovered``). ``payload`` is seed
    002's payload as the producer made it (the send API, the test form), kept byte for
    byte; without one it is derived from the event (:meth:`seed`). ``subject`` replaces
    the rendered subject (the test form's). ``template_id`` (a rule action's template)
    and ``recipient_name`` select and address the template.
    """

    kind: ContentKind
    event: dict[str, Any]
    payload: dict[str, Any] | None = None
    subject: str | None = None
    template_id: int | None = None
    recipient_name: str | None = None

    @property
    def severity(self) -> str:
        """The event's severity (INFO when it has none)."""
        return str(self.event.get("severity") or "INFO")

    @property
    def summary(self) -> str:
        """One line for delivery lists: the fixed subject, else severity and type."""
        if self.subject:
            return self.subject
        title = self.event.get("typeTitle") or self.event.get("type") or ""
        return f"[{self.severity}] {title}".strip()

    def seed(self) -> dict[str, Any]:
        """Seed 002's payload for webhooks and bots: the producer's, else made from the
        event (addressed to ``recipient_name``, timed when the event occurred)."""
        if self.payload is not None:
            return dict(self.payload)
        event = self.event
        source: dict[str, Any] = event.get("source") or {}
        subject: dict[str, Any] = event.get("subject") or {}
        return seed_payload(
            username=self.recipient_name,
            service_name=source.get("name"),
            service_url=source.get("url"),
            status=subject.get("status") or str(event.get("type") or ""),
            severity=self.severity,
            message=str(event.get("message") or ""),
            timestamp=datetime.fromisoformat(str(event["occurredAt"])),
            metadata=dict(event.get("labels") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON stored in the ``content`` column (keys that are None left out)."""
        stored: dict[str, Any] = {"v": VERSION, "kind": self.kind, "event": self.event}
        optional = {
            "payload": self.payload,
            "subject": self.subject,
            "templateId": self.template_id,
            "recipientName": self.recipient_name,
        }
        stored.update({key: value for key, value in optional.items() if value is not None})
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> DeliveryContent:
        """The content of a stored row, in this shape or either older one.

        Raises :class:`ValueError` for a row that is none of them (a bug, not a fault of
        the delivery's).
        """
        if stored.get("v") == VERSION:
            kind = stored["kind"]
            if kind not in CONTENT_KINDS:
                raise ValueError(f"unknown delivery content kind {kind!r}")
            return cls(
                kind=kind,
                event=stored["event"],
                payload=stored.get("payload"),
                subject=stored.get("subject"),
                template_id=stored.get("templateId"),
                recipient_name=stored.get("recipientName"),
            )
        if "render" in stored:
            return _routed_v1(stored)
        if "payload" in stored:
            return _worded_v1(stored)
        raise ValueError("the delivery content is in no known shape")


def _routed_v1(stored: dict[str, Any]) -> DeliveryContent:
    """A routed event or send-API notification as stored before version 2: the event,
    the payload and a ``render`` spec (its kind and language are now read at send time)."""
    spec: dict[str, Any] = stored["render"]
    return DeliveryContent(
        kind="event",
        event=stored["event"],
        payload=stored.get("payload"),
        template_id=spec.get("templateId"),
        recipient_name=spec.get("recipientName"),
    )


def _worded_v1(stored: dict[str, Any]) -> DeliveryContent:
    """A test or health notice worded when it was queued (before version 2).

    Its text was the default wording of the payload, so the event is rebuilt from the
    payload and worded again; the subject it was queued with (perhaps the test form's) is
    kept, and so is the payload the receiver would have got.
    """
    payload: dict[str, Any] = stored["payload"]
    old_event: dict[str, Any] = stored.get("event") or {}
    status = str(payload.get("status") or "")
    # Only tests and health notices were queued this way; both named their event type.
    type_key = str(old_event.get("type") or STATUS_TYPES.get(status, "notification"))
    kind: ContentKind = "event"
    if type_key == "test":
        kind = "test"
    elif type_key in _HEALTH_TYPES:
        kind = "channel_health"
    moment = datetime.fromisoformat(str(payload["timestamp"]))
    event = event_snapshot(
        public_id="",
        type_key=type_key,
        type_title=type_key,
        severity=str(payload.get("severity") or stored.get("severity") or "INFO"),
        message=str(payload.get("message") or ""),
        source={"name": payload.get("serviceName"), "url": payload.get("serviceUrl")},
        subject={"status": status or None},
        labels={},
        data={key: value for key, value in old_event.items() if key != "type"},
        occurred_at=moment,
        received_at=moment,
    )
    subject = stored.get("subject")
    return DeliveryContent(
        kind=kind,
        event=event,
        payload=payload,
        subject=str(subject) if subject else None,
        recipient_name=payload.get("username"),
    )
