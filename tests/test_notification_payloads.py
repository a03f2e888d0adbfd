"""Typed notification payloads: every kind has its type and its renderer, the rows the services
wrote before the types existed still read and render the same in every language, and a payload
that does not fit its kind ends dead as render_failed instead of blocking the queue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select

from core.enums import (
    DeadReason,
    DiscrepancyKind,
    ErrorCategory,
    ErrorSeverity,
    HealthComponent,
    HealthStatus,
    NotificationStatus,
    RecoveryAction,
    RequestStatus,
    Role,
)
from core.i18n import create_i18n
from core.settings import DEFAULT_WORKFLOWS_FILE
from core.workflows import load_workflows
from database.models import PendingNotification, User
from outbox.fields import MalformedPayload
from outbox.payloads import (
    ApprovalNeeded,
    ErrorAlert,
    HealthChanged,
    HealthRecovered,
    ItemLine,
    NotificationKind,
    Payload,
    ReconciliationAlert,
    RecoveryApplied,
    RequestAdvanced,
    RequestCompleted,
    RequestRejected,
    StuckEscalation,
    StuckNudge,
)
from outbox.render import Renderer, UnknownNotification
from outbox.renderers import RENDERERS
from tests.conftest import World

WF = "inventory_request"


def buttons(request_id: int, version: int) -> InlineKeyboardMarkup:
    """Stands in for the decision keyboard: shows which request and version it was built for."""
    button = InlineKeyboardButton(text="decide", callback_data=f"{request_id}:{version}")
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


RENDERER = Renderer(create_i18n("en"), load_workflows(DEFAULT_WORKFLOWS_FILE), buttons)


def render(kind: str, data: object, locale: str = "en") -> tuple[str, str | None]:
    recipient = User(telegram_id=1, full_name="x", language=locale)
    text, markup = RENDERER.render(
        PendingNotification(kind=kind, payload=data, recipient=recipient)
    )
    return text, None if markup is None else markup.inline_keyboard[0][0].callback_data


@dataclass(frozen=True)
class Old:
    """A payload exactly as the services wrote it before the typed kinds, the typed payload it
    reads as, and the text it rendered to then (locale -> text)."""

    kind: str
    json: dict[str, Any]
    payload: Payload
    text: dict[str, str]
    buttons: str | None = None  # "request id:version" of the decision buttons
    older: bool = field(default=False)  # lacks an optional key: written by older code


APPROVAL = {
    "request_id": 7,
    "version": 3,
    "workflow": WF,
    "stage": "manager_approval",
    "requester": "Ann <b>",
    "items": [
        {"name": "Paper", "quantity": 2, "unit": "pcs"},
        {"name": "Pens & co", "quantity": 10, "unit": "box"},
    ],
}
LINES = (ItemLine("Paper", 2, "pcs"), ItemLine("Pens & co", 10, "box"))
STUCK = {"request_id": 7, "version": 3, "workflow": WF, "stage": "manager_approval", "hours": 50}

# One row of every kind, shaped as services/request_notices.py, requests.py, stuck.py,
# recovery/actions.py, health/service.py, failures/recorder.py and reconciliation/service.py
# built them by hand, with every language's text.
WRITTEN = [
    Old(
        "approval_needed",
        APPROVAL,
        ApprovalNeeded(7, 3, WF, "manager_approval", "Ann <b>", LINES),
        {
            "en": "Request #7 from Ann &lt;b&gt; waits for your decision (Manager approval):\n"
            "• Paper: 2 pcs\n• Pens &amp; co: 10 box",
            "ru": "Заявка #7 от Ann &lt;b&gt; ждёт вашего решения (этап «Согласование "
            "руководителем»):\n• Paper: 2 pcs\n• Pens &amp; co: 10 box",
            "es": "La solicitud #7 de Ann &lt;b&gt; espera tu decisión (Aprobación del gerente):"
            "\n• Paper: 2 pcs\n• Pens &amp; co: 10 box",
        },
        buttons="7:3",
    ),
    Old(
        "approval_needed",
        {**APPROVAL, "stage": "warehouse_issue", "requester": "Ann", "reminder": True},
        ApprovalNeeded(7, 3, WF, "warehouse_issue", "Ann", LINES, reminder=True),
        {
            "en": "Reminder from an admin. Request #7 from Ann waits for your decision "
            "(Warehouse issue):\n• Paper: 2 pcs\n• Pens &amp; co: 10 box",
            "ru": "Напоминание от администратора. Заявка #7 от Ann ждёт вашего решения "
            "(этап «Выдача со склада»):\n• Paper: 2 pcs\n• Pens &amp; co: 10 box",
            "es": "Recordatorio de un administrador. La solicitud #7 de Ann espera tu decisión "
            "(Entrega en almacén):\n• Paper: 2 pcs\n• Pens &amp; co: 10 box",
        },
        buttons="7:3",
    ),
    Old(
        "request_advanced",
        {"request_id": 7, "workflow": WF, "stage": "warehouse_issue", "assignee": "Sam & Co"},
        RequestAdvanced(7, WF, "warehouse_issue", "Sam & Co"),
        {
            "en": "Request #7 was approved and moved to Warehouse issue (Sam &amp; Co).",
            "ru": "Заявка #7 одобрена и передана на этап «Выдача со склада» (Sam &amp; Co).",
            "es": "La solicitud #7 fue aprobada y pasó a la etapa «Entrega en almacén» "
            "(Sam &amp; Co).",
        },
    ),
    Old(
        "request_advanced",
        {"request_id": 7, "workflow": WF, "stage": "warehouse_issue", "assignee": None},
        RequestAdvanced(7, WF, "warehouse_issue", None),
        {
            "en": "Request #7 was approved and moved to Warehouse issue. Nobody holds that role "
            "yet; an admin has to assign someone."
        },
    ),
    Old(
        "request_completed",
        {"request_id": 7, "workflow": WF, "issued": True},
        RequestCompleted(7, WF, issued=True),
        {
            "en": "Request #7 is completed: the items were issued to you.",
            "ru": "Заявка #7 выполнена: товары выданы вам.",
            "es": "La solicitud #7 está completada: se te entregaron los artículos.",
        },
    ),
    Old(
        "request_rejected",
        {
            "request_id": 7,
            "workflow": WF,
            "stage": "manager_approval",
            "reason": "<no>",
            "by": "Bob",
        },
        RequestRejected(7, WF, "manager_approval", "<no>", "Bob"),
        {
            "en": "Request #7 was rejected by Bob. Reason: &lt;no&gt;",
            "ru": "Заявка #7 отклонена пользователем Bob. Причина: &lt;no&gt;",
            "es": "La solicitud #7 fue rechazada por Bob. Motivo: &lt;no&gt;",
        },
    ),
    Old(
        "stuck_nudge",
        {**STUCK, "hours": 30, "assignee": "Bob", "assignee_gone": False},
        StuckNudge(7, 3, WF, "manager_approval", 30, "Bob", assignee_gone=False),
        {
            "en": "Request #7 has been waiting for you for 30 h (Manager approval). "
            "Please decide on it.",
            "ru": "Заявка #7 ждёт вашего решения уже 30 ч (этап «Согласование руководителем»). "
            "Пожалуйста, примите решение.",
            "es": "La solicitud #7 lleva 30 h esperándote (Aprobación del gerente). "
            "Decide sobre ella, por favor.",
        },
        buttons="7:3",
    ),
    Old(
        "stuck_escalation",
        {**STUCK, "assignee": "Bob <x>", "assignee_gone": False},
        StuckEscalation(7, 3, WF, "manager_approval", 50, "Bob <x>", assignee_gone=False),
        {
            "en": "Request #7 is stuck at Manager approval for 50 h despite a reminder to "
            "Bob &lt;x&gt;. See /workflow_recovery.",
            "ru": "Заявка #7 зависла на этапе «Согласование руководителем» уже 50 ч, несмотря на "
            "напоминание исполнителю Bob &lt;x&gt;. См. /workflow_recovery.",
            "es": "La solicitud #7 lleva 50 h atascada en la etapa «Aprobación del gerente» pese "
            "a un recordatorio a Bob &lt;x&gt;. Consulta /workflow_recovery.",
        },
    ),
    Old(
        "stuck_escalation",
        {**STUCK, "stage": "gone_stage", "assignee": None, "assignee_gone": True},
        StuckEscalation(7, 3, WF, "gone_stage", 50, None, assignee_gone=True),
        {
            "en": "Request #7 is stuck at gone_stage for 50 h: nobody who can act on it is "
            "assigned. Reassign it in /workflow_recovery."
        },
    ),
    Old(
        "recovery_applied",
        {
            "request_id": 7,
            "action": "reset",
            "workflow": WF,
            "stage": "manager_approval",
            "status": "active",
            "reason": "again",
            "by": "Root",
        },
        RecoveryApplied(
            7, RecoveryAction.RESET, WF, "manager_approval", RequestStatus.ACTIVE, "again", "Root"
        ),
        {
            "en": "An admin (Root) changed request #7: it is now at Manager approval. "
            "Reason: again",
            "ru": "Администратор (Root) изменил заявку #7: теперь она на этапе «Согласование "
            "руководителем». Причина: again",
            "es": "Un administrador (Root) cambió la solicitud #7: ahora está en la etapa "
            "«Aprobación del gerente». Motivo: again",
        },
    ),
    Old(
        "recovery_applied",
        {
            "request_id": 7,
            "action": "force_complete",
            "workflow": WF,
            "stage": None,
            "status": "completed",
            "reason": "done <x>",
            "by": "Root",
        },
        RecoveryApplied(
            7,
            RecoveryAction.FORCE_COMPLETE,
            WF,
            None,
            RequestStatus.COMPLETED,
            "done <x>",
            "Root",
        ),
        {"en": "An admin (Root) changed request #7: it is now completed. Reason: done &lt;x&gt;"},
    ),
    Old(
        "health_changed",
        {"status": "degraded", "previous": "healthy", "components": ["database", "inventory"]},
        HealthChanged(
            HealthStatus.DEGRADED,
            HealthStatus.HEALTHY,
            (HealthComponent.DATABASE, HealthComponent.INVENTORY),
        ),
        {
            "en": "⚠️ System health changed from healthy to degraded. Needs attention: Database, "
            "Inventory findings. See /workflow_recovery → System health.",
            "ru": "⚠️ Состояние системы изменилось: исправно → с перебоями. Требует внимания: "
            "База данных, Расхождения склада. Откройте /workflow_recovery → Состояние системы.",
            "es": "⚠️ El estado del sistema cambió de bien a degradado. Requiere atención: Base "
            "de datos, Discrepancias de inventario. Mira /workflow_recovery → Estado del sistema.",
        },
    ),
    Old(
        "health_recovered",
        {"status": "healthy", "previous": "degraded", "components": []},
        HealthRecovered(HealthStatus.HEALTHY, HealthStatus.DEGRADED, ()),
        {
            "en": "✅ System health recovered: healthy again (was degraded).",
            "ru": "✅ Состояние системы восстановилось: снова исправно (было: с перебоями).",
            "es": "✅ El estado del sistema se recuperó: vuelve a estar bien (antes: degradado).",
        },
    ),
    Old(
        "error_alert",
        {
            "reference": "E-7K2M",
            "category": "system",
            "severity": "critical",
            "count": 3,
            "where": "handlers.requests:<x>",
            "exception": "ZeroDivisionError",
        },
        ErrorAlert(
            "E-7K2M",
            ErrorCategory.SYSTEM,
            ErrorSeverity.CRITICAL,
            3,
            "handlers.requests:<x>",
            "ZeroDivisionError",
        ),
        {
            "en": "⚠️ Critical problem E-7K2M: system, ZeroDivisionError in "
            "handlers.requests:&lt;x&gt;. Seen 3 time(s) so far. Repeats will only raise the "
            "count.",
            "ru": "⚠️ Критическая проблема E-7K2M: система, ZeroDivisionError в "
            "handlers.requests:&lt;x&gt;. Случаев на данный момент: 3. Повторы будут только "
            "увеличивать счётчик.",
            "es": "⚠️ Problema crítico E-7K2M: sistema, ZeroDivisionError en "
            "handlers.requests:&lt;x&gt;. Visto 3 vez/veces hasta ahora. Las repeticiones solo "
            "aumentarán el contador.",
        },
    ),
    Old(
        "reconciliation_alert",
        {
            "finding_id": 4,
            "kind": "negative_stock",
            "sku": "P-1 <a>",
            "expected": None,
            "actual": -2,
            "transaction_id": None,
        },
        ReconciliationAlert(4, DiscrepancyKind.NEGATIVE_STOCK, "P-1 <a>", None, -2, None),
        {
            "en": "⚠️ Inventory discrepancy that needs a person: negative stock for P-1 &lt;a&gt; "
            "(expected —, actual -2). See /reconcile.",
            "ru": "⚠️ Несоответствие на складе, требующее человека: отрицательный остаток для "
            "P-1 &lt;a&gt; (ожидалось —, фактически -2). Откройте /reconcile.",
            "es": "⚠️ Discrepancia de inventario que necesita a una persona: existencia negativa "
            "en P-1 &lt;a&gt; (esperado —, real -2). Abre /reconcile.",
        },
    ),
]

# Rows without a key the code added later, or that tests wrote: read with the default.
OLDER = [
    Old(
        "request_advanced",
        {"request_id": 7, "workflow": WF, "stage": "warehouse_issue"},
        RequestAdvanced(7, WF, "warehouse_issue", None),
        {
            "en": "Request #7 was approved and moved to Warehouse issue. Nobody holds that role "
            "yet; an admin has to assign someone."
        },
        older=True,
    ),
    Old(
        "request_completed",
        {"request_id": 5, "workflow": WF},
        RequestCompleted(5, WF, issued=False),
        {"en": "Request #5 is completed.", "ru": "Заявка #5 выполнена."},
        older=True,
    ),
    Old(
        "health_recovered",
        {"status": "healthy", "previous": "unhealthy"},
        HealthRecovered(HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, ()),
        {"en": "✅ System health recovered: healthy again (was unhealthy)."},
        older=True,
    ),
    Old(
        "stuck_escalation",
        STUCK,
        StuckEscalation(7, 3, WF, "manager_approval", 50, None, assignee_gone=False),
        {
            "en": "Request #7 is stuck at Manager approval for 50 h despite a reminder to None. "
            "See /workflow_recovery."
        },
        older=True,
    ),
]


def test_stored_kind_values_do_not_change() -> None:
    assert [kind.value for kind in NotificationKind] == [
        "approval_needed",
        "request_advanced",
        "request_completed",
        "request_rejected",
        "stuck_nudge",
        "stuck_escalation",
        "recovery_applied",
        "health_changed",
        "health_recovered",
        "error_alert",
        "reconciliation_alert",
    ]


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_kind_has_a_payload_type_and_a_renderer(kind: NotificationKind) -> None:
    entry = RENDERERS[kind]
    assert issubclass(entry.payload, Payload)
    assert entry.payload.kind is kind
    assert any(sample.payload.kind is kind for sample in WRITTEN), "no sample of this kind"


def plain(value: object) -> bool:
    """Only what json.loads gives back: no enum members, tuples or dataclasses."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return type(value) in (str, int, bool, type(None)) and not isinstance(value, Enum)


