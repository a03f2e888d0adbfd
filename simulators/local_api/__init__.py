"""A local server speaking the Telegram Bot API: Telegram for the tests, sandbox and chaos run."""

from simulators.local_api.server import LocalBotAPI
from simulators.local_api.wire import ApiCall, FakeUser, Fault

__all__ = ["ApiCall", "FakeUser", "Fault", "LocalBotAPI"]
