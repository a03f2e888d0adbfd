"""`python -m bot reconcile` on both databases: the same report as the admin screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from database.engine import create_engine, create_sessionmaker
from database.models import InventoryItem
from tests.support import db
from tests.test_cli import env, run, stock_rows  # noqa: F401  (env is a fixture)


def tamper(url: str, sku: str, figure: int) -> None:
    async def work() -> None:
        engine = create_engine(url, null_pool=True)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await session.execute(
                    update(InventoryItem).where(InventoryItem.sku == sku).values(stock=figure)
                )
        finally:
            await engine.dispose()

    db.run_in_thread(work())


def test_reconcile_dry_run_then_apply(
    env: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    items = tmp_path / "items.csv"
    items.write_text("sku,name,stock\nA-1,Paper,10\nB-2,Pens,4\n")
    assert run(capsys, "items", "import", str(items))[0] == 0
    assert run(capsys, "reconcile") == (
        0,
        "Preview (dry run): nothing was changed.\nNo discrepancies found.\n",
        "",
    )
    tamper(env, "A-1", 3)
    code, out, _ = run(capsys, "reconcile")
    assert (code, out) == (
        0,
        "Preview (dry run): nothing was changed.\n\n"
        "Found by kind:\n• stock figure disagrees with the ledger: 1\n\n"
        "Applying would fix 1 and leave 0 for an admin (0 new).\n\n"
        "• A-1: stock figure disagrees with the ledger (expected 10, actual 3) → "
        "recompute the stock figure\n",
    )
    assert stock_rows(env)[0]["A-1"][2] == 3
    code, out, _ = run(capsys, "reconcile", "--apply", "--item", "A-1")
    assert code == 0 and out.startswith("Reconciliation run #1 applied.\n")
    assert "Fixed: 1. Left for an admin: 0 (0 new)." in out
    assert stock_rows(env)[0]["A-1"][2] == 10
    assert run(capsys, "reconcile", "--apply")[1] == (
        "Reconciliation run #2 applied.\nNo discrepancies found.\n"
    )


def test_reconcile_unknown_sku(env: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert run(capsys, "reconcile", "--item", "NOPE") == (1, "", "error: No item with SKU NOPE.\n")
