"""Only the server's own address may drive it: a Host and Origin check in front of every route.

A web page the person happens to visit can send requests to 127.0.0.1 too, and with DNS
rebinding (its own name resolving to 127.0.0.1) even read the answers. Both show in the
headers: the browser sends the page's name as Host (answered 421 Misdirected Request) and its
origin as Origin on anything but a plain GET (answered 403). The bot (aiogram) sends the
address it was given as Host and no Origin, so it passes.

Allowed: the bound address with the bound port; on a loopback address also `localhost` and
the other loopback names; on a wildcard bind (0.0.0.0, ::) any IP literal — a rebinding page
always uses a name — and `localhost`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "", "::")


def host_allowed(bound_host: str, bound_port: int, host: str | None, port: int | None) -> bool:
    if host is None or (port or 80) != bound_port:
        return False
    host = host.lower()
    if bound_host in WILDCARD:
        return host == "localhost" or _is_ip(host)
    if bound_host in LOOPBACK_NAMES:
        return host in LOOPBACK_NAMES
    return host == bound_host.lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _split(value: str) -> tuple[str | None, int | None]:
    parts = urlsplit(value if "//" in value else f"//{value}")
    try:
        return parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        return None, None


def same_origin_only(address: Callable[[], tuple[str, int]]) -> Middleware:
    """The middleware; `address()` is the bound (host, port), read per request because the
    port is known only once the server listens."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        bound_host, bound_port = address()
        if not host_allowed(bound_host, bound_port, *_split(request.host)):
            return _refuse(request, 421, f"this server answers only as {bound_host}:{bound_port}")
        origin = request.headers.get("Origin")
        if origin is not None:
            parts = urlsplit(origin)
            host, port = _split(origin)
            if parts.scheme != "http" or not host_allowed(bound_host, bound_port, host, port):
                return _refuse(request, 403, "requests from other web pages are refused")
        return await handler(request)

    return guard


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/bot"):  # a Bot API client reads Telegram's error shape
        body: dict[str, object] = {"ok": False, "error_code": status, "description": message}
    else:
        body = {"error": message}
    return web.json_response(body, status=status)
