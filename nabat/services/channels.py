"""Channel management: create, read, update (partially), delete, and the default channel."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.channels.base import MASK, ChannelConfig, restore_masked
from nabat.channels.registry import channel_type, channel_types, config_model
from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.db.unit import after_commit
from nabat.errors import Conflict, ErrorCode, NotFound, ValidationFailed
from nabat.models.channel import Channel
from nabat.security.crypto import SecretBox
from nabat.sentences import Sentence
from nabat.services.check_interval import check_interval
from nabat.services.config_errors import config_validation_failed
from nabat.services.routing_cache import CONTEXTS

_NAME_MAX = 200

# Channel ids are 32-bit INTEGER columns; a larger id cannot exist, and PostgreSQL (or
# SQLite past 64 bits) would fail on it instead of finding nothing.


@dataclass(frozen=True)
class ChannelView:
    """A channel with its configuration decrypted and parsed."""

    row: Channel
    config: ChannelConfig


@dataclass(frozen=True)
class ChannelChanges:
    """A partial update: ``None`` means "leave as is"."""

    name: str | None = None
    type: str | None = None
    configuration: dict[str, Any] | None = None
    enabled: bool | None = None
    is_default: bool | None = None
    # Seconds between scheduled checks; 0 turns them off.
    check_interval_seconds: int | None = None


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message, "type": "value_error"}],
    )


def _interval(type_name: str, config: ChannelConfig, seconds: int) -> int | None:
    kind = channel_type(type_name)
    assert kind is not None, type_name  # checked by _check_type
    return check_interval(kind, config, seconds)


def _without_nulls(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in raw.items() if value is not None}


def _carried_secrets(config: ChannelConfig, patch: dict[str, Any]) -> list[str]:
    """Secret keys whose stored value the patch keeps (by omitting or masking them)."""
    carried = []
    for key, value in config.to_public().items():
        holds_mask = value == MASK or (isinstance(value, dict) and MASK in value.values())
        if not holds_mask:
            continue
        sent = patch.get(key)
        if key not in patch or sent == MASK or (isinstance(sent, dict) and MASK in sent.values()):
            carried.append(key)
    return carried


def _merged(config: ChannelConfig, patch: dict[str, Any]) -> ChannelConfig:
    """Merge a partial configuration into the stored one, masks restored.

    Moving the destination (SMTP host, webhook URL, API base URL) requires the secrets
    to be sent again in clear.
    """
    stored = config.to_storage()
    restored = restore_masked(patch, stored)
    # Compared once restored: a URL sent back as read (credentials masked) has not moved.
    moved = [
        key
        for key in type(config).destination_keys
        if restored.get(key) is not None and restored[key] != stored.get(key)
    ]
    if moved:
        carried = _carried_secrets(config, patch)
        if carried:
            field = f"configuration.{carried[0]}"
            raise _field_error(
                field,
                Sentence(
                    "changing {moved} requires sending {carried} again in clear: stored "
                    "secrets are never sent to a new destination",
                    moved=", ".join(moved),
                    carried=", ".join(carried),
                ),
            )
    merged = _without_nulls({**stored, **restored})
    return parse_config(type(config), merged)


def _check_type(type_name: str) -> type[ChannelConfig]:
    model = config_model(type_name.upper())
    if model is None:
        raise _field_error(
            "type",
            Sentence(
                "unknown channel type {type!r}; use one of: {types}",
                type=type_name,
                types=", ".join(channel_types()),
            ),
        )
    return model


def _builtin(type_name: str) -> bool:
    kind = channel_type(type_name)
    return kind is not None and kind.builtin


def _check_retype(old: str, new: str) -> None:
    """Refuse turning a channel into a built-in type's, or a built-in one into another."""
    if old == new:
        return
    if _builtin(old):
        raise _field_error(
            "type",
            Sentence(
                "the {type} channel is built in and keeps its type; add a channel of "
                "type {new} instead",
                type=old,
                new=new,
            ),
        )
    if _builtin(new):
        raise _field_error(
            "type",
            Sentence(
                "a project has one {type} channel, made by Nabat; another channel cannot "
                "become one",
                type=new,
            ),
        )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > _NAME_MAX:
        raise _field_error("name", Sentence("must be 1-{most} characters", most=_NAME_MAX))
    return name


