"""Driving the console over HTTP in tests: logging in through the form, posting forms
with their CSRF token, and checking pages for untranslated keys."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ADMIN_PASSWORD

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def console_login(
    client: httpx.AsyncClient,
    username: str = "admin",
    password: str = ADMIN_PASSWORD,
    language: str = "en",
) -> None:
    """Log ``client`` in to the console (its cookies keep the session), reading pages in
    ``language``."""
    client.cookies.set("nabat_lang", language)
    login = await client.get("/login")
    answer = await client.post(
        "/login",
        data={"csrf": csrf_of(login.text), "username": username, "password": password},
    )
    assert answer.status_code == 303, answer.text


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, fields: dict[str, str]
) -> httpx.Response:
    """Post ``fields`` to ``action`` with the CSRF token read from ``page``."""
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    return await client.post(action, data={"csrf": csrf_of(shown.text), **fields})


def assert_translated(html: str) -> None:
    """No wording key is missing from the page's language."""
    assert "⟦" not in html, re.findall(r"⟦[^⟧]*⟧", html)
