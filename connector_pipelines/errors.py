"""The connector's error taxonomy: one root, and two kinds that tell a run what to do about a failure.

* :class:`TransientError` — the same step may well succeed a little later (rate limit exhausted, connection
  lost, run lock held by another run, 5xx after the client's own retries): the run's retry policy repeats it.
* :class:`PermanentError` — repeating cannot help until someone changes something (bad credentials, unknown
  tenant, invalid settings, missing credentials, key or decryption problems, payload errors): the step fails
  at once, and the message says for which tenant and system, and what to do.

Every exception the connector raises on purpose derives from :class:`ConnectorError`; most derive from one of
the two kinds as well (often next to a builtin base such as ``ValueError`` that callers already catch). An
error of neither kind — and any exception that is not a ConnectorError — is treated as permanent.
No message may carry a secret: messages name tenants, systems, paths and field names, never values.
"""

from __future__ import annotations

import re

CLI = "connector-pipelines"


class ConnectorError(Exception):
    """Root of every error the connector raises on purpose."""


class TransientError(ConnectorError):
    """A failure that may pass: retrying the step later can succeed."""


class PermanentError(ConnectorError):
    """A failure that retrying cannot fix. ``str()`` is one line naming tenant, system and remedy when known:

    ``tenant 'acme', shopware6: no credentials stored — remedy: store the credentials with ...``

    ``tenant``, ``system`` and ``remedy`` are optional; whoever knows more later (the step boundary knows the
    tenant) fills the gaps with :meth:`add_context`. A part the message already names is not repeated.
    """

    # Annotated, not assigned: a subclass's own __init__ (ApiError's) may set ``system`` before this one runs.
    message: str
    tenant: str | None
    system: str | None
    remedy: str | None

    def __init__(
        self,
        message: str = "",
        *,
        tenant: str | None = None,
        system: str | None = None,
        remedy: str | None = None,
    ) -> None:
        self.message = message
        self.tenant = tenant if tenant is not None else getattr(self, "tenant", None)
        self.system = system if system is not None else getattr(self, "system", None)
        self.remedy = remedy if remedy is not None else getattr(self, "remedy", None)
        # args holds the composed line, so that code showing ``exc.args[0]`` (the CLI) shows all of it.
        super().__init__(str(self))

    def default_remedy(self) -> str | None:
        """The remedy when none was given; subclasses derive one from tenant and system."""
        return None

    def add_context(self, *, tenant: str | None = None, system: str | None = None) -> None:
        """Fill in what the raiser did not know; what it did know stays."""
        if self.tenant is None and tenant:
            self.tenant = tenant
        if self.system is None and system:
            self.system = system
        self.args = (str(self),)

    def __str__(self) -> str:
        return describe(
            self.message, tenant=self.tenant, system=self.system, remedy=self.remedy or self.default_remedy()
        )


class PayloadError(PermanentError, ValueError):
    """A canonical record cannot be expressed as a payload the target accepts (a missing currency, tax or
    reference; too many options or variants). Recorded against the record; sending it again cannot help."""


def describe(
    message: str, *, tenant: str | None = None, system: str | None = None, remedy: str | None = None
) -> str:
    """``tenant 'acme', shopware6: <message> — remedy: <remedy>``, leaving out what is unknown or already
    named in ``message``."""
    where = []
    if tenant and f"tenant '{tenant}'" not in message:
        where.append(f"tenant '{tenant}'")
    if system and not re.search(rf"(?<![\w-]){re.escape(system)}(?![\w-])", message):
        where.append(system)
    text = f"{', '.join(where)}: {message}" if where and message else ", ".join(where) or message
    return f"{text} — remedy: {remedy}" if remedy else text


def is_transient(exc: BaseException) -> bool:
    """Whether repeating the failed work later may succeed."""
    return isinstance(exc, TransientError)


# --- remedies shared by several errors ----------------------------------------------------------------------


def set_credentials_remedy(tenant: str | None, system: str | None, *, verb: str = "store new") -> str:
    command = f"{CLI} tenants set-credentials {tenant or '<tenant>'} {system or '<system>'}"
    return f"{verb} credentials with `{command}`"


def update_settings_remedy(tenant: str | None, system: str | None, *, verb: str = "correct") -> str:
    return (
        f"{verb} the settings with `{CLI} tenants update {tenant or '<tenant>'} --settings-file <file>` "
        f'(JSON: {{"{system or "<system>"}": {{...}}}})'
    )
