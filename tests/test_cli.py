"""`python -m bot ...` for operators, run in-process against both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select

from bot.cli import main
from database.engine import create_engine, create_sessionmaker
from database.migrate import alembic_config
from database.models import InventoryItem, InventoryTransaction
from services.inventory import MAX_STOCK
from tests.support import db


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_database_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ADMIN_IDS", "900")
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return fresh_database_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def stock_rows(url: str) -> tuple[dict[str, tuple[str, str, int]], list[tuple[str, int]]]:
    async def work() -> tuple[dict[str, tuple[str, str, int]], list[tuple[str, int]]]:
        engine = create_engine(url, null_pool=True)
        try:
            async with create_sessionmaker(engine)() as session:
                items = (await session.execute(select(InventoryItem))).scalars().all()
                ledger = (
                    (
                        await session.execute(
                            select(InventoryTransaction).order_by(InventoryTransaction.id)
                        )
                    )
                    .scalars()
                    .all()
                )
                by_id = {i.id: i.sku for i in items}
                return (
                    {i.sku: (i.name, i.unit, i.stock) for i in items},
                    [(by_id[t.item_id], t.quantity) for t in ledger],
                )
        finally:
            await engine.dispose()

    return db.run_in_thread(work())


def test_users_grant_list_revoke(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = ScriptDirectory.from_config(alembic_config(env)).get_current_head()
    assert run(capsys, "migrate")[:2] == (
        0,
        f"database is at the latest schema (revision {head})\n",
    )
    code, out, _ = run(capsys, "users", "list")
    assert (code, out) == (
        0,
        "no users yet: people appear here after they send /start to the bot\n",
    )
    assert run(capsys, "users", "grant", "201", "manager")[:2] == (
        0,
        "201 now has roles: manager, requester\n",
    )
    assert run(capsys, "users", "grant", "201", "STOREKEEPER")[0] == 0
    assert run(capsys, "users", "revoke", "201", "manager")[:2] == (
        0,
        "201 now has roles: requester, storekeeper\n",
    )
    assert run(capsys, "users", "deactivate", "201")[:2] == (0, "201 is deactivated\n")
    code, out, _ = run(capsys, "users", "list")
    assert out == "201\t201\trequester,storekeeper (deactivated)\n1-1 of 1 in all\n"


def test_users_bad_input(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["users", "grant", "abc", "manager"])
    assert exit_info.value.code == 2
    assert "'abc' is not a numeric Telegram user id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["users", "grant", "5", "boss"])
    assert "unknown role 'boss'; choose one of requester, manager" in capsys.readouterr().err
    code, _, err = run(capsys, "users", "revoke", "404", "manager")
    assert (code, err) == (1, "error: No user with Telegram id 404.\n")


def test_items_import_is_all_or_nothing(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sku,name,unit,stock\nA-1,Paper,pack,10\nB-2,,pcs,x\nA-1,Again,pcs,1\n"
        "C-3,Ink,pcs,2147483648\nD-4,Glue,pcs,+5\n"  # beyond PostgreSQL's integer; a sign
    )
    code, _, err = run(capsys, "items", "import", str(bad))
    assert code == 1
    assert err.splitlines() == [
        f"error: nothing was imported from {bad}:",
        "  line 3: name is empty; stock 'x' is not a whole number",
        "  line 4: sku 'A-1' already appears on line 2",
        f"  line 5: stock 2147483648 is more than {MAX_STOCK}",
        "  line 6: stock '+5' is not a whole number",
    ]
    assert stock_rows(env) == ({}, [])

    good = tmp_path / "good.csv"
    good.write_text("SKU,Name,Stock\nA-1,Paper,10\nB-2,Pens,\n")
    code, out, _ = run(capsys, "items", "import", str(good))
    assert (code, out) == (0, f"imported {good}: 2 new, 0 updated items\n  A-1: stock +10\n")
    good.write_text(f"sku,name,unit,stock\nA-1,Paper A4,pack,7\nC-3,Ink,,{MAX_STOCK}\n")
    code, out, _ = run(capsys, "items", "import", str(good))
    assert out == (
        f"imported {good}: 1 new, 1 updated items\n  A-1: stock -3\n  C-3: stock +{MAX_STOCK}\n"
    )
    items, ledger = stock_rows(env)
    assert items == {
        "A-1": ("Paper A4", "pack", 7),
        "B-2": ("Pens", "pcs", 0),
        "C-3": ("Ink", "pcs", MAX_STOCK),  # the largest figure fits on both databases
    }
    assert ledger == [("A-1", 10), ("A-1", -3), ("C-3", MAX_STOCK)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name\nPaper\n", "line 1: missing column(s) sku"),
        (b"sku,name,colour\nA,B,red\n", "line 1: unknown column(s) colour"),
        (b"sku,name\n", "the file has no item rows"),
        (b"sku,name\nA,B,C\n", "line 2: more fields than the header has"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    ],
)
def test_items_import_reports_bad_files(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(content)
    code, _, err = run(capsys, "items", "import", str(path))
    assert code == 1
    assert message in err
    code, _, err = run(capsys, "items", "import", str(tmp_path / "missing.csv"))
    assert "missing.csv: file not found" in err


def test_run_without_token_stops_with_advice(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "BOT_TOKEN is not set" in err and "@BotFather" in err


def test_bad_setting_stops_with_the_variable_named(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADMIN_IDS", "me")
    code, _, err = run(capsys, "migrate")
    assert code == 2
    assert "ADMIN_IDS" in err


def test_cleanup_says_what_it_deleted(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cleanup")
    assert code == 0
    assert out.strip() == (
        "deleted 0 resolved error records, 0 old error occurrences, 0 transaction log rows, "
        "0 health snapshots and 0 settled confirmations"
    )
