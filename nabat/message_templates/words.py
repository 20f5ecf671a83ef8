"""Per-type headlines and the words for severities, in English and Russian.

A headline is a Jinja2 snippet; the default templates put it at the top of every field as
``{% set headline %}…{% endset %}``, so a copy of a default is a self-contained template.
"""

from __future__ import annotations

from dataclasses import dataclass

# What an event is about, by family of types: the first of these that is set.
_SERVICE = "event.source.name or event.subject.title"
_OBJECT = "event.subject.title or event.subject.objectId"
_ALARM = "event.subject.title or event.labels.alertname or event.source.name"
_CHANNEL = "event.subject.title or event.source.name"
_ANY = "event.subject.title or event.source.name"


@dataclass(frozen=True)
class Headline:
    """How one type's headline names its subject, and the sentence in each language.

    ``name`` is a Jinja2 expression; ``en`` and ``ru`` use ``{{ name }}``. When the event
    names nothing, the headline is the type's title instead.
    """

    name: str
    en: str
    ru: str

    def snippet(self, language: str) -> str:
        """The Jinja2 snippet for ``language`` ("ru"; anything else gets English)."""
        sentence = self.ru if language == "ru" else self.en
        return (
            f"{{% set name = {self.name} %}}"
            f"{{% if name %}}{sentence}{{% else %}}{{{{ type.title }}}}{{% endif %}}"
        )


HEADLINES: dict[str, Headline] = {
    "service.down": Headline(_SERVICE, "{{ name }} is down", "Сервис «{{ name }}» недоступен"),
    "service.up": Headline(_SERVICE, "{{ name }} is back up", "Сервис «{{ name }}» снова доступен"),
    "service.degraded": Headline(
        _SERVICE, "{{ name }} is degraded", "Сервис «{{ name }}» работает с перебоями"
    ),
    "service.maintenance": Headline(
        _SERVICE, "{{ name }} is under maintenance", "Плановые работы на сервисе «{{ name }}»"
    ),
    "service.unknown": Headline(
        _SERVICE, "State of {{ name }} is unknown", "Состояние сервиса «{{ name }}» неизвестно"
    ),
    "object.created": Headline(
        _OBJECT,
        "New {{ event.subject.objectType or 'object' }}: {{ name }}",
        "Добавлен объект «{{ name }}»",
    ),
    "object.status_changed": Headline(
        _OBJECT,
        "{{ name }}: status changed"
        "{% if event.subject.status %} to {{ event.subject.status }}{% endif %}",
        "«{{ name }}»: статус изменён"
        "{% if event.subject.status %} на «{{ event.subject.status }}»{% endif %}",
    ),
    "deadline.approaching": Headline(
        _OBJECT, "Deadline approaching: {{ name }}", "Приближается срок: «{{ name }}»"
    ),
    "deadline.reached": Headline(
        _OBJECT, "Deadline reached: {{ name }}", "Наступил срок: «{{ name }}»"
    ),
    "deadline.overdue": Headline(_OBJECT, "Overdue: {{ name }}", "Просрочено: «{{ name }}»"),
    "alarm.raised": Headline(_ALARM, "Alarm: {{ name }}", "Тревога: {{ name }}"),
    "alarm.cleared": Headline(_ALARM, "Alarm cleared: {{ name }}", "Тревога снята: {{ name }}"),
    "channel.failing": Headline(
        _CHANNEL,
        "Channel {{ name }} keeps failing to deliver",
        "Канал «{{ name }}» не доставляет сообщения",
    ),
    "channel.recovered": Headline(
        _CHANNEL,
        "Channel {{ name }} delivers again",
        "Канал «{{ name }}» снова доставляет сообщения",
    ),
    "test": Headline("'Nabat'", "Test message from Nabat", "Проверочное сообщение от Nabat"),
}

# A type outside the catalogue (a producer's own key): its title, then what it is about.
GENERIC = Headline(_ANY, "{{ type.title }}: {{ name }}", "{{ type.title }}: {{ name }}")

SEVERITY_TITLES: dict[str, tuple[str, str]] = {
    "INFO": ("Info", "информация"),
    "WARNING": ("Warning", "предупреждение"),
    "ERROR": ("Error", "ошибка"),
    "CRITICAL": ("Critical", "критическая"),
}


def severity_title(severity: str, language: str) -> str:
    """The word for ``severity`` in ``language``; an unknown severity is shown as given."""
    words = SEVERITY_TITLES.get(severity)
    if words is None:
        return severity
    return words[1] if language == "ru" else words[0]
