"""The ``nabat`` command."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
import uvicorn
import uvloop
from sqlalchemy.ext.asyncio import AsyncSession
from uvicorn.config import STARTUP_FAILURE

from nabat.app import bootstrap_admin, build_state, create_app, end_streams
from nabat.clock import SystemClock
from nabat.db.engine import create_engine
from nabat.db.migrate import upgrade_to_head
from nabat.errors import NabatError, NotFound
from nabat.live.server import Server
from nabat.loops import run_loops
from nabat.models.account import Role
from nabat.services import accounts, apikeys, members
from nabat.services.access import DEFAULT_API_KEY_SCOPES, ROLE_SCOPES, Principal
from nabat.settings import Settings
from nabat.state import AppState

app = typer.Typer(help="Nabat: self-hosted alert and notification service.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
apikey_app = typer.Typer(help="Manage project API keys.", no_args_is_help=True)
member_app = typer.Typer(help="Manage project members.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(member_app, name="member")


# Delivery allocates many short-lived objects; with CPython's default first threshold
# (700) the cyclic collector runs thousands of times a second under load and costs about a
# fifth of the throughput (docs/benchmarks.md). Reference counting frees almost all of it.
SWITCH_INTERVAL = 0.001
GC_THRESHOLD = 100_000


def _tune_gc() -> None:
    # Objects alive at start (modules, settings, the app) are never garbage: keep them out
    # of every collection.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    # The database driver runs in its own thread and needs the GIL for every statement;
    # with the default 5 ms switch interval a busy event loop keeps it waiting that long.
    # Much shorter (0.1 ms was tried) spends the event loop's time handing the GIL over:
    # 1 ms served both single events and batches best (docs/benchmarks.md).
    sys.setswitchinterval(SWITCH_INTERVAL)


def _settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return settings


HostOption = Annotated[str | None, typer.Option(help="Overrides NABAT_HOST.")]
PortOption = Annotated[int | None, typer.Option(help="Overrides NABAT_PORT.")]


def _serve(host: str | None, port: int | None, *, workers: bool | None) -> None:
    settings = _settings()
    if workers is not None:
        settings = settings.model_copy(update={"run_workers": workers})
    _tune_gc()
    application = create_app(settings)
    config = uvicorn.Config(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        # The client address is worked out by Nabat (security/clients.py), believing
        # X-Forwarded-For only from NABAT_TRUSTED_PROXIES; uvicorn's own reading would
        # trust any local process (its default is 127.0.0.1) and replace the peer first.
        proxy_headers=False,
    )
    # Not uvicorn.run: its server would wait for the live streams before shutting down.
    server = Server(config, before_shutdown=lambda: end_streams(application))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


@app.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Run the API and a delivery worker in one process (migrations applied first)."""
    _serve(host, port, workers=None)


@app.command()
def api(host: HostOption = None, port: PortOption = None) -> None:
    """Run the API alone; pair it with `nabat worker` processes that deliver."""
    _serve(host, port, workers=False)


@app.command()
def worker() -> None:
    """Run delivery workers without the API; several may share one PostgreSQL.

    SIGTERM or Ctrl-C finishes in-flight sends (or hands them back) before exiting.
    """
    settings = _settings()
    _tune_gc()

    async def run() -> None:
        state = await build_state(settings, SystemClock())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # Registered before any worker claims, or others would take its rows.
        await state.liveness.register()
        try:
            await run_loops(state.delivery_loops(), stop)
        finally:
            await state.close()

    uvloop.run(run())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings()

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo("database is up to date")


def _run_with_state(action: Callable[[AppState, AsyncSession], Awaitable[None]]) -> None:
    """Open the database (first admin included), run ``action`` in a session, close.

    A :class:`NabatError` becomes a one-line message and exit status 1.
    """
    settings = _settings()

    async def run() -> None:
        state = await build_state(settings, SystemClock())
        try:
            await bootstrap_admin(state)
            async with state.sessions() as session:
                await action(state, session)
        finally:
            await state.close()

    try:
        asyncio.run(run())
    except NabatError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None


@user_app.command("create")
def user_create(
    username: str,
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    project: Annotated[
        str, typer.Option(help="Project id or slug to join.")
    ] = accounts.DEFAULT_PROJECT_SLUG,
    role: Annotated[Role, typer.Option(help="Role in the project.")] = Role.MEMBER,
    superuser: Annotated[bool, typer.Option(help="Instance administrator.")] = False,
) -> None:
    """Create a user and give them a role in a project."""

    async def action(state: AppState, session: AsyncSession) -> None:
        target = await accounts.get_project(session, project)
        user = await accounts.create_user(
            session,
            state.clock,
            username=username,
            email=email,
            password=password,
            is_superuser=superuser,
        )
        await accounts.set_membership(session, project_id=target.id, user_id=user.id, role=role)
        await session.commit()
        typer.echo(f"created user {user.username} (id {user.id}) as {role.value} of {target.slug}")

    _run_with_state(action)


@apikey_app.command("create")
def apikey_create(
    name: str,
    project: Annotated[str, typer.Option(help="Project id or slug.")] = (
        accounts.DEFAULT_PROJECT_SLUG
    ),
    scope: Annotated[list[str] | None, typer.Option(help="A scope; repeat for several.")] = None,
) -> None:
    """Create a project API key and print it (shown only once)."""

    async def action(state: AppState, session: AsyncSession) -> None:
        target = await accounts.get_project(session, project)
        scopes = apikeys.parse_scopes(scope) if scope else list(DEFAULT_API_KEY_SCOPES)
        creator = Principal(project_id=target.id, scopes=ROLE_SCOPES[Role.OWNER])
        key, plaintext = await apikeys.create_api_key(
            session, state.clock, creator=creator, name=name, scopes=scopes
        )
        await session.commit()
        typer.echo(f"API key {key.id} for project {target.slug} ({', '.join(key.scopes)}):")
        typer.echo(plaintext)

    _run_with_state(action)


@member_app.command("remove")
def member_remove(
    user: Annotated[str, typer.Argument(help="User id, username or e-mail.")],
    project: Annotated[str, typer.Option(help="Project id or slug.")] = (
        accounts.DEFAULT_PROJECT_SLUG
    ),
) -> None:
    """Take a user out of a project (its last owner stays: make another owner first)."""

    async def action(state: AppState, session: AsyncSession) -> None:
        target = await accounts.get_project(session, project)
        found = await accounts.find_user(session, user)
        if found is None:
            raise NotFound(f"user {user!r} not found; give their id, username or e-mail")
        # Whoever runs the command holds the database: an instance administrator.
        operator = Principal(
            project_id=target.id,
            scopes=ROLE_SCOPES[Role.OWNER],
            role=Role.OWNER,
            is_superuser=True,
        )
        removed = await members.remove(session, operator, found.id)
        await session.commit()
        typer.echo(f"removed {removed.username} (id {removed.user_id}) from {target.slug}")

    _run_with_state(action)


def main() -> None:
    """Entry point of the ``nabat`` script."""
    app()
