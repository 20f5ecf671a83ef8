"""The channel types added for issue 12, as an operator meets them in Chromium: each
generated form (SMS, TEAMS, EWS with the OAuth2 switch, GRAPH_MAIL, APPRISE) is filled in,
saved and tested against the local fake of its provider, and the success is said in the
console's language."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from playwright.async_api import Page

from nabat.channels.registry import channel_type
from tests.conftest import ADMIN_PASSWORD
from tests.fakes.apprise import AppriseFake
from tests.fakes.exchange import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT, ExchangeFake
from tests.fakes.sms import SMSRU_API_ID, running_sms_fakes
from tests.fakes.teams import TeamsFake
from tests.support.serving import served
from tests.web.browser import chromium

Fill = Callable[[Page], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    """One type's form as a person fills it in, and whom its test goes to."""

    type_name: str
    fill: Fill
    recipient: str = ""


async def _log_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.locator("#login-username").fill("admin")
    await page.locator("#login-password").fill(ADMIN_PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await page.wait_for_url(f"{base}/")


async def _save_and_test(page: Page, base: str, case: Case, language: str) -> str:
    """Fill the new-channel form, save it, run its Test; the test's answer."""
    await page.goto(f"{base}/channels/new?type={case.type_name}")
    await page.locator("#field-name").fill(f"{case.type_name} channel")
    await case.fill(page)
    await page.locator("form[action='/channels/new'] button[type=submit]").click()
    await page.wait_for_url(re.compile(r"/channels/\d+\?saved=1"))
    if case.recipient:
        await page.locator("#test-recipient").fill(case.recipient)
    await page.locator("#test button[type=submit]").click()
    answer = page.locator("#test [role=status], #test [role=alert]")
    text = await answer.first.inner_text()
    kind = channel_type(case.type_name)
    assert kind is not None
    assert text == kind.test_sent.said(language), f"{case.type_name}: {text}"
    assert "⟦" not in await page.content()
    return text


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_each_new_type_is_set_up_and_tested_through_its_generated_form(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    # exchangelib's OAuth client refuses plain http, which the local fake speaks.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    async with (
        running_sms_fakes() as sms,
        TeamsFake() as teams,
        ExchangeFake() as exchange,
        AppriseFake() as apprise,
        served(app) as base,
        chromium() as browser,
    ):

        async def sms_form(page: Page) -> None:
            await page.locator("#field-provider").select_option("SMSRU")
            await page.locator("#field-apiId").fill(SMSRU_API_ID)
            await page.locator("#field-apiBaseUrl").fill(sms.smsru.base_url)

        async def teams_form(page: Page) -> None:
            await page.locator("#field-webhookUrl").fill(teams.workflow_url)

        async def ews_form(page: Page) -> None:
            await page.locator("#field-server").fill(exchange.ews_url)
            # The switch hides the login and shows the app registration's fields.
            await page.locator("#field-oauth2").check()
            assert not await page.locator("#field-password").is_visible()
            await page.locator("#field-clientId").fill(CLIENT_ID)
            await page.locator("#field-tenantId").fill(TENANT)
            await page.locator("#field-clientSecret").fill(CLIENT_SECRET)
            await page.locator("#field-authorityHost").fill(exchange.base_url)
            await page.locator("#field-fromEmail").fill(MAILBOX)

        async def graph_form(page: Page) -> None:
            await page.locator("#field-tenantId").fill(TENANT)
            await page.locator("#field-clientId").fill(CLIENT_ID)
            await page.locator("#field-clientSecret").fill(CLIENT_SECRET)
            await page.locator("#field-fromEmail").fill(MAILBOX)
            await page.locator("#field-authorityHost").fill(exchange.base_url)
            await page.locator("#field-graphBaseUrl").fill(exchange.base_url)

        async def apprise_form(page: Page) -> None:
            await page.locator("#field-urls").fill(apprise.json_url)

        cases = [
            Case("SMS", sms_form, recipient="+79161234567"),
            Case("TEAMS", teams_form),
            Case("EWS", ews_form, recipient="ops@contoso.example"),
            Case("GRAPH_MAIL", graph_form, recipient="ops@contoso.example"),
            Case("APPRISE", apprise_form),
        ]
        context = await browser.new_context(
            locale=language, viewport={"width": 1280, "height": 900}
        )
        page = await context.new_page()
        await _log_in(page, base)
        for case in cases:
            await _save_and_test(page, base, case, language)
        await context.close()
    assert len(sms.smsru.requests) == 1
    assert len(teams.requests) == 1
    assert len(exchange.ews_sent) == 1
    assert len(exchange.graph_sent) == 1
    assert len(apprise.requests) == 1
