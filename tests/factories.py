"""Building rows for tests through the same services production uses."""

from __future__ import annotations

from core.enums import Role
from services.inventory import ImportRow
from tests.conftest import World


async def stock(world: World, *rows: tuple[str, str, int]) -> None:
    """Import items (sku, name, stock) as the operator's CSV import would."""
    await world.app.inventory.import_rows(
        [ImportRow(i + 2, sku, name, "pcs", qty) for i, (sku, name, qty) in enumerate(rows)]
    )


async def person(world: World, telegram_id: int, *roles: Role) -> None:
    for role in roles:
        await world.app.users.grant(telegram_id, role)
