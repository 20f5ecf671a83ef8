"""Turning a template and a visitor into an HTML answer."""

from __future__ import annotations

import functools
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from nabat.web.i18n import LANGUAGE_NAMES
from nabat.web.session import CSRF_FIELD, Visitor


@functools.cache
def environment() -> Environment:
    """The console's template environment (made on first use). Undefined names are
    errors: a page that names a missing value is a bug to see, not an empty spot."""
    return Environment(
        loader=PackageLoader("nabat.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(
    visitor: Visitor, template: str, *, status: int = 200, section: str = "", **context: Any
) -> Response:
    """The page ``template`` rendered for ``visitor``, with the layout's needs filled in."""
    html = (
        environment()
        .get_template(template)
        .render(
            v=visitor,
            t=visitor.t,
            say=visitor.say,
            csrf_field=CSRF_FIELD,
            languages=LANGUAGE_NAMES,
            section=section,
            **context,
        )
    )
    return visitor.keep_cookies(HTMLResponse(html, status_code=status))
