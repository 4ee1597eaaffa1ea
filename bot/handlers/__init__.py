"""Handler modules, registered in one visible order."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler module's handlers; earlier groups win."""
