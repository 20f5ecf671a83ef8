"""Receivers for other tools: their answer, and the Grafana signature settings."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr

from nabat.schemas.base import ApiModel, StrictApiModel


class AlertOutcome(ApiModel):
    """What became of one alert: its event, or the first one if it repeats an alarm. The
    event is routed right after the answer; its record says what it became."""

    event_id: int
    status: str = Field(description='"ACCEPTED", or "DUPLICATE" for a repeat of a held alarm.')
    routing: str | None = Field(
        default=None, description='"PENDING" for an accepted alert: routed right after this.'
    )


class AlertsAccepted(ApiModel):
    """The 202 answer: every alert's outcome, in the order of the payload's alerts."""

    success: bool
    events: list[AlertOutcome]
    timestamp: datetime


class SignatureSettingsOut(ApiModel):
    """``GET /api/v1/integrations/grafana/settings``."""

    secret: str | None = Field(
        description='"********" when a secret is set; null when none is (no signature '
        "is asked for then)."
    )
    signature_header: str = Field(description="The header Grafana puts the signature in.")
    timestamp_header: str | None = Field(
        description="The header of the signed Unix time; null when the body alone is signed."
    )


class SignatureSettingsUpdate(StrictApiModel):
    """``PUT /api/v1/integrations/grafana/settings``: the keys given are set."""

    secret: SecretStr | None = Field(
        default=None,
        description="Grafana's HMAC secret (never shown again); null turns the check off; "
        '"********" keeps the stored one.',
    )
    signature_header: str | None = Field(
        default=None, description="null goes back to X-Grafana-Alerting-Signature."
    )
    timestamp_header: str | None = Field(
        default=None, description="null (or empty) signs the body alone."
    )
