"""Notification payloads as the services wrote them before the typed kinds (copied from the
hand-built dicts in services/), the typed payload each reads as, and the text it rendered to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.enums import (
    DiscrepancyKind,
    ErrorCategory,
    ErrorSeverity,
    HealthComponent,
    HealthStatus,
    RecoveryAction,
    RequestStatus,
)
from outbox.payloads import (
    ApprovalNeeded,
    ErrorAlert,
    HealthChanged,
    HealthRecovered,
    ItemLine,
    Payload,
    ReconciliationAlert,
    RecoveryApplied,
    RequestAdvanced,
    RequestCompleted,
    RequestRejected,
    StuckEscalation,
    StuckNudge,
)

WF = "inventory_request"


@dataclass(frozen=True)
class Old:
    """A payload exactly as the services wrote it before the typed kinds, the typed payload it
    reads as, and the text it rendered to then (locale -> text)."""

    kind: str
    json: dict[str, Any]
    payload: Payload
    text: dict[str, str]
    buttons: str | None = None  # "request id:version" of the decision buttons


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

# Rows without a key the old renderer read as optional (tests queued such rows): the default.
OLDER = [
    Old(
        "request_advanced",
        {"request_id": 7, "workflow": WF, "stage": "warehouse_issue"},
        RequestAdvanced(7, WF, "warehouse_issue", None),
        {
            "en": "Request #7 was approved and moved to Warehouse issue. Nobody holds that role "
            "yet; an admin has to assign someone."
        },
    ),
    Old(
        "request_completed",
        {"request_id": 5, "workflow": WF},
        RequestCompleted(5, WF, issued=False),
        {"en": "Request #5 is completed.", "ru": "Заявка #5 выполнена."},
    ),
    Old(
        "health_recovered",
        {"status": "healthy", "previous": "unhealthy"},
        HealthRecovered(HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, ()),
        {"en": "✅ System health recovered: healthy again (was unhealthy)."},
    ),
    Old(
        "stuck_escalation",
        STUCK,
        StuckEscalation(7, 3, WF, "manager_approval", 50, None, assignee_gone=False),
        {
            "en": "Request #7 is stuck at Manager approval for 50 h despite a reminder to None. "
            "See /workflow_recovery."
        },
    ),
]
