"""Typed notification payloads: every kind has its type and its renderer, the rows the services
wrote before the types existed still read and render the same in every language, and a payload
that does not fit its kind ends dead as render_failed instead of blocking the queue."""

from __future__ import annotations

import json
from enum import Enum

import pytest
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select

from core.enums import DeadReason, NotificationStatus, Role
from core.i18n import create_i18n
from core.settings import DEFAULT_WORKFLOWS_FILE
from core.workflows import load_workflows
from database.models import PendingNotification, User
from outbox.payloads import MalformedPayload, NotificationKind, Payload
from outbox.render import Renderer, UnknownNotification
from outbox.renderers import RENDERERS
from tests.conftest import World
from tests.support.old_payloads import APPROVAL, OLDER, WF, WRITTEN, Old


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
