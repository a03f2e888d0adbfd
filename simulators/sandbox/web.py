"""The sandbox's page and its JSON API, served by the local Bot API server's aiohttp app.

Every bad input is answered 400 (or 404 for a person or message that does not exist) with
`{"error": "..."}` saying what to send instead. The API's POSTs take JSON only (415 otherwise):
a form posted by another web page (it needs no permission to post a form) is refused, and a
page's JSON needs a CORS preflight this server never grants; the server's Host and Origin
check (simulators/local_api/guard.py) refuses the rest."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from simulators.sandbox.people import BadInput
from simulators.sandbox.world import NotFoundInput, Sandbox

STATIC = Path(__file__).resolve().parent / "static"
SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
MAX_WAIT_SECONDS = 25.0
MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_routes(app: web.Application, sandbox: Sandbox) -> None:
    app[SANDBOX_KEY] = sandbox
    app.middlewares.append(_errors)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/state", state)
    app.router.add_post("/api/send", send)
    app.router.add_post("/api/press", press)
    app.router.add_post("/api/people", add_person)
    app.router.add_post("/api/language", language)
    app.router.add_post("/api/fault", fault)
    app.router.add_post("/api/calm", calm)
    app.router.add_post("/api/clock", clock)


class NotJson(Exception):
    """A POST whose body is not declared JSON (a form, text): 415."""


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except NotJson as exc:
        return _error(415, str(exc))
    except BadInput as exc:
        return _error(400, str(exc))
    except NotFoundInput as exc:
        return _error(404, str(exc))
    except web.HTTPException as exc:
        # Unknown /api/ paths and wrong methods: JSON too, not aiohttp's text page.
        return _error(exc.status, exc.reason)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise NotJson("send a JSON object with Content-Type: application/json")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadInput(f"the body is too large (at most {MAX_BODY} bytes)")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadInput(f"the body is too large (at most {MAX_BODY} bytes)")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"the body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadInput('send a JSON object, e.g. {"person": 1001, "text": "/start"}')
    return body


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def state(request: web.Request) -> web.Response:
    """One person's view; with `since` (a revision) it waits until something changed."""
    sandbox = _sandbox(request)
    sandbox.person(request.query.get("person"))  # a bad person fails before any waiting
    since = request.query.get("since")
    if since is not None:
        try:
            seen = int(since)
        except ValueError:
            raise BadInput("since: the revision number a previous answer gave") from None
        await sandbox.api.changed(seen, MAX_WAIT_SECONDS)
    return web.json_response(sandbox.state(request.query.get("person")))


async def send(request: web.Request) -> web.Response:
    body = await _body(request)
    message = _sandbox(request).send(body.get("person"), body.get("text"))
    return web.json_response({"message_id": message["message_id"]})


async def press(request: web.Request) -> web.Response:
    body = await _body(request)
    query_id = _sandbox(request).press(
        body.get("person"), body.get("message_id"), body.get("data")
    )
    return web.json_response({"query_id": query_id})


async def add_person(request: web.Request) -> web.Response:
    body = await _body(request)
    person = await _sandbox(request).add_person(
        body.get("name"), body.get("role"), body.get("language")
    )
    return web.json_response(person.as_json(), status=201)


async def language(request: web.Request) -> web.Response:
    body = await _body(request)
    person = await _sandbox(request).set_language(body.get("person"), body.get("language"))
    return web.json_response(person.as_json())


async def fault(request: web.Request) -> web.Response:
    body = await _body(request)
    active = _sandbox(request).fault(body.get("kind"), body.get("seconds"), body.get("person"))
    return web.json_response({"kind": active.kind, "person": active.person_id}, status=201)


async def calm(request: web.Request) -> web.Response:
    await _body(request)  # {}: JSON like every other action, so no form can press it
    _sandbox(request).calm()
    return web.json_response({"faults": []})


async def clock(request: web.Request) -> web.Response:
    body = await _body(request)
    sandbox = _sandbox(request)
    jobs = await sandbox.advance(body.get("minutes"))
    return web.json_response({"now": sandbox.clock.now().isoformat(), "jobs": jobs})
