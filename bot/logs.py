"""Logging for the process: one format, and every record masked before it is written."""

from __future__ import annotations

import logging

from core.settings import Settings
from utils.masking import Masker, MaskingFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: Settings) -> logging.Handler | None:
    """Install a masked stderr handler, unless the embedding program configured logging."""
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    root = logging.getLogger()
    if root.handlers:
        return None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(MaskingFilter(Masker(secrets=settings.secrets())))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler
