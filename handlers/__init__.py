"""Handler routers, in the order the dispatcher tries them; catch-alls last."""

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import admin, approvals, common, fallback, requests

    return [
        *(table.create_router() for table in (common.routes, requests.routes, approvals.routes)),
        *admin.get_routers(),
        fallback.routes.create_router(),
    ]