def sample_id(sample: Old) -> str:
    return f"{sample.kind}-{','.join(sorted(sample.json))[:40]}"


@pytest.mark.parametrize("sample", WRITTEN + OLDER, ids=sample_id)
def test_payload_round_trips_through_json(sample: Old) -> None:
    stored = sample.payload.to_json()
    assert plain(stored)
    assert json.loads(json.dumps(stored)) == stored
    assert type(sample.payload).from_json(stored) == sample.payload


@pytest.mark.parametrize("sample", WRITTEN, ids=sample_id)
def test_the_json_is_exactly_what_the_services_wrote_before(sample: Old) -> None:
    assert type(sample.payload).from_json(sample.json) == sample.payload
    assert sample.payload.to_json() == sample.json
    assert list(sample.payload.to_json()) == list(sample.json)  # even the order of the keys


@pytest.mark.parametrize("sample", OLDER, ids=sample_id)
def test_older_rows_without_an_optional_key_read_with_its_default(sample: Old) -> None:
    assert type(sample.payload).from_json(sample.json) == sample.payload


@pytest.mark.parametrize(
    ("sample", "locale"),
    [(s, locale) for s in WRITTEN + OLDER for locale in s.text],
    ids=lambda v: v if isinstance(v, str) else sample_id(v),
)
def test_old_rows_render_as_before(sample: Old, locale: str) -> None:
    assert render(sample.kind, sample.json, locale) == (sample.text[locale], sample.buttons)
    # A row written by the new code renders the same.
    assert render(sample.payload.kind, sample.payload.to_json(), locale)[0] == sample.text[locale]


