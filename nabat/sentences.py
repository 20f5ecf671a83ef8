"""Sentences that say what is wrong in English and remember what they were made of.

A :class:`Sentence` is its English text (a ``str``: the API's JSON, the log and the CLI
read exactly the text they read before) that also keeps its template and named values
apart, so that the console can say it in the visitor's language. It is gettext's way: the
English template is the key, a language's catalogue maps it to a template of its own
with the same named placeholders (``nabat/web/locales/<language>/sentences/``), and the
values are filled in again. A value that is itself a sentence is said in that language too.

A plain ``str`` where a sentence is expected is its own template without values, so a
literal message needs no wrapping; a message made with an f-string cannot be looked up,
which is why it is written as ``Sentence("… {name!r} …", name=name)`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self


class Sentence(str):
    """An English sentence made from ``key`` (its template) and ``params``."""

    key: str
    params: dict[str, object]

    def __new__(cls, template: str, /, **params: object) -> Self:
        return cls.worded(template.format(**params) if params else template, template, params)

    @classmethod
    def worded(cls, english: str, key: str, params: Mapping[str, object]) -> Self:
        """A sentence whose English someone else wrote (pydantic's own errors), known to
        the catalogues by ``key`` and said again from ``params``."""
        made = super().__new__(cls, english)
        made.key = key
        made.params = dict(params)
        return made


def either(choices: Sequence[str], *, commas: bool = True) -> Sentence:
    """``choices`` joined as "a, b or c" (``commas=False``: "a or b or c"), the "or" in
    the reader's language."""
    if len(choices) < 2:
        return Sentence("{only}", only="".join(choices))
    if commas or len(choices) == 2:
        some: str = ", ".join(choices[:-1])
    else:
        some = either(choices[:-1], commas=False)
    return Sentence("{some} or {last}", some=some, last=choices[-1])
