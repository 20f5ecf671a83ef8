"""The long-lived parts of a running Nabat, built once at start and shared by requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from nabat.clock import Clock
from nabat.security.crypto import SecretBox
from nabat.security.keys import Keys
from nabat.security.ratelimit import AttemptLimiter
from nabat.settings import Settings


@dataclass
class AppState:
    """Everything a request handler may need beyond the request itself."""

    settings: Settings
    clock: Clock
    keys: Keys
    box: SecretBox
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    login_by_user: AttemptLimiter
    login_by_address: AttemptLimiter
