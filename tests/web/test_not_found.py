"""A missing object is the console's page in the console and the JSON 404 in the API."""

from __future__ import annotations

import httpx

from tests.support.errors import expect_error
from tests.web.support import assert_translated, console_login


async def test_a_missing_object_is_a_page_in_the_console_and_json_in_the_api(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await console_login(client, language="ru")
    for path in ("/channels/999", "/rules/999", "/silences/999", "/templates/999", "/events/999"):
        shown = await client.get(path)
        assert (path, shown.status_code) == (path, 404)
        assert shown.headers["content-type"].startswith("text/html")
        assert "Такой страницы нет." in shown.text
        assert_translated(shown.text)
    answer = await client.get("/api/v1/rules/999", headers=admin_headers)
    expect_error(answer, 404, answer.json()["code"])
