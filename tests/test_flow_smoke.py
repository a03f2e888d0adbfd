from tests.conftest import World


async def test_start_registers(world: World) -> None:
    ann = world.client(1, "Ann")
    await ann.send("/start")
    assert "Hello, Ann" in ann.last_reply()