def parse_config(model: type[ChannelConfig], raw: dict[str, Any]) -> ChannelConfig:
    """Validate a configuration against its type, raising a 422 that names each problem."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise config_validation_failed(exc, model) from None


class ChannelService:
    """Channel use-cases for one project.

    Changes are flushed to the session, never committed: the caller commits.
    """

    def __init__(self, session: AsyncSession, box: SecretBox, clock: Clock) -> None:
        self._session = session
        self._box = box
        self._clock = clock

    def view(self, row: Channel) -> ChannelView:
        """Decrypt and parse a stored channel."""
        model = _check_type(row.type)
        return ChannelView(
            row=row, config=model.model_validate(self._box.decrypt_json(row.config_sealed))
        )

    async def create(
        self,
        project_id: int,
        *,
        name: str,
        type_name: str,
        configuration: dict[str, Any],
        enabled: bool = True,
        is_default: bool = False,
        check_interval_seconds: int = 0,
    ) -> ChannelView:
        """Create a channel; ``is_default`` takes the default from any other channel;
        ``check_interval_seconds`` (0: none) schedules checks, the first one at once. A
        built-in type (in-app) is refused with a :class:`Conflict` where the project has
        its channel already."""
        model = _check_type(type_name)
        config = parse_config(model, configuration)
        if _builtin(model.type_name):
            await self._refuse_second(project_id, model.type_name)
        now = self._clock.now()
        interval = _interval(model.type_name, config, check_interval_seconds)
        row = Channel(
            check_interval_seconds=interval,
            next_check_at=now if interval else None,
            project_id=project_id,
            name=_check_name(name),
            type=model.type_name,
            config_sealed=self._box.encrypt_json(config.to_storage()),
            enabled=enabled,
            is_default=False,
            created_at=now,
            updated_at=now,
        )
        self._session.add(row)
        if is_default:
            # Flushed first: the default is taken by the stored row's id.
            await self._session.flush()
            await self._make_default(row)
        await self._store(project_id)
        return ChannelView(row=row, config=config)

    async def list(self, project_id: int) -> list[ChannelView]:
        """The project's channels in creation order."""
        rows = await self._session.scalars(
            select(Channel).where(Channel.project_id == project_id).order_by(Channel.id)
        )
        return [self.view(row) for row in rows]

    async def get(self, project_id: int, channel_id: int) -> ChannelView:
        """One channel of the project; another project's channel is reported missing."""
        return self.view(await self._row(project_id, channel_id))

    async def get_default(self, project_id: int) -> ChannelView:
        """The project's default channel."""
        row = await self._session.scalar(
            select(Channel).where(Channel.project_id == project_id, Channel.is_default)
        )
        if row is None:
            raise NotFound(
                "this project has no default channel; make one the default with "
                'PUT /api/v1/notifications/channels/{id} {"isDefault": true}',
                code=ErrorCode.CHANNEL_NOT_FOUND,
            )
        return self.view(row)

    async def update(
        self, project_id: int, channel_id: int, changes: ChannelChanges
    ) -> ChannelView:
        """Apply a partial update.

        Configuration keys are merged into the stored ones (``null`` removes a key) unless
        the type changes, when the configuration must be given whole. Masked secrets sent
        back are kept as stored. A built-in type's channel keeps its type, and no channel
        takes a built-in type.
        """
        current = await self.get(project_id, channel_id)
        row = current.row
        config = current.config
        if changes.name is not None:
            row.name = _check_name(changes.name)
        new_type = row.type
        if changes.type is not None:
            new_type = _check_type(changes.type).type_name
            _check_retype(row.type, new_type)
        if new_type != row.type and changes.configuration is None:
            raise _field_error(
                "configuration",
                Sentence(
                    "changing the type to {type} needs that type's whole configuration",
                    type=new_type,
                ),
            )
        if changes.configuration is not None:
            model = _check_type(new_type)
            if new_type != row.type:
                # A new type starts from nothing: no secret of the old type carries over.
                config = parse_config(model, _without_nulls(changes.configuration))
            else:
                config = _merged(config, changes.configuration)
            row.type = new_type
            row.config_sealed = self._box.encrypt_json(config.to_storage())
        if changes.enabled is not None:
            row.enabled = changes.enabled
        if changes.check_interval_seconds is not None:
            interval = _interval(row.type, config, changes.check_interval_seconds)
            if interval != row.check_interval_seconds:
                row.next_check_at = self._clock.now() if interval else None
            row.check_interval_seconds = interval
        elif row.check_interval_seconds and changes.configuration is not None:
            # A changed configuration must still be checkable (recipients removed?).
            _interval(row.type, config, row.check_interval_seconds)
        if changes.is_default is True and not row.is_default:
            await self._make_default(row)
        elif changes.is_default is False:
            row.is_default = False
        row.updated_at = self._clock.now()
        await self._store(project_id)
        return ChannelView(row=row, config=config)

    async def delete(self, project_id: int, channel_id: int) -> None:
        """Delete a channel of the project; a built-in one (in-app) is refused with a
        :class:`Conflict`: it can be switched off instead."""
        # The configuration is not read: a channel sealed with a lost key can still go.
        row = await self._row(project_id, channel_id)
        if _builtin(row.type):
            # Nabat makes it again for a project without one, at the next start.
            raise Conflict(
                Sentence(
                    "the {type} channel is built in and cannot be deleted; switch it off "
                    "instead (enabled: false)",
                    type=row.type,
                )
            )
        await self._session.delete(row)
        await self._store(project_id)

    async def _refuse_second(self, project_id: int, type_name: str) -> None:
        existing = await self._session.scalar(
            select(Channel.id).where(Channel.project_id == project_id, Channel.type == type_name)
        )
        if existing is not None:
            raise Conflict(
                Sentence(
                    "this project has its {type} channel already (channel {id}); a project "
                    "has one, made by Nabat",
                    type=type_name,
                    id=existing,
                )
            )

    async def _row(self, project_id: int, channel_id: int) -> Channel:
        row = await self._session.get(Channel, channel_id) if as_id(channel_id) else None
        if row is None or row.project_id != project_id:
            raise NotFound(
                Sentence(
                    "channel {id} not found in this project; list channels with "
                    "GET /api/v1/notifications/channels",
                    id=channel_id,
                ),
                code=ErrorCode.CHANNEL_NOT_FOUND,
            )
        return row

    async def _make_default(self, row: Channel) -> None:
        # Clear the old default first: the unique partial index allows one per project.
        await self._session.execute(
            update(Channel)
            .where(Channel.project_id == row.project_id, Channel.is_default, Channel.id != row.id)
            .values(is_default=False, updated_at=self._clock.now())
        )
        row.is_default = True

    async def _store(self, project_id: int) -> None:
        # Flushed here, not at the caller's commit, so that the one-default-per-project
        # index is checked while this use-case can still answer with a Conflict.
        try:
            await self._session.flush()
        except IntegrityError as exc:
            await self._session.rollback()
            raise Conflict(
                "another request changed the default channel at the same time; retry"
            ) from exc
        # Routing caches the project's channels; the next event must see this change,
        # once it is committed.
        after_commit(self._session, partial(CONTEXTS.forget, self._session, project_id))
