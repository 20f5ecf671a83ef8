"""``create_app(settings)``: the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from nabat import __version__
from nabat.api import (
    admin,
    auth,
    channels,
    contacts,
    deliveries,
    events,
    health,
    inbox,
    inbox_stream,
    integrations,
    notification_types,
    preferences,
    rules,
    silences,
    templates,
)
from nabat.api import settings as settings_api
from nabat.api.body_limit import BodyLimitMiddleware
from nabat.api.errors import install_error_handlers
from nabat.api.input_policy import InputPolicyMiddleware
from nabat.api.openapi import install_openapi
from nabat.channels.outbound import Outbound
from nabat.channels.smtp_pool import SmtpPools
from nabat.clock import Clock, SystemClock
from nabat.db.engine import create_engine, create_sessionmaker
from nabat.db.gate import WriteGate
from nabat.db.migrate import upgrade_to_head
from nabat.delivery.metrics import Metrics
from nabat.delivery.senders import build_senders
from nabat.loops import run_loops
from nabat.security.crypto import SecretBox
from nabat.security.keys import derive_keys, load_master_secret
from nabat.security.ratelimit import AttemptLimiter
from nabat.security.ssrf import OutboundPolicy
from nabat.services.accounts import ensure_first_admin
from nabat.services.inapp_channels import add_inapp_channels
from nabat.settings import Settings
from nabat.signals import signals_for
from nabat.state import AppState
from nabat.web.console import install_console

log = logging.getLogger("nabat")


async def build_state(settings: Settings, clock: Clock) -> AppState:
    """Open the database (migrated to the latest schema) and derive the keys."""
    master = load_master_secret(
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        settings.data_dir,
    )
    keys = derive_keys(master)
    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
    )
    await upgrade_to_head(engine)
    limit = settings.login_attempts_per_minute
    outbound = Outbound(OutboundPolicy(settings.outbound_allow))
    smtp = SmtpPools(max_connections=settings.smtp_pool_size, clock=clock)
    state = AppState(
        signals=signals_for(settings.effective_database_url),
        settings=settings,
        clock=clock,
        keys=keys,
        box=SecretBox(keys.fernet_key),
        engine=engine,
        sessions=create_sessionmaker(engine),
        login_by_user=AttemptLimiter(clock, limit),
        login_by_address=AttemptLimiter(clock, limit),
        outbound=outbound,
        smtp=smtp,
        senders=build_senders(outbound, smtp, clock),
        metrics=Metrics(),
        write_gate=WriteGate(serialise=engine.dialect.name == "sqlite"),
    )
    # Started once the state has subscribed its worker and router: they listen from here.
    await state.signals.start()
    return state


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


async def provide_inapp_channels(state: AppState) -> None:
    """Give every project without its in-app channel one (made before the channel type
    existed, or by ``ensure_first_admin``, which has no key to seal its configuration)."""
    async with state.sessions() as session, state.write_gate:
        made = await add_inapp_channels(session, state.box, state.clock)
        await session.commit()
    if made:
        log.info("made the in-app channel of %d projects", made)


def end_streams(app: FastAPI) -> None:
    """End the application's live streams: the server is about to stop and would
    otherwise wait for them (``nabat.live.server``)."""
    state: AppState | None = getattr(app.state, "nabat", None)
    if state is not None:
        state.hub.end_streams()


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """Build the application. Nothing touches the database until the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await build_state(settings, clock or SystemClock())
        app.state.nabat = state
        stop = asyncio.Event()
        runner: asyncio.Task[None] | None = None
        live: asyncio.Task[None] | None = None
        try:
            await bootstrap_admin(state)
            await provide_inapp_channels(state)
            if settings.run_workers:
                # Registered before any worker claims, or others would take its rows.
                await state.liveness.register()
                runner = asyncio.create_task(run_loops(state.delivery_loops(), stop))
            await state.hub.start()
            live = asyncio.create_task(run_loops([state.hub], stop))
            yield
        finally:
            stop.set()
            if runner is not None:
                await runner
            if live is not None:
                await live
            await state.close()

    app = FastAPI(
        title="Nabat",
        version=__version__,
        description="Self-hosted alert and notification service.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # The last added runs first: the body is buffered (and its size checked) before the
    # input policy reads it.
    app.add_middleware(InputPolicyMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    # Routes are matched in order: the busiest first.
    for module in (
        events,
        health,
        auth,
        channels,
        deliveries,
        admin,
        settings_api,
        notification_types,
        contacts,
        preferences,
        rules,
        silences,
        integrations,
        templates,
        inbox,
        inbox_stream,
    ):
        app.include_router(module.router)
    install_console(app)
    install_openapi(app)
    return app
