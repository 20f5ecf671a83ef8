"""Every page of the console, reached by following its own links from the dashboard, as an
administrator and as a viewer, in Russian and in English: no 4xx or 5xx, no untranslated
wording, and every input of every form has a label."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from nabat.channels.registry import channel_types
from tests.fakes.webhook import WebhookReceiver
from tests.support.delivery import deliver, webhook_channel
from tests.test_isolation import PASSWORD, add_user
from tests.web.support import console_login

# Where the crawl does not go: the API and its documents have tests of their own, and a
# stream never ends.
SKIPPED = ("/api/", "/docs", "/redoc", "/openapi.json", "/metrics")
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Page(HTMLParser):
    """The links of a page and its inputs that no label names."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.labelled: set[str] = set()
        self.inputs: list[tuple[str | None, str]] = []
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        elif tag == "label":
            self._in_label += 1
            if found.get("for"):
                self.labelled.add(str(found["for"]))
        elif tag in ("input", "select", "textarea"):
            kind = (found.get("type") or "text").lower() if tag == "input" else tag
            named = bool(found.get("aria-label") or found.get("aria-labelledby"))
            if kind not in UNLABELLED_TYPES and not named and not self._in_label:
                self.inputs.append((found.get("id"), f"<{tag} name={found.get('name')!r}>"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._in_label:
            self._in_label -= 1

    def unlabelled(self) -> list[str]:
        return [what for ident, what in self.inputs if ident is None or ident not in self.labelled]


async def _crawl(client: httpx.AsyncClient, *starts: str) -> dict[str, list[str]]:
    """Visit every page reachable from ``/`` (and ``starts``: pages reached by a form,
    not a link); the problems found on each."""
    problems: dict[str, list[str]] = {}
    seen: set[str] = set()
    queue = ["/", *starts]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        answer = await client.get(path)
        found: list[str] = []
        if answer.status_code >= 400:
            found.append(f"status {answer.status_code}")
        if answer.headers.get("content-type", "").startswith("text/html"):
            if "⟦" in answer.text:
                found.append("untranslated: " + answer.text.split("⟦", 1)[1].split("⟧")[0])
            parsed = _Page()
            parsed.feed(answer.text)
            found.extend(f"no label: {what}" for what in parsed.unlabelled())
            for link in parsed.links:
                target = urlsplit(urljoin(f"http://127.0.0.1{path}", link))
                if target.netloc != "127.0.0.1" or target.path.startswith(SKIPPED):
                    continue
                if target.path.endswith("/stream"):
                    continue
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
        if found:
            problems[path] = found
    assert len(seen) > 5, f"the crawl found only {sorted(seen)}"
    return problems


async def _with_records(
    client: httpx.AsyncClient, headers: dict[str, str], app: FastAPI, url: str
) -> None:
    """A channel, a delivered notification and an event, so that lists have rows whose
    detail pages the crawl can follow."""
    await webhook_channel(client, headers, url, isDefault=True)
    sent = await client.post(
        "/api/v1/notifications/send",
        json={"status": "DOWN", "severity": "CRITICAL", "message": "billing is down"},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    await deliver(app)
    channel = (await client.get("/api/v1/notifications/channels", headers=headers)).json()[0]
    rule = {"name": "database down", "actions": [{"channelId": channel["id"]}]}
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    silence = {"matchers": [{"name": "env", "value": "prod"}], "endsAt": ends, "comment": "c"}
    template = {"channelKind": "chat", "type": "service.down", "text": "{{ event.message }}"}
    for path, body in (
        ("/api/v1/rules", rule),
        ("/api/v1/silences", silence),
        ("/api/v1/templates", template),
    ):
        made = await client.post(path, json=body, headers=headers)
        assert made.status_code == 201, made.text


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_every_page_answers_translated_and_labelled(
    language: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    await _with_records(client, admin_headers, app, receiver.url)
    await add_user(client, admin_headers, "watcher", "viewer")
    transport = httpx.ASGITransport(app=app)
    for username, password in (("admin", None), ("watcher", PASSWORD)):
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as browser:
            if password is None:
                await console_login(browser, language=language)
            else:
                await console_login(browser, username, password, language=language)
            # The new-channel form of every registered type (reached by picking a type).
            forms = [f"/channels/new?type={name}" for name in channel_types()]
            assert await _crawl(browser, *(forms if password is None else [])) == {}, username
