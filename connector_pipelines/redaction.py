"""Keeps credential values out of logs, metadata, exception messages and anything the UI shows.

Every decrypted credential value is registered here the moment it is decrypted; ``redact`` replaces any
registered value in a string. Log handlers, metadata builders and the asset error boundary all pass text
through it, so a secret that slips into a message (an echoed URL, a server's error body) is masked anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

MASK = "***"
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words and digits

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register_secrets(values: Iterable[str]) -> None:
    global _secrets
    fresh = {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_LEN}
    if not fresh - _secrets:
        return
    with _lock:
        _secrets = _secrets | fresh


def redact(text: str) -> str:
    secrets = _secrets
    if not secrets:
        return text
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks registered secrets in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters print exc_text when it is set instead of formatting exc_info again.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