@pytest.mark.parametrize(
    ("kind", "data", "error"),
    [
        (
            "request_completed",
            ["not", "an", "object"],
            "request_completed: expected a JSON object",
        ),
        ("request_completed", {"workflow": WF}, "request_completed: 'request_id' is missing"),
        (
            "request_completed",
            {"request_id": "7", "workflow": WF},
            "request_completed: 'request_id' should be an integer, got '7'",
        ),
        (
            "request_completed",
            {"request_id": True, "workflow": WF},
            "'request_id' should be an integer, got True",
        ),
        (
            "request_completed",
            {"request_id": 7, "workflow": WF, "issued": "yes"},
            "'issued' should be true or false, got 'yes'",
        ),
        ("approval_needed", {**APPROVAL, "items": None}, "'items' should be a list, got None"),
        (
            "approval_needed",
            {**APPROVAL, "items": [{"name": "Paper", "unit": "pcs"}]},
            "approval_needed.items[0]: 'quantity' is missing",
        ),
        (
            "health_changed",
            {"status": "fine", "previous": "healthy", "components": []},
            "health_changed: 'status' should be one of ['healthy', 'degraded', 'unhealthy', "
            "'unknown'], got 'fine'",
        ),
        (
            "reconciliation_alert",
            {"finding_id": 1, "kind": "negative_stock", "sku": "P", "expected": "3"},
            "reconciliation_alert: 'expected' should be an integer, got '3'",
        ),
    ],
)
def test_a_payload_that_does_not_fit_its_kind_is_refused_with_a_clear_error(
    kind: str, data: object, error: str
) -> None:
    with pytest.raises(MalformedPayload) as raised:
        render(kind, data)
    assert error in str(raised.value)


