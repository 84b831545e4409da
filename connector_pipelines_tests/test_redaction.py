from __future__ import annotations

import io
import logging

import pytest

from connector_pipelines.logs import make_handler
from connector_pipelines.redaction import MASK, redact, register_secrets


def test_registered_secrets_are_masked_longest_first() -> None:
    register_secrets(["abcd-secret", "abcd-secret-longer", "ab"])
    assert redact("x abcd-secret-longer y abcd-secret z ab") == f"x {MASK} y {MASK} z ab"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_handlers_mask_secrets_in_messages_args_and_tracebacks(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_LOG_FORMAT", fmt)
    register_secrets(["tok-123456789"])
    stream = io.StringIO()
    logger = logging.getLogger(f"test.redaction.{fmt}")
    logger.addHandler(make_handler(stream))
    logger.propagate = False
    logger.warning("calling with %s", "tok-123456789")
    try:
        raise RuntimeError("server echoed tok-123456789")
    except RuntimeError:
        logger.exception("failed")
    output = stream.getvalue()
    assert "tok-123456789" not in output
    assert output.count(MASK) >= 2
    if fmt == "json":
        assert output.lstrip().startswith("{")
