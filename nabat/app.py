"""``create_app(settings)``: the FastAPI application and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from nabat import __version__
from nabat.api import admin, auth, channels, health
from nabat.api.body_limit import BodyLimitMiddleware
from nabat.api.errors import install_error_handlers
from nabat.clock import Clock, SystemClock
from nabat.db.engine import create_engine, create_sessionmaker
from nabat.db.migrate import upgrade_to_head
from nabat.security.crypto import SecretBox
from nabat.security.keys import derive_keys, load_master_secret
from nabat.security.ratelimit import AttemptLimiter
from nabat.services.accounts import ensure_first_admin
from nabat.settings import Settings
from nabat.state import AppState

log = logging.getLogger("nabat")


async def build_state(settings: Settings, clock: Clock) -> AppState:
    """Open the database (migrated to the latest schema) and derive the keys."""
    master = load_master_secret(
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        settings.data_dir,
    )
    keys = derive_keys(master)
    engine = create_engine(settings.effective_database_url)
    await upgrade_to_head(engine)
    limit = settings.login_attempts_per_minute
    return AppState(
        settings=settings,
        clock=clock,
        keys=keys,
        box=SecretBox(keys.fernet_key),
        engine=engine,
        sessions=create_sessionmaker(engine),
        login_by_user=AttemptLimiter(clock, limit),
        login_by_address=AttemptLimiter(clock, limit),
    )


async def bootstrap_admin(state: AppState) -> None:
    """Create the first administrator on an empty database and say how to log in."""
    settings = state.settings
    async with state.sessions() as session:
        created = await ensure_first_admin(
            session,
            state.clock,
            email=settings.admin_email,
            password=settings.admin_password.get_secret_value()
            if settings.admin_password
            else None,
        )
        await session.commit()
    if created is None:
        return
    log.info("created the first administrator %r (%s)", created.user.username, created.user.email)
    if created.generated_password:
        # Printed once, on purpose: no other copy of this password exists.
        print(
            f"\n  Nabat: first administrator created.\n"
            f"  login: {created.user.username} (or {created.user.email})\n"
            f"  password: {created.generated_password}\n"
            f"  This password is shown only now; change it or set NABAT_ADMIN_PASSWORD.\n",
            flush=True,
        )


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """Build the application. Nothing touches the database until the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await build_state(settings, clock or SystemClock())
        app.state.nabat = state
        try:
            await bootstrap_admin(state)
            yield
        finally:
            await state.engine.dispose()

    app = FastAPI(
        title="Nabat",
        version=__version__,
        description="Self-hosted alert and notification service.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    for module in (health, auth, channels, admin):
        app.include_router(module.router)
    return app
