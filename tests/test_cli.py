"""The ``nabat`` command: migrate, user create, apikey create."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from typer.testing import CliRunner

from nabat.app import create_app
from nabat.cli import app as cli
from nabat.settings import Settings
from tests.conftest import ADMIN_PASSWORD, SECRET_KEY, Backend, login


@pytest.fixture
def env(backend: Backend, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NABAT_DATABASE_URL", backend.url)
    monkeypatch.setenv("NABAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NABAT_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("NABAT_ADMIN_PASSWORD", ADMIN_PASSWORD)


def test_migrate_is_idempotent(env: None) -> None:
    for _ in range(2):
        result = CliRunner().invoke(cli, ["migrate"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


async def test_user_and_api_key_made_on_the_command_line_work_over_http(
    env: None, settings: Settings
) -> None:
    runner = CliRunner()
    # The commands run their own event loop, so they go to a thread here.
    made = await asyncio.to_thread(
        runner.invoke,
        cli,
        [
            "user",
            "create",
            "ops",
            "ops@example.org",
            "--role",
            "viewer",
            "--password",
            "ops-pass-1",
        ],
    )
    assert made.exit_code == 0, made.output
    assert "viewer of default" in made.output
    key_run = await asyncio.to_thread(
        runner.invoke, cli, ["apikey", "create", "monitor", "--scope", "channels:read"]
    )
    assert key_run.exit_code == 0, key_run.output
    key = key_run.output.strip().splitlines()[-1]
    assert key.startswith("nbt_")

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            headers = await login(http, "ops", "ops-pass-1")
            profile = (await http.get("/api/auth/profile", headers=headers)).json()
            assert profile["projects"][0]["role"] == "viewer"
            listed = await http.get(
                "/api/v1/notifications/channels", headers={"Authorization": f"Bearer {key}"}
            )
            assert listed.status_code == 200


def test_duplicate_user_fails_with_a_clear_message(env: None) -> None:
    runner = CliRunner()
    args = ["user", "create", "dup", "dup@example.org", "--password", "dup-pass-1"]
    assert runner.invoke(cli, args).exit_code == 0
    again = runner.invoke(cli, args)
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_an_unknown_role_is_refused_with_the_choices(env: None) -> None:
    result = CliRunner().invoke(
        cli,
        ["user", "create", "x1", "x1@example.org", "--password", "x-pass-123", "--role", "boss"],
    )
    assert result.exit_code == 2
    assert "owner" in result.output
    assert "Traceback" not in result.output


def test_member_remove_takes_a_user_out_but_keeps_the_last_owner(env: None) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli, ["user", "create", "ops", "ops@example.org", "--password", "ops-pass-1"]
    )
    assert made.exit_code == 0, made.output
    removed = runner.invoke(cli, ["member", "remove", "--project", "default", "OPS@example.org"])
    assert removed.exit_code == 0, removed.output
    assert "removed ops" in removed.output
    again = runner.invoke(cli, ["member", "remove", "ops"])
    assert again.exit_code == 1
    assert "not a member of this project" in again.output
    last = runner.invoke(cli, ["member", "remove", "admin"])
    assert last.exit_code == 1
    assert "last owner" in last.output
    assert "Traceback" not in last.output
    nobody = runner.invoke(cli, ["member", "remove", "ghost"])
    assert nobody.exit_code == 1
    assert "user 'ghost' not found" in nobody.output
