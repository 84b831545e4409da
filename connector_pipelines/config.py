"""Process configuration from environment variables, read when used (never at import time)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_VAR = "CONNECTOR_HOME"
DATABASE_URL_VAR = "CONNECTOR_DATABASE_URL"
ENCRYPTION_KEY_VAR = "CONNECTOR_ENCRYPTION_KEY"
OLD_KEYS_VAR = "CONNECTOR_ENCRYPTION_KEYS_OLD"
LOG_FORMAT_VAR = "CONNECTOR_LOG_FORMAT"


def connector_home() -> Path:
    return Path(os.environ.get(HOME_VAR) or ".connector").resolve()


def database_url() -> str:
    url = os.environ.get(DATABASE_URL_VAR)
    if url:
        return url
    home = connector_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'connector.db'}"


def log_format() -> str:
    return os.environ.get(LOG_FORMAT_VAR, "text").lower()
