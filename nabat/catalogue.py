"""The built-in notification types: every project starts with all of them switched on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TypeInfo:
    """A notification type's key and its words in both languages."""

    key: str
    title_en: str
    title_ru: str
    description_en: str
    description_ru: str

    def title(self, language: str) -> str:
        """The title in ``language`` ("ru" or "en"; anything else gets English)."""
        return self.title_ru if language == "ru" else self.title_en

    def description(self, language: str) -> str:
        """The description in ``language`` ("ru" or "en"; anything else gets English)."""
        return self.description_ru if language == "ru" else self.description_en


CATALOGUE: tuple[TypeInfo, ...] = (
    TypeInfo(
        "service.down",
        "Service down",
        "Сервис недоступен",
        "A monitored service stopped answering.",
        "Отслеживаемый сервис перестал отвечать.",
    ),
    TypeInfo(
        "service.up",
        "Service up",
        "Сервис восстановлен",
        "A monitored service answers again.",
        "Отслеживаемый сервис снова отвечает.",
    ),
    TypeInfo(
        "service.degraded",
        "Service degraded",
        "Сервис работает с перебоями",
        "A monitored service answers slowly or partly.",
        "Отслеживаемый сервис отвечает медленно или не полностью.",
    ),
    TypeInfo(
        "service.maintenance",
        "Service in maintenance",
        "Сервис на обслуживании",
        "A monitored service is under planned maintenance.",
        "На отслеживаемом сервисе идут плановые работы.",
    ),
    TypeInfo(
        "service.unknown",
        "Service state unknown",
        "Состояние сервиса неизвестно",
        "A monitored service could not be checked.",
        "Состояние отслеживаемого сервиса не удалось проверить.",
    ),
    TypeInfo(
        "object.created",
        "Object created",
        "Объект добавлен",
        "An object (request, task, device) was added.",
        "Добавлен объект (заявка, задача, устройство).",
    ),
    TypeInfo(
        "object.status_changed",
        "Object status changed",
        "Статус объекта изменён",
        "An object moved to another status.",
        "Объект перешёл в другой статус.",
    ),
    TypeInfo(
        "deadline.approaching",
        "Deadline approaching",
        "Приближается срок",
        "The due time of a request, task or approval is near.",
        "Приближается срок выполнения заявки, задачи или согласования.",
    ),
    TypeInfo(
        "deadline.reached",
        "Deadline reached",
        "Срок наступил",
        "The due time of a request, task or approval has come.",
        "Наступил срок выполнения заявки, задачи или согласования.",
    ),
    TypeInfo(
        "deadline.overdue",
        "Deadline overdue",
        "Срок просрочен",
        "A request, task or approval is past its due time.",
        "Заявка, задача или согласование просрочены.",
    ),
    TypeInfo(
        "alarm.raised",
        "Alarm raised",
        "Тревога",
        "An alarm started (an Alertmanager or Grafana alert is firing, say).",
        "Сработала тревога (например, оповещение Alertmanager или Grafana).",
    ),
    TypeInfo(
        "alarm.cleared",
        "Alarm cleared",
        "Тревога снята",
        "An alarm ended.",
        "Тревога завершилась.",
    ),
    TypeInfo(
        "channel.failing",
        "Channel failing",
        "Канал не работает",
        "A notification channel keeps failing to deliver.",
        "Канал уведомлений раз за разом не может доставить сообщения.",
    ),
    TypeInfo(
        "channel.recovered",
        "Channel recovered",
        "Канал восстановлен",
        "A failing notification channel delivers again.",
        "Канал уведомлений снова доставляет сообщения.",
    ),
    TypeInfo(
        "test",
        "Test",
        "Проверка",
        "A test message.",
        "Проверочное сообщение.",
    ),
)

BY_KEY: dict[str, TypeInfo] = {info.key: info for info in CATALOGUE}

# Seed 002's statuses, as notification types (the send API goes through routing).
STATUS_TYPES: dict[str, str] = {
    "DOWN": "service.down",
    "UP": "service.up",
    "DEGRADED": "service.degraded",
    "MAINTENANCE": "service.maintenance",
    "UNKNOWN": "service.unknown",
}
SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
LANGUAGES = ("ru", "en")
