"""A local server speaking the Telegram Bot API: Telegram for the tests, sandbox and chaos run."""

from bot.local_api.server import LocalBotAPI
from bot.local_api.wire import ApiCall, FakeUser, Fault

# The tests' name for it.
FakeBotAPI = LocalBotAPI

__all__ = ["ApiCall", "FakeBotAPI", "FakeUser", "Fault", "LocalBotAPI"]