def test_an_unknown_kind_raises_unknown_notification() -> None:
    with pytest.raises(UnknownNotification, match="carrier_pigeon"):
        render("carrier_pigeon", {"request_id": 1})


async def test_a_malformed_row_dies_as_render_failed_and_the_rest_go_out(world: World) -> None:
    recipients = [(await world.app.users.grant(tg, Role.REQUESTER)).id for tg in (71, 72, 73)]
    now = world.app.clock.now()
    rows = [
        ("approval_needed", {k: v for k, v in APPROVAL.items() if k != "items"}),
        ("carrier_pigeon", {"request_id": 1}),
        ("request_completed", {"request_id": 5, "workflow": WF}),  # as older code queued it
    ]
    async with world.app.sessionmaker() as session, session.begin():
        for n, (recipient, (kind, payload)) in enumerate(zip(recipients, rows, strict=True)):
            session.add(
                PendingNotification(
                    recipient_id=recipient,
                    kind=kind,
                    payload=payload,
                    idempotency_key=f"queued-before:{n}",
                    status=NotificationStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    assert await world.deliver() == 1
    [sent] = world.session.calls_of(SendMessage)
    assert (sent.chat_id, sent.text) == (73, "Request #5 is completed.")
    async with world.app.sessionmaker() as session:
        found = await session.execute(select(PendingNotification).order_by(PendingNotification.id))
        stored = list(found.unique().scalars())
    assert [(r.status, r.dead_reason, r.attempts, r.last_error) for r in stored] == [
        (
            NotificationStatus.DEAD,
            DeadReason.RENDER_FAILED,
            0,
            "MalformedPayload: approval_needed: 'items' is missing",
        ),
        (
            NotificationStatus.DEAD,
            DeadReason.RENDER_FAILED,
            0,
            "UnknownNotification: carrier_pigeon",
        ),
        (NotificationStatus.SENT, None, 1, None),
    ]
