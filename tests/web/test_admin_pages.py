"""The console's settings, API keys, members and contact points pages, driven over HTTP
as a user would, checked through the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from tests.test_isolation import PASSWORD, add_user
from tests.web.support import assert_translated, console_login, csrf_of, post_form

PAGES = ("/settings", "/api-keys", "/members", "/me/contact-points")


@asynccontextmanager
async def second_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser over the same application (its own cookies)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


def field_error(html: str, field: str) -> str:
    """The error shown next to the input ``field`` (its ``aria-describedby`` target)."""
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', html)
    assert found is not None, f"no error next to {field}"
    return found.group(1)


def notice(html: str) -> str:
    """The page's notice (what a change did)."""
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', html)
    assert found is not None, "no notice on the page"
    return found.group(1)


async def test_the_mail_card_saves_what_the_api_then_returns(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    fields = {
        "fromAddress": "Robot@Example.org",
        "fromName": "Nabat",
        "replyTo": "help@example.org",
    }
    saved = await post_form(client, "/settings", "/settings/mail", fields)
    assert saved.status_code == 303, saved.text
    mail = (await client.get("/api/v1/settings/mail", headers=admin_headers)).json()
    assert (mail["fromAddress"], mail["fromName"], mail["replyTo"]) == (
        "robot@example.org",
        "Nabat",
        "help@example.org",
    )
    shown = await client.get(saved.headers["location"])
    assert 'value="robot@example.org"' in shown.text
    assert notice(shown.text) == "Saved."


async def test_a_bad_mail_address_is_shown_next_to_its_field_with_what_was_typed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    fields = {"fromAddress": "not an address", "fromName": "Nabat", "replyTo": "help@example.org"}
    failed = await post_form(client, "/settings", "/settings/mail", fields)
    assert failed.status_code == 422
    assert field_error(failed.text, "fromAddress").startswith("Not accepted: ")
    assert 'value="not an address"' in failed.text
    assert 'value="Nabat"' in failed.text
    mail = (await client.get("/api/v1/settings/mail", headers=admin_headers)).json()
    assert mail["fromAddress"] is None


async def test_the_mail_fields_go_together_and_each_missing_one_is_marked(
    client: httpx.AsyncClient,
) -> None:
    await console_login(client, language="ru")
    fields = {"fromAddress": "robot@example.org", "fromName": "", "replyTo": ""}
    failed = await post_form(client, "/settings", "/settings/mail", fields)
    assert failed.status_code == 422
    assert field_error(failed.text, "fromName").startswith("Не принято: ")
    assert "replyTo-error" in failed.text
    assert "fromAddress-error" not in failed.text
    assert_translated(failed.text)


async def test_language_signature_and_recipients_are_saved(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    fields = {"language": "en", "signature": "The on-call team\nExample Ltd"}
    saved = await post_form(client, "/settings", "/settings/messages", fields)
    assert saved.status_code == 303, saved.text
    general = (await client.get("/api/v1/settings/general", headers=admin_headers)).json()
    assert general["language"] == "en"
    saved = await post_form(
        client, "/settings", "/settings/recipients", {"allowUnregisteredRecipients": "on"}
    )
    assert saved.status_code == 303, saved.text
    mail = (await client.get("/api/v1/settings/mail", headers=admin_headers)).json()
    assert mail["signature"] == "The on-call team\nExample Ltd"
    assert mail["allowUnregisteredRecipients"] is True
    # An unticked box is not posted: saving the card without it turns the setting off.
    await post_form(client, "/settings", "/settings/recipients", {})
    mail = (await client.get("/api/v1/settings/mail", headers=admin_headers)).json()
    assert mail["allowUnregisteredRecipients"] is False


async def test_a_too_long_signature_keeps_the_text_and_saves_no_language(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    fields = {"language": "en", "signature": "x" * 2001}
    failed = await post_form(client, "/settings", "/settings/messages", fields)
    assert failed.status_code == 422
    assert "2000" in field_error(failed.text, "signature")
    assert "x" * 2001 in failed.text
    general = (await client.get("/api/v1/settings/general", headers=admin_headers)).json()
    assert general["language"] == "ru"


async def test_an_api_key_is_shown_once_and_works_as_a_bearer_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    form = await client.get("/api-keys")
    # The default scopes are ticked, the others are not.
    assert re.search(r'name="scope:notifications:send" value="on" checked', form.text)
    assert not re.search(r'name="scope:members:manage" value="on" checked', form.text)
    answer = await client.post(
        "/api-keys",
        data={"csrf": csrf_of(form.text), "name": "monitoring", "scope:channels:read": "on"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found = re.search(r'id="created-key" class="secret-once" value="([^"]+)"', answer.text)
    assert found is not None
    key = found.group(1)
    listed = (await client.get("/api/v1/api-keys", headers=admin_headers)).json()
    assert [(k["name"], k["scopes"]) for k in listed] == [("monitoring", ["channels:read"])]
    again = await client.get("/api-keys")
    assert "monitoring" in again.text
    assert key not in again.text
    with_key = {"Authorization": f"Bearer {key}"}
    channels = await client.get("/api/v1/notifications/channels", headers=with_key)
    assert channels.status_code == 200, channels.text
    # Only the scope ticked: the key may not read the rules.
    rules = await client.get("/api/v1/rules", headers=with_key)
    assert rules.status_code == 403


async def test_a_revoked_key_is_refused_at_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    answer = await post_form(
        client, "/api-keys", "/api-keys", {"name": "old", "scope:channels:read": "on"}
    )
    found = re.search(r'id="created-key" class="secret-once" value="([^"]+)"', answer.text)
    assert found is not None
    with_key = {"Authorization": f"Bearer {found.group(1)}"}
    channels = "/api/v1/notifications/channels"
    assert (await client.get(channels, headers=with_key)).status_code == 200
    key_id = (await client.get("/api/v1/api-keys", headers=admin_headers)).json()[0]["id"]
    shown = await client.get("/api-keys")
    assert "data-confirm=" in shown.text
    revoked = await client.post(f"/api-keys/{key_id}/revoke", data={"csrf": csrf_of(shown.text)})
    assert revoked.status_code == 303
    listed = (await client.get("/api/v1/api-keys", headers=admin_headers)).json()
    assert listed[0]["revokedAt"] is not None
    assert (await client.get(channels, headers=with_key)).status_code == 401
    after = await client.get(revoked.headers["location"])
    assert f'action="/api-keys/{key_id}/revoke"' not in after.text
    assert "The key is revoked" in after.text


async def test_an_api_key_without_a_name_keeps_the_ticked_scopes(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    failed = await post_form(
        client, "/api-keys", "/api-keys", {"name": " ", "scope:members:manage": "on"}
    )
    assert failed.status_code == 422
    assert field_error(failed.text, "name").startswith("Not accepted: ")
    assert re.search(r'name="scope:members:manage" value="on" checked', failed.text)
    assert not re.search(r'name="scope:notifications:send" value="on" checked', failed.text)
    assert (await client.get("/api/v1/api-keys", headers=admin_headers)).json() == []


async def test_a_role_change_and_a_removal_show_through_the_api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await add_user(client, admin_headers, "maria", "member")
    members = (await client.get("/api/v1/members", headers=admin_headers)).json()
    maria = next(m["userId"] for m in members if m["username"] == "maria")
    await console_login(client)
    changed = await post_form(client, "/members", f"/members/{maria}/role", {"role": "admin"})
    assert changed.status_code == 303, changed.text
    members = (await client.get("/api/v1/members", headers=admin_headers)).json()
    assert {m["username"]: m["role"] for m in members}["maria"] == "admin"
    removed = await post_form(client, "/members", f"/members/{maria}/remove", {})
    assert removed.status_code == 303
    members = (await client.get("/api/v1/members", headers=admin_headers)).json()
    assert "maria" not in {m["username"] for m in members}


async def test_the_last_owner_is_kept_with_a_sentence_on_the_page(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    owner_headers = await add_user(client, admin_headers, "olga", "owner")
    olga = next(
        m["userId"]
        for m in (await client.get("/api/v1/members", headers=owner_headers)).json()
        if m["username"] == "olga"
    )
    # The instance administrator leaves: olga is the last owner.
    admin_id = next(
        m["userId"]
        for m in (await client.get("/api/v1/members", headers=owner_headers)).json()
        if m["username"] == "admin"
    )
    assert (await client.delete(f"/api/v1/members/{admin_id}", headers=admin_headers)).is_success
    await console_login(client, username="olga", password=PASSWORD)
    refused = await post_form(client, "/members", f"/members/{olga}/role", {"role": "viewer"})
    assert refused.status_code == 409
    assert "text/html" in refused.headers["content-type"]
    assert "last owner" in refused.text
    assert "Not accepted: " in refused.text


async def test_an_admin_changing_an_owner_reads_why_not_and_keeps_the_name_typed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await add_user(client, admin_headers, "olga", "owner")
    await add_user(client, admin_headers, "anna", "admin")
    await console_login(client, username="anna", password=PASSWORD, language="ru")
    refused = await post_form(client, "/members", "/members", {"user": "olga", "role": "viewer"})
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert "Не принято: " in refused.text
    assert "менять его роль или исключать его может только владелец проекта" in refused.text
    assert 'id="invite-user" name="user" value="olga"' in refused.text
    assert '<option value="viewer" selected>' in refused.text
    assert_translated(refused.text)
    members = (await client.get("/api/v1/members", headers=admin_headers)).json()
    assert {m["username"]: m["role"] for m in members}["olga"] == "owner"


async def test_an_invitation_says_the_same_for_a_known_and_an_unknown_name(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    # An instance administrator adds users directly; a project owner invites.
    await add_user(client, admin_headers, "olga", "owner")
    created = await client.post(
        "/api/v1/users",
        json={"username": "carol", "email": "carol@example.org", "password": PASSWORD},
        headers=admin_headers,
    )
    assert created.status_code == 201
    await console_login(client, username="olga", password=PASSWORD)
    answers = []
    for name in ("carol", "nobody-at-all"):
        sent = await post_form(client, "/members", "/members", {"user": name, "role": "member"})
        assert sent.status_code == 303, sent.text
        answers.append(
            (sent.headers["location"], notice((await client.get(sent.headers["location"])).text))
        )
    assert answers[0] == answers[1]
    pending = await client.get("/members")
    assert "carol" in pending.text
    assert "nobody-at-all" in pending.text
    olga = await client.post("/api/auth/login", json={"username": "olga", "password": PASSWORD})
    olga_headers = {"Authorization": f"Bearer {olga.json()['token']}"}
    listed = (await client.get("/api/v1/members/invitations", headers=olga_headers)).json()
    assert sorted(i["invitee"] for i in listed) == ["carol", "nobody-at-all"]
    unknown = next(i["id"] for i in listed if i["invitee"] == "nobody-at-all")
    withdrawn = await post_form(client, "/members", f"/members/invitations/{unknown}/revoke", {})
    assert withdrawn.status_code == 303
    listed = (await client.get("/api/v1/members/invitations", headers=olga_headers)).json()
    assert [i["invitee"] for i in listed] == ["carol"]


async def test_the_invited_user_accepts_in_the_console(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    owner_headers = await add_user(client, admin_headers, "olga", "owner")
    # carol is a viewer elsewhere, so that she can sign in to the console.
    beta = await client.post(
        "/api/v1/projects", json={"name": "Beta", "slug": "beta"}, headers=admin_headers
    )
    assert beta.status_code == 201, beta.text
    created = await client.post(
        "/api/v1/users",
        json={"username": "carol", "email": "carol@example.org", "password": PASSWORD},
        headers=admin_headers,
    )
    assert created.status_code == 201
    joined = await client.put(
        "/api/v1/members",
        json={"user": "carol", "role": "viewer"},
        headers={**admin_headers, "X-Nabat-Project": "beta"},
    )
    assert joined.status_code == 200, joined.text
    invited = await client.put(
        "/api/v1/members", json={"user": "carol", "role": "member"}, headers=owner_headers
    )
    assert invited.status_code == 202
    async with second_client(app) as carol:
        await console_login(carol, username="carol", password=PASSWORD)
        offers = await carol.get("/members")
        assert "Your invitations" in offers.text
        found = re.search(r'action="(/me/invitations/\d+/accept)"', offers.text)
        assert found is not None
        accepted = await carol.post(found.group(1), data={"csrf": csrf_of(offers.text)})
        assert accepted.status_code == 303, accepted.text
        after = await carol.get(accepted.headers["location"])
        assert "You joined the project" in after.text
        assert "/accept" not in after.text
    members = (await client.get("/api/v1/members", headers=owner_headers)).json()
    assert {m["username"]: m["role"] for m in members}["carol"] == "member"


async def test_contact_points_are_added_and_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    fields = {"kind": "PHONE", "value": "+7 925 507-06-02", "label": "work"}
    added = await post_form(client, "/me/contact-points", "/me/contact-points", fields)
    assert added.status_code == 303, added.text
    mine = "/api/v1/users/me/contact-points"
    points = (await client.get(mine, headers=admin_headers)).json()
    assert [(p["kind"], p["value"], p["label"]) for p in points] == [
        ("PHONE", "+79255070602", "work")
    ]
    again = await post_form(client, "/me/contact-points", "/me/contact-points", fields)
    assert again.status_code == 409
    assert field_error(again.text, "value").startswith("Not accepted: ")
    deleted = await post_form(
        client, "/me/contact-points", f"/me/contact-points/{points[0]['id']}/delete", {}
    )
    assert deleted.status_code == 303
    assert (await client.get(mine, headers=admin_headers)).json() == []


async def test_a_bad_contact_value_is_marked_and_kept(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client, language="ru")
    fields = {"kind": "TELEGRAM", "value": "not a chat", "label": "дом"}
    failed = await post_form(client, "/me/contact-points", "/me/contact-points", fields)
    assert failed.status_code == 422
    assert field_error(failed.text, "value").startswith("Не принято: ")
    assert 'value="not a chat"' in failed.text
    assert 'value="дом"' in failed.text
    assert '<option value="TELEGRAM" selected>' in failed.text
    assert_translated(failed.text)


async def test_a_viewer_gets_no_change_forms_and_their_posts_are_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    await add_user(client, admin_headers, "vera", "viewer")
    async with second_client(app) as viewer:
        await console_login(viewer, username="vera", password=PASSWORD)
        shown = {path: await viewer.get(path) for path in PAGES}
        assert all(answer.status_code == 200 for answer in shown.values())
        assert 'action="/settings/' not in shown["/settings"].text
        assert 'action="/api-keys' not in shown["/api-keys"].text
        assert 'action="/members' not in shown["/members"].text
        assert "vera" in shown["/members"].text
        # Their own contact points are theirs to change.
        assert 'action="/me/contact-points"' in shown["/me/contact-points"].text
        csrf = csrf_of(shown["/settings"].text)
        posts = {
            "/settings/mail": {"fromAddress": "x@example.org"},
            "/api-keys": {"name": "mine"},
            "/members": {"user": "someone", "role": "owner"},
        }
        for action, fields in posts.items():
            refused = await viewer.post(action, data={"csrf": csrf, **fields})
            assert refused.status_code == 403, action
            assert "Your role in this project does not allow this" in refused.text
    assert (await client.get("/api/v1/api-keys", headers=admin_headers)).json() == []
    mail = (await client.get("/api/v1/settings/mail", headers=admin_headers)).json()
    assert mail["fromAddress"] is None


async def test_a_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client)
    posts = {
        "/settings/mail": {"fromAddress": "x@example.org", "fromName": "X", "replyTo": "x@x.org"},
        "/api-keys": {"name": "forged"},
        "/members": {"user": "someone", "role": "member"},
        "/me/contact-points": {"kind": "EMAIL", "value": "forged@example.org"},
    }
    for action, fields in posts.items():
        refused = await client.post(action, data=fields)
        assert refused.status_code == 403, action
        forged = await client.post(action, data={"csrf": "0" * 64, **fields})
        assert forged.status_code == 403, action
    assert (await client.get("/api/v1/api-keys", headers=admin_headers)).json() == []
    points = await client.get("/api/v1/users/me/contact-points", headers=admin_headers)
    assert points.json() == []


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_every_page_is_translated(
    client: httpx.AsyncClient, admin_headers: dict[str, str], language: str
) -> None:
    owner_headers = await add_user(client, admin_headers, "olga", "owner")
    invited = await client.put(
        "/api/v1/members",
        json={"user": "ghost@example.org", "role": "viewer"},
        headers=owner_headers,
    )
    assert invited.status_code == 202
    await console_login(client, username="olga", password=PASSWORD, language=language)
    await post_form(client, "/api-keys", "/api-keys", {"name": "k", "scope:channels:read": "on"})
    await post_form(
        client, "/me/contact-points", "/me/contact-points", {"kind": "EMAIL", "value": "a@b.org"}
    )
    for path in PAGES:
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert_translated(answer.text)
    assert "ghost@example.org" in (await client.get("/members")).text
    created = await post_form(client, "/api-keys", "/api-keys", {"name": "new"})
    assert created.status_code == 201
    assert_translated(created.text)
