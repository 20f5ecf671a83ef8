"""What a delivery says: built once when it is queued, read back by the worker."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from nabat.channels.contract import OutgoingMessage


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


def render_default(payload: dict[str, Any]) -> dict[str, Any]:
    """Subject, text and HTML for a notification, in Russian and English.

    The routing and templates issue replaces this with per-type templates; until then
    every channel gets the same plain, bilingual wording.
    """
    service = payload.get("serviceName") or "Nabat"
    status = payload.get("status") or ""
    severity = payload.get("severity") or "INFO"
    subject = f"[{severity}] {service}: {status}".strip().rstrip(":")
    lines = [str(payload.get("message") or "")]
    lines.append(f"Service / Сервис: {service}")
    if status:
        lines.append(f"Status / Статус: {status}")
    if payload.get("serviceUrl"):
        lines.append(f"URL: {payload['serviceUrl']}")
    text = "\n".join(line for line in lines if line)
    html = "<br>\n".join(escape(line) for line in lines if line)
    return {"subject": subject, "text": text, "html": f"<p>{html}</p>", "severity": severity}


def build_content(payload: dict[str, Any], event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored content of a delivery: rendered text plus the raw payload and event."""
    return {**render_default(payload), "payload": payload, "event": event}


def outgoing(public_id: str, recipient: str | None, content: dict[str, Any]) -> OutgoingMessage:
    """The message a sender gets for a stored delivery."""
    return OutgoingMessage(
        delivery_id=public_id,
        subject=str(content.get("subject", "")),
        text=str(content.get("text", "")),
        html=content.get("html"),
        recipient=recipient,
        severity=str(content.get("severity", "INFO")),
        payload=dict(content.get("payload") or {}),
        event=content.get("event"),
    )
