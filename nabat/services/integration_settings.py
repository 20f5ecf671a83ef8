"""How a receiver for another tool checks what it gets: the secret of Grafana's HMAC
signature (sealed like channel secrets) and the headers it comes in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.base import MASK
from nabat.clock import Clock
from nabat.errors import Conflict
from nabat.integrations.signature import SignatureCheck
from nabat.models.integration import IntegrationSettings
from nabat.security.crypto import SecretBox
from nabat.services.project_settings import UNSET, Unset, invalid

GRAFANA = "grafana"
DEFAULT_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
HEADER_MAX = 100
SECRET_MAX = 500
# RFC 9110 field names: one "token".
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Authorization carries the project's API key to the very same endpoint.
_TAKEN = frozenset({"authorization"})


@dataclass(frozen=True)
class SignatureSettings:
    """A receiver's signature settings as the API shows them: whether a secret is set
    (with none, no signature is asked for), never the secret itself."""

    secret_set: bool
    signature_header: str
    timestamp_header: str | None


DEFAULTS = SignatureSettings(
    secret_set=False, signature_header=DEFAULT_SIGNATURE_HEADER, timestamp_header=None
)


@dataclass(frozen=True)
class SignatureChanges:
    """A partial update: :data:`UNSET` leaves a field; ``None`` removes the secret (and
    the check), goes back to the default signature header, or drops the timestamp header.
    The mask ``"********"`` as the secret keeps the stored one."""

    secret: str | Unset | None = UNSET
    signature_header: str | Unset | None = UNSET
    timestamp_header: str | Unset | None = UNSET


def _view(row: IntegrationSettings | None) -> SignatureSettings:
    if row is None:
        return DEFAULTS
    return SignatureSettings(
        secret_set=row.secret_sealed is not None,
        signature_header=row.signature_header,
        timestamp_header=row.timestamp_header,
    )


async def _row(session: AsyncSession, project_id: int, kind: str) -> IntegrationSettings | None:
    found: IntegrationSettings | None = await session.scalar(
        select(IntegrationSettings).where(
            IntegrationSettings.project_id == project_id, IntegrationSettings.kind == kind
        )
    )
    return found


async def settings_of(session: AsyncSession, project_id: int, kind: str) -> SignatureSettings:
    """The receiver's settings (the defaults, no secret, when never saved)."""
    return _view(await _row(session, project_id, kind))


async def signature_check(
    session: AsyncSession, box: SecretBox, project_id: int, kind: str
) -> SignatureCheck | None:
    """What a request to the receiver must be signed with; ``None`` when no secret is set.

    Raises ``ValueError`` when the secret was sealed with another service key.
    """
    row = await _row(session, project_id, kind)
    if row is None or row.secret_sealed is None:
        return None
    return SignatureCheck(
        secret=str(box.decrypt_json(row.secret_sealed)["secret"]),
        signature_header=row.signature_header,
        timestamp_header=row.timestamp_header,
    )


def _header(field: str, value: str) -> str:
    name = value.strip()
    if not _FIELD_NAME.fullmatch(name) or len(name) > HEADER_MAX:
        raise invalid(
            field,
            f"must be an HTTP header name of at most {HEADER_MAX} letters, digits and "
            "-_.!#$%&'*+^`|~ (no spaces or colons)",
        )
    if name.lower() in _TAKEN:
        raise invalid(field, f"{name} carries the project's API key; pick another header")
    return name


def _sealed(box: SecretBox, secret: str | None, sealed: str | None) -> str | None:
    """The sealed secret to store for ``secret`` as sent (``sealed`` is the stored one)."""
    if secret is None:
        return None
    if secret == MASK:
        if sealed is None:
            raise invalid("secret", f"holds the mask {MASK!r} but no secret is stored; send one")
        return sealed
    if not secret:
        raise invalid("secret", "must not be empty; send null to turn the signature check off")
    if len(secret) > SECRET_MAX:
        raise invalid("secret", f"must be at most {SECRET_MAX} characters")
    return box.encrypt_json({"secret": secret})


async def update_settings(
    session: AsyncSession,
    box: SecretBox,
    clock: Clock,
    project_id: int,
    kind: str,
    changes: SignatureChanges,
) -> SignatureSettings:
    """Apply a partial update and return the settings; the caller commits.

    Raises :class:`ValidationFailed` naming the first bad field (nothing is saved then),
    :class:`Conflict` when another request saved the first settings at the same moment.
    """
    row = await _row(session, project_id, kind)
    current = _view(row)
    sealed = row.secret_sealed if row is not None else None
    if not isinstance(changes.secret, Unset):
        sealed = _sealed(box, changes.secret, sealed)
    header = current.signature_header
    if not isinstance(changes.signature_header, Unset):
        header = DEFAULT_SIGNATURE_HEADER
        if changes.signature_header is not None:
            header = _header("signatureHeader", changes.signature_header)
    stamp = current.timestamp_header
    if not isinstance(changes.timestamp_header, Unset):
        stamp = None
        if changes.timestamp_header is not None and changes.timestamp_header.strip():
            stamp = _header("timestampHeader", changes.timestamp_header)
    if stamp is not None and stamp.lower() == header.lower():
        raise invalid("timestampHeader", "must differ from signatureHeader")
    if row is None:
        row = IntegrationSettings(project_id=project_id, kind=kind)
        session.add(row)
    row.secret_sealed = sealed
    row.signature_header = header
    row.timestamp_header = stamp
    row.updated_at = clock.now()
    try:
        # Flushed here, not at the caller's commit, so that a racing first save is
        # refused while this use-case can still answer with a Conflict.
        await session.flush()
    except IntegrityError as exc:
        # Two first saves race: the unique (project, kind) lets one through. Saving again
        # would silently drop one caller's change.
        await session.rollback()
        raise Conflict(
            "another request saved these settings at the same moment; read them and send "
            "your change again"
        ) from exc
    return _view(row)
