"""Realistic sample events, one per catalogue type and language, for previews and for the
trial renders that make a broken template fail at save time rather than at delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nabat.catalogue import BY_KEY
from nabat.routing.snapshot import event_snapshot

SAMPLE_ID = "evt_5a3f0c9e1b7d4e28a6c4f0b2d9e17c35"
OCCURRED_AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
DUE_AT = "2025-03-14T12:00:00Z"


@dataclass(frozen=True)
class Sample:
    """One type's sample: where ``(en, ru)`` pairs differ by language."""

    severity: str
    source: tuple[str, str]
    object_type: str
    object_id: str
    title: tuple[str, str]
    message: tuple[str, str]
    status: tuple[str, str] | None = None
    previous_status: tuple[str, str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


_API = ("Billing API", "https://status.example.org/billing-api")
_DESK = ("Service Desk", "https://desk.example.org/requests/4521")
_REQUEST = ("Printer on the 3rd floor does not print", "Не печатает принтер на 3-м этаже")
_ALERT = ("High CPU on db-1", "Высокая загрузка CPU на db-1")
_MAIL = ("Duty e-mail", "Почта дежурных")

SAMPLES: dict[str, Sample] = {
    "service.down": Sample(
        severity="CRITICAL",
        source=_API,
        object_type="service",
        object_id="billing-api",
        title=("Billing API", "Billing API"),
        message=(
            "No answer within 10 s, three checks in a row.",
            "Нет ответа за 10 с, три проверки подряд.",
        ),
        status=("DOWN", "DOWN"),
        previous_status=("UP", "UP"),
        labels={"env": "production", "team": "payments"},
        data={"responseTimeMs": 10000, "checks": 3},
    ),
    "service.up": Sample(
        severity="INFO",
        source=_API,
        object_type="service",
        object_id="billing-api",
        title=("Billing API", "Billing API"),
        message=(
            "Answers again after 12 minutes of downtime.",
            "Снова отвечает после 12 минут простоя.",
        ),
        status=("UP", "UP"),
        previous_status=("DOWN", "DOWN"),
        labels={"env": "production", "team": "payments"},
        data={"downtimeSeconds": 720},
    ),
    "service.degraded": Sample(
        severity="WARNING",
        source=_API,
        object_type="service",
        object_id="billing-api",
        title=("Billing API", "Billing API"),
        message=(
            "Median response time is 2.4 s (usually 180 ms).",
            "Медианное время ответа 2,4 с (обычно 180 мс).",
        ),
        status=("DEGRADED", "DEGRADED"),
        previous_status=("UP", "UP"),
        labels={"env": "production"},
        data={"responseTimeMs": 2400},
    ),
    "service.maintenance": Sample(
        severity="INFO",
        source=_API,
        object_type="service",
        object_id="billing-api",
        title=("Billing API", "Billing API"),
        message=(
            "Database upgrade from 22:00 to 23:00 UTC.",
            "Обновление базы данных с 22:00 до 23:00 UTC.",
        ),
        status=("MAINTENANCE", "MAINTENANCE"),
        previous_status=("UP", "UP"),
        labels={"env": "production"},
    ),
    "service.unknown": Sample(
        severity="WARNING",
        source=_API,
        object_type="service",
        object_id="billing-api",
        title=("Billing API", "Billing API"),
        message=(
            "The check agent did not report for 5 minutes.",
            "Агент проверки не выходил на связь 5 минут.",
        ),
        status=("UNKNOWN", "UNKNOWN"),
        previous_status=("UP", "UP"),
        labels={"env": "production"},
    ),
    "object.created": Sample(
        severity="INFO",
        source=_DESK,
        object_type="request",
        object_id="REQ-4521",
        title=_REQUEST,
        message=("Reported by Maria Ivanova, room 312.", "Сообщила Мария Иванова, кабинет 312."),
        status=("New", "Новая"),
        labels={"queue": "it-support"},
        data={"priority": "normal"},
    ),
    "object.status_changed": Sample(
        severity="INFO",
        source=_DESK,
        object_type="request",
        object_id="REQ-4521",
        title=_REQUEST,
        message=("Assigned to Pavel Sokolov.", "Назначена на Павла Соколова."),
        status=("In progress", "В работе"),
        previous_status=("New", "Новая"),
        labels={"queue": "it-support"},
    ),
    "deadline.approaching": Sample(
        severity="WARNING",
        source=_DESK,
        object_type="request",
        object_id="REQ-4521",
        title=_REQUEST,
        message=("Two hours left to resolve the request.", "До решения заявки осталось два часа."),
        status=("In progress", "В работе"),
        labels={"queue": "it-support"},
        data={"dueAt": DUE_AT, "level": 1},
    ),
    "deadline.reached": Sample(
        severity="ERROR",
        source=_DESK,
        object_type="request",
        object_id="REQ-4521",
        title=_REQUEST,
        message=(
            "The due time has come and the request is still open.",
            "Срок наступил, а заявка ещё не решена.",
        ),
        status=("In progress", "В работе"),
        labels={"queue": "it-support"},
        data={"dueAt": DUE_AT, "level": 2},
    ),
    "deadline.overdue": Sample(
        severity="CRITICAL",
        source=_DESK,
        object_type="request",
        object_id="REQ-4521",
        title=_REQUEST,
        message=(
            "Overdue by 3 hours; escalated to the head of support.",
            "Просрочено на 3 часа; передано руководителю поддержки.",
        ),
        status=("In progress", "В работе"),
        labels={"queue": "it-support"},
        data={"dueAt": DUE_AT, "level": 3},
    ),
    "alarm.raised": Sample(
        severity="CRITICAL",
        source=("Alertmanager", "https://alertmanager.example.org/#/alerts"),
        object_type="alert",
        object_id="HighCPU",
        title=_ALERT,
        message=("CPU above 95% for 10 minutes.", "Загрузка CPU выше 95% уже 10 минут."),
        status=("firing", "firing"),
        labels={"alertname": "HighCPU", "instance": "db-1:9100", "severity": "critical"},
    ),
    "alarm.cleared": Sample(
        severity="INFO",
        source=("Alertmanager", "https://alertmanager.example.org/#/alerts"),
        object_type="alert",
        object_id="HighCPU",
        title=_ALERT,
        message=("CPU back to 35%.", "Загрузка CPU снизилась до 35%."),
        status=("resolved", "resolved"),
        previous_status=("firing", "firing"),
        labels={"alertname": "HighCPU", "instance": "db-1:9100", "severity": "critical"},
    ),
    "channel.failing": Sample(
        severity="ERROR",
        source=("Nabat", ""),
        object_type="channel",
        object_id="7",
        title=_MAIL,
        message=(
            "5 deliveries in a row failed: SMTP authentication failed (535).",
            "5 доставок подряд не удались: сервер SMTP отклонил вход (535).",
        ),
        labels={},
        data={"channelId": 7, "failures": 5},
    ),
    "channel.recovered": Sample(
        severity="INFO",
        source=("Nabat", ""),
        object_type="channel",
        object_id="7",
        title=_MAIL,
        message=(
            "Delivers again after 5 failed attempts.",
            "Снова доставляет после 5 неудачных попыток.",
        ),
        labels={},
        data={"channelId": 7},
    ),
    "test": Sample(
        severity="INFO",
        source=("Nabat", ""),
        object_type="",
        object_id="",
        title=("", ""),
        message=("If you read this, the channel works.", "Если вы это читаете, канал работает."),
    ),
}

# A producer's own type: the wording it would get from a default template.
GENERIC = Sample(
    severity="WARNING",
    source=("Backup job", "https://ci.example.org/jobs/backup"),
    object_type="job",
    object_id="backup-nightly",
    title=("Nightly backup", "Ночное резервное копирование"),
    message=(
        "The backup took 3 h 40 min (limit 3 h).",
        "Резервное копирование заняло 3 ч 40 мин (лимит 3 ч).",
    ),
    labels={"env": "production"},
)


def sample_event(type_key: str, language: str = "en") -> dict[str, Any]:
    """A realistic event snapshot of type ``type_key`` worded in ``language``.

    The shape is :func:`nabat.routing.snapshot.event_snapshot`'s; a type outside the
    catalogue gets a generic event with ``typeTitle`` made from its key.
    """
    sample = SAMPLES.get(type_key, GENERIC)
    pick = 1 if language == "ru" else 0
    info = BY_KEY.get(type_key)
    type_title = (
        info.title(language) if info else type_key.replace(".", " ").replace("_", " ").capitalize()
    )
    return event_snapshot(
        public_id=SAMPLE_ID,
        type_key=type_key,
        type_title=type_title,
        severity=sample.severity,
        message=sample.message[pick],
        source={"name": sample.source[0], "url": sample.source[1] or None},
        subject={
            "objectType": sample.object_type or None,
            "objectId": sample.object_id or None,
            "title": sample.title[pick] or None,
            "status": sample.status[pick] if sample.status else None,
            "previousStatus": sample.previous_status[pick] if sample.previous_status else None,
        },
        labels=dict(sample.labels),
        data=dict(sample.data),
        occurred_at=OCCURRED_AT,
        received_at=OCCURRED_AT + timedelta(seconds=1),
    )
