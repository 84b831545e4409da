"""The ERP file server of a tenant: a local folder, FTP, FTPS (explicit, or implicit on port 990) or SFTP.

A :class:`FileSource` lists the files matching a tenant's path or pattern (size and modification time where
the server tells them), picks the newest match, and opens a streaming binary reader; nothing here holds a
whole file in memory. ``sources/erp_files.py`` parses what it reads.

Credentials never appear in an error message: messages name the user, host, port and path only.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import ftplib
import hashlib
import io
import logging
import os
import posixpath
import re
import socket
import ssl
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict

from connector_pipelines import errors
from connector_pipelines.tenants.systems import (
    ErpFilesCredentials,
    ErpFilesSettings,
    relative_file_path,
)

if TYPE_CHECKING:
    import paramiko
    from _typeshed import WriteableBuffer

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
SFTP_WINDOW_BYTES = 1 << 20  # read-ahead of the SFTP reader: pipelined requests, bounded memory
SFTP_REQUEST_BYTES = 32768  # the largest read request every SFTP server answers in full


_SYSTEM = "erp_files"


class FileSourceError(errors.ConnectorError, RuntimeError):
    """The file could not be listed, reached or read (connection, login, TLS, host key, missing file).

    As such not retried (a missing file, a path outside the root, an untrusted certificate); the subclasses
    say more: a lost or refused connection is transient, refused credentials and a wrong host key are not."""


class FileConnectionError(FileSourceError, errors.TransientError):
    """The server could not be reached, or the connection broke while listing or reading: may pass."""


class FileCredentialsError(FileSourceError, errors.PermanentError):
    """The server refused the login, or the credentials are missing or unusable."""

    def __init__(self, message: str) -> None:
        super().__init__(message, system=_SYSTEM)

    def default_remedy(self) -> str:
        return errors.set_credentials_remedy(self.tenant, self.system)


class HostKeyMismatchError(FileSourceError, errors.PermanentError):
    """The SFTP server presented a host key other than the configured one."""

    def __init__(self, message: str) -> None:
        super().__init__(message, system=_SYSTEM)

    def default_remedy(self) -> str:
        tenant = self.tenant or "<tenant>"
        return (
            "confirm the server's new key with its operator, then store it with "
            f"`{errors.CLI} tenants update {tenant} --settings-file <file>` "
            '(JSON: {"erp_files": {"sftp_host_key": "SHA256:..."}})'
        )


# --- files and identities -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One file below the root: its path relative to the root, and what the server told about it."""

    path: str
    size: int | None
    mtime: datetime | None


class FileIdentity(BaseModel):
    """What the change sensor compares: size and modification time, or a content hash when the server
    tells neither. Serializable as the sensor cursor (``model_dump_json`` / ``model_validate_json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    size: int | None
    mtime: datetime | None
    sha256: str | None


def choose_newest(
    files: Iterable[FileInfo], newest_by: Literal["mtime", "name"] = "mtime"
) -> FileInfo | None:
    """The newest file: latest modification time (name breaks ties), or the greatest name when asked for
    or when some file has no modification time (servers without MLSD / MDTM)."""
    candidates = list(files)
    if not candidates:
        return None
    if newest_by == "mtime" and all(f.mtime is not None for f in candidates):
        return max(candidates, key=lambda f: (f.mtime, f.path))
    return max(candidates, key=lambda f: f.path)


def _split_target(settings: ErpFilesSettings) -> tuple[str, str, bool]:
    """(directory relative to root, file name or glob, is a glob) of the configured path or pattern."""
    target = settings.path if settings.path is not None else settings.pattern
    assert target is not None  # the settings model requires exactly one
    directory, _, name = target.rpartition("/")
    return directory, name, settings.pattern is not None


def _matches(name: str, wanted: str, is_glob: bool) -> bool:
    return fnmatch.fnmatchcase(name, wanted) if is_glob else name == wanted


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


class FileSource(ABC):
    """One tenant's file location. Not thread-safe; connections open lazily and close with :meth:`close`."""

    def __init__(self, settings: ErpFilesSettings) -> None:
        self.settings = settings

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the files are, for messages: ``kind://host:port/root`` (never a credential)."""

    @abstractmethod
    def list_files(self) -> list[FileInfo]:
        """Regular files matching the configured path or pattern, with the size and mtime the server gives."""

    @abstractmethod
    def open_binary(self, path: str) -> AbstractContextManager[BinaryIO]:
        """A streaming binary reader of ``path`` (relative to the root)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the source reconnects if used again."""

    def newest(self) -> FileInfo:
        """The configured file, or the newest file matching the pattern."""
        files = self.list_files()
        chosen = choose_newest(files, self.settings.newest_by)
        if chosen is None:
            what = self.settings.path or self.settings.pattern
            raise FileSourceError(f"no file matches '{what}' under {self.location}")
        return chosen

    def _checked(self, path: str) -> str:
        """``path`` if it stays below the root (paths normally come from :meth:`list_files`)."""
        try:
            return relative_file_path(path)
        except ValueError as exc:
            raise FileSourceError(f"refusing {path!r}: {exc}") from None

    def sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        with self.open_binary(path) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest()

    def identity(self, info: FileInfo | None = None) -> FileIdentity:
        """The identity of ``info`` (default: the newest file); hashes the content only when the server
        gives neither size nor modification time."""
        info = info or self.newest()
        digest = self.sha256(info.path) if info.size is None and info.mtime is None else None
        return FileIdentity(path=info.path, size=info.size, mtime=info.mtime, sha256=digest)

    def __enter__(self) -> FileSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_source(settings: ErpFilesSettings, credentials: ErpFilesCredentials | None = None) -> FileSource:
    """The file source for ``settings`` (credentials are needed for ftp, ftps and sftp)."""
    if settings.kind == "local":
        return LocalFileSource(settings)
    credentials = credentials or ErpFilesCredentials()
    if settings.kind == "sftp":
        return SftpFileSource(settings, credentials)
    return FtpFileSource(settings, credentials)


# --- local folder -------------------------------------------------------------------------------------------


class LocalFileSource(FileSource):
    def __init__(self, settings: ErpFilesSettings) -> None:
        super().__init__(settings)
        self.root = Path(settings.root).resolve()

    @property
    def location(self) -> str:
        return f"local://{self.root}"

    def _resolve(self, path: str) -> Path:
        # Symlinks may point anywhere: the resolved file must still be below the root.
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root):
            raise FileSourceError(f"{path} resolves outside the root {self.location}")
        return resolved

    def list_files(self) -> list[FileInfo]:
        directory, wanted, is_glob = _split_target(self.settings)
        base = self.root / directory
        if not base.is_dir():
            return []
        files = []
        with os.scandir(base) as entries:
            for entry in entries:
                if not _matches(entry.name, wanted, is_glob):
                    continue
                rel = _join(directory, entry.name)
                resolved = self._resolve(rel)
                if not resolved.is_file():
                    continue
                st = resolved.stat()
                files.append(FileInfo(rel, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)))
        return files

    def close(self) -> None:
        """Nothing to release: a local file is opened per read."""

    @contextmanager
    def open_binary(self, path: str) -> Iterator[BinaryIO]:
        try:
            stream = self._resolve(self._checked(path)).open("rb", buffering=CHUNK_BYTES)
        except OSError as exc:
            raise FileSourceError(f"cannot open {path} under {self.location}: {exc.strerror}") from None
        with stream:
            yield stream


# --- FTP and FTPS -------------------------------------------------------------------------------------------


def _remote_path(root: str, rel: str) -> str:
    if root in ("", "."):
        return rel or "."
    return posixpath.join(root, rel) if rel else root


def _parse_ftp_time(value: str) -> datetime | None:
    """MLSD ``modify`` / MDTM answer: YYYYMMDDHHMMSS[.sss], UTC."""
    match = re.fullmatch(r"(\d{14})(?:\.(\d{1,6}))?", value.strip())
    if not match:
        return None
    parsed = datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    micros = int((match.group(2) or "0").ljust(6, "0"))
    return parsed.replace(microsecond=micros)


def _ftp_code(exc: ftplib.Error) -> str:
    return str(exc)[:3]


class _ImplicitFtpTls(ftplib.FTP_TLS):
    """Implicit FTPS (port 990): TLS from the first byte of the control connection, before the server's
    greeting; ftplib knows only explicit FTPS (AUTH TLS on a plain connection). Login then skips AUTH, the
    control socket being secured already; data channels are protected with PBSZ 0 / PROT P as in explicit
    mode."""

    def connect(
        self,
        host: str = "",
        port: int = 0,
        timeout: float = -999,
        source_address: tuple[str, int] | None = None,
    ) -> str:
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        if source_address is not None:
            self.source_address = source_address
        sock = socket.create_connection(
            (self.host, self.port), self.timeout, source_address=self.source_address
        )
        self.af = sock.family
        try:
            self.sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


class FtpFileSource(FileSource):
    """FTP, or FTPS (explicit: AUTH TLS on the plain connection; implicit: TLS from the first byte, port 990;
    both with a protected data channel) verifying the server's certificate against the system trust store or
    the configured CA bundle. Passive mode."""

    def __init__(self, settings: ErpFilesSettings, credentials: ErpFilesCredentials) -> None:
        super().__init__(settings)
        self.credentials = credentials
        self.host = settings.host or ""
        self.port = settings.effective_port or 21
        self._ftp: ftplib.FTP | None = None

    @property
    def location(self) -> str:
        return f"{self.settings.kind}://{self.host}:{self.port}/{self.settings.root.lstrip('/')}"

    def _tls_context(self) -> ssl.SSLContext:
        # Verification stays on: a private CA is added to the trust store, never a bypass.
        ca_bundle = self.settings.tls.ca_bundle
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise FileSourceError(f"cannot load the CA bundle {ca_bundle}: {exc}") from None

    def _connect(self) -> ftplib.FTP:

        user = self.credentials.username or "anonymous"
        password = self.credentials.password.get_secret_value() if self.credentials.password else ""
        timeout = self.settings.timeout_s
        ftp: ftplib.FTP
        # Plain FTP is a kind the tenant chooses explicitly (ERP servers still offer only that).
        if self.settings.kind == "ftps" and self.settings.ftps_mode == "implicit":
            ftp = _ImplicitFtpTls(context=self._tls_context(), timeout=timeout)
        elif self.settings.kind == "ftps":
            ftp = ftplib.FTP_TLS(context=self._tls_context(), timeout=timeout)  # noqa: S321
        else:
            ftp = ftplib.FTP(timeout=timeout)  # noqa: S321
        implicit = isinstance(ftp, _ImplicitFtpTls)
        greeted = False
        try:
            ftp.connect(self.host, self.port)
            greeted = True
            if isinstance(ftp, ftplib.FTP_TLS) and not implicit:
                ftp.auth()
            ftp.login(user, password)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(True)
        except ssl.SSLCertVerificationError as exc:
            ftp.close()
            raise FileSourceError(
                f"TLS certificate of {self.location} not trusted: {exc.verify_message}"
            ) from None
        except ssl.SSLError as exc:
            ftp.close()
            if implicit and not greeted:
                # A plain greeting where a TLS handshake was expected: the server speaks explicit FTPS.
                raise FileSourceError(
                    f"{self.location} does not start TLS at once ({exc.reason}): for explicit FTPS "
                    "(AUTH TLS, usually port 21) set ftps_mode: explicit"
                ) from None
            raise FileConnectionError(f"TLS with {self.location} failed: {exc}") from None
        except ftplib.error_perm as exc:
            ftp.close()
            if _ftp_code(exc) == "530":
                raise FileCredentialsError(
                    f"FTP login refused for user '{user}' at {self.location}"
                ) from None
            raise FileSourceError(f"FTP server {self.location} refused the session: {exc}") from None
        except (OSError, EOFError, ftplib.Error) as exc:
            ftp.close()
            hint = ""
            if (
                self.settings.kind == "ftps"
                and not implicit
                and not greeted
                and isinstance(exc, TimeoutError)
            ):
                # An implicit FTPS server waits for a TLS handshake and never greets a plain connection.
                hint = " (if the server speaks implicit FTPS, usually on port 990, set ftps_mode: implicit)"
            raise FileConnectionError(
                f"cannot connect to {self.location}: {str(exc) or type(exc).__name__}{hint}"
            ) from None
        return ftp

    def _client(self) -> ftplib.FTP:
        if self._ftp is None:
            self._ftp = self._connect()
        return self._ftp

    def close(self) -> None:
        ftp, self._ftp = self._ftp, None
        if ftp is not None:
            try:
                ftp.quit()
            except (OSError, EOFError, ftplib.Error):
                ftp.close()

    def list_files(self) -> list[FileInfo]:
        directory, wanted, is_glob = _split_target(self.settings)
        remote_dir = _remote_path(self.settings.root, directory)
        ftp = self._client()
        try:
            return self._list_mlsd(ftp, remote_dir, directory, wanted, is_glob)
        except ftplib.error_perm as exc:
            if _ftp_code(exc) not in ("500", "501", "502", "504"):
                return []  # 550: no such directory
        except (OSError, EOFError, ftplib.Error) as exc:
            self.close()
            raise FileConnectionError(f"cannot list {remote_dir} on {self.location}: {exc}") from None
        try:
            return self._list_plain(ftp, remote_dir, directory, wanted, is_glob)
        except (OSError, EOFError, ftplib.Error) as exc:
            self.close()
            raise FileConnectionError(f"cannot list {remote_dir} on {self.location}: {exc}") from None

    @staticmethod
    def _list_mlsd(
        ftp: ftplib.FTP, remote_dir: str, directory: str, wanted: str, glob: bool
    ) -> list[FileInfo]:
        files = []
        for name, facts in ftp.mlsd(remote_dir, facts=["type", "size", "modify"]):
            name = posixpath.basename(name)
            if facts.get("type", "file") != "file" or not _matches(name, wanted, glob):
                continue
            size = facts.get("size")
            modify = facts.get("modify")
            files.append(
                FileInfo(
                    _join(directory, name),
                    int(size) if size and size.isdigit() else None,
                    _parse_ftp_time(modify) if modify else None,
                )
            )
        return files

    def _list_plain(
        self, ftp: ftplib.FTP, remote_dir: str, directory: str, wanted: str, glob: bool
    ) -> list[FileInfo]:
        """Servers without MLSD: NLST for the names, then SIZE and MDTM per match where supported."""
        try:
            names = ftp.nlst(remote_dir)
        except ftplib.error_perm:
            return []  # 550: no such directory (some servers also answer an empty one so)
        ftp.voidcmd("TYPE I")  # listings switch to ASCII; SIZE must count the bytes RETR will send
        files = []
        for name in sorted({posixpath.basename(n) for n in names}):
            if not _matches(name, wanted, glob):
                continue
            rel = _join(directory, name)
            remote = _remote_path(self.settings.root, rel)
            size: int | None = None
            mtime: datetime | None = None
            # error_perm: SIZE / MDTM not supported (or not a regular file); the field stays unknown.
            with contextlib.suppress(ftplib.error_perm):
                answer = ftp.size(remote)
                size = int(answer) if answer is not None else None
            with contextlib.suppress(ftplib.error_perm):
                mtime = _parse_ftp_time(ftp.voidcmd(f"MDTM {remote}")[4:])
            files.append(FileInfo(rel, size, mtime))
        return files

    @contextmanager
    def open_binary(self, path: str) -> Iterator[BinaryIO]:
        remote = _remote_path(self.settings.root, self._checked(path))
        ftp = self._client()
        try:
            ftp.voidcmd("TYPE I")  # listings switch to ASCII, which would rewrite line ends
            conn = ftp.transfercmd(f"RETR {remote}")
        except ftplib.error_perm as exc:
            raise FileSourceError(f"cannot read {path} on {self.location}: {exc}") from None
        except (OSError, EOFError, ftplib.Error) as exc:
            self.close()
            raise FileConnectionError(f"cannot read {path} on {self.location}: {exc}") from None
        stream = io.BufferedReader(conn.makefile("rb", buffering=0), CHUNK_BYTES)
        finished = False
        try:
            yield stream
            # The reader may stop early (a sample): only a transfer read to its end is closed cleanly.
            finished = stream.peek(1) == b""
        finally:
            self._finish_transfer(ftp, conn, stream, finished, path)

    def _finish_transfer(
        self,
        ftp: ftplib.FTP,
        conn: socket.socket,
        stream: io.BufferedReader[socket.SocketIO],
        finished: bool,
        path: str,
    ) -> None:
        stream.close()
        try:
            if finished and isinstance(conn, ssl.SSLSocket):
                conn.unwrap()  # orderly TLS shutdown, as ftplib's own retrbinary does
        except (OSError, ssl.SSLError):
            finished = False
        finally:
            conn.close()
        if not finished:
            # An aborted transfer leaves the control connection in an undefined state: start afresh.
            self.close()
            return
        try:
            ftp.voidresp()
        except (OSError, EOFError, ftplib.Error) as exc:
            self.close()
            raise FileConnectionError(f"transfer of {path} from {self.location} failed: {exc}") from None


# --- SFTP ---------------------------------------------------------------------------------------------------


def host_key_fingerprint(key_blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob: ``SHA256:<base64 without padding>``."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")


def _expected_key_blob(configured: str) -> tuple[str, bytes] | None:
    """(key type, blob) of an OpenSSH public key / known_hosts line; None for a fingerprint."""
    if configured.startswith("SHA256:"):
        return None
    tokens = configured.split()
    for index, token in enumerate(tokens[:-1]):
        if re.fullmatch(r"ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+", token):
            try:
                return token, base64.b64decode(tokens[index + 1], validate=True)
            except ValueError:
                break
    raise FileSourceError("sftp_host_key is neither a SHA256 fingerprint nor an OpenSSH public key line")


class _SftpReader(io.RawIOBase):
    """Reads an SFTP file in windows of pipelined requests: fast like paramiko's prefetch, but with memory
    bounded by one window (prefetch buffers a whole file when the reader is slower than the network)."""

    def __init__(self, handle: paramiko.SFTPFile, size: int) -> None:
        super().__init__()
        self._handle = handle
        self._size = size
        self._offset = 0
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        end = min(self._offset + SFTP_WINDOW_BYTES, self._size)
        chunks = [(o, min(SFTP_REQUEST_BYTES, end - o)) for o in range(self._offset, end, SFTP_REQUEST_BYTES)]
        data = b"".join(self._handle.readv(chunks))
        self._offset += len(data)
        self._buffer = memoryview(data)

    def readinto(self, buffer: WriteableBuffer) -> int:
        if not self._buffer:
            if self._offset >= self._size:
                return 0
            self._fill()
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()


def _load_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    import paramiko  # SFTP only: not imported with the code location

    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            key: paramiko.PKey = key_class.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError):
            continue
        return key
    raise FileCredentialsError("the SFTP private key cannot be loaded (unsupported type or wrong passphrase)")


class SftpFileSource(FileSource):
    """SFTP with paramiko. The server's host key must match ``sftp_host_key``; only the sandbox (loopback,
    explicit ``sftp_accept_unknown_host_key``) may skip that, and the fingerprint is logged then."""

    def __init__(self, settings: ErpFilesSettings, credentials: ErpFilesCredentials) -> None:
        super().__init__(settings)
        self.credentials = credentials
        self.host = settings.host or ""
        self.port = settings.effective_port or 22
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def location(self) -> str:
        return f"sftp://{self.host}:{self.port}/{self.settings.root.lstrip('/')}"

    def _verify_host_key(self, key: paramiko.PKey) -> None:
        blob: bytes = key.asbytes()
        presented = host_key_fingerprint(blob)
        configured = self.settings.sftp_host_key
        if configured is None:
            logger.warning(
                "accepting unverified SFTP host key %s of %s (sandbox setting)", presented, self.location
            )
            return
        expected = _expected_key_blob(configured)
        matches = presented == configured if expected is None else expected == (key.get_name(), blob)
        if not matches:
            raise HostKeyMismatchError(
                f"SFTP host key of {self.location} does not match sftp_host_key: the server presented "
                f"{key.get_name()} {presented}"
            )

    def _connect(self) -> paramiko.SFTPClient:
        import paramiko  # SFTP only: not imported with the code location

        timeout = self.settings.timeout_s
        user = self.credentials.username
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as exc:
            raise FileConnectionError(f"cannot connect to {self.location}: {exc}") from None
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=timeout)
            self._verify_host_key(transport.get_remote_server_key())
            if self.credentials.private_key is not None:
                passphrase = self.credentials.private_key_passphrase
                key = _load_private_key(
                    self.credentials.private_key.get_secret_value(),
                    passphrase.get_secret_value() if passphrase else None,
                )
                transport.auth_publickey(user, key)
            elif self.credentials.password is not None:
                transport.auth_password(user, self.credentials.password.get_secret_value())
            else:
                raise FileCredentialsError(
                    f"no SFTP password or private key for user '{user}' at {self.location}"
                )
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise FileSourceError(f"{self.location} refused the SFTP subsystem")
        except paramiko.AuthenticationException:
            transport.close()
            raise FileCredentialsError(f"SFTP login refused for user '{user}' at {self.location}") from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            raise FileConnectionError(f"SSH session with {self.location} failed: {exc}") from None
        except FileSourceError:
            transport.close()
            raise
        self._transport = transport
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(timeout)
        return sftp

    def _client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self._connect()
        return self._sftp

    def close(self) -> None:
        sftp, transport = self._sftp, self._transport
        self._sftp = self._transport = None
        if sftp is not None:
            sftp.close()
        if transport is not None:
            transport.close()

    def list_files(self) -> list[FileInfo]:
        directory, wanted, is_glob = _split_target(self.settings)
        remote_dir = _remote_path(self.settings.root, directory)
        sftp = self._client()
        import paramiko

        try:
            entries = sftp.listdir_attr(remote_dir)
        except FileNotFoundError:
            return []
        except (OSError, paramiko.SSHException) as exc:
            self.close()
            raise FileConnectionError(f"cannot list {remote_dir} on {self.location}: {exc}") from None
        files = []
        for entry in entries:
            mode = entry.st_mode
            if not _matches(entry.filename, wanted, is_glob) or (mode is not None and not stat.S_ISREG(mode)):
                continue
            mtime = datetime.fromtimestamp(entry.st_mtime, UTC) if entry.st_mtime is not None else None
            size: int | None = entry.st_size
            files.append(FileInfo(_join(directory, entry.filename), size, mtime))
        return files

    @contextmanager
    def open_binary(self, path: str) -> Iterator[BinaryIO]:
        remote = _remote_path(self.settings.root, self._checked(path))
        sftp = self._client()
        import paramiko

        try:
            handle = sftp.open(remote, "rb")
            size: int = handle.stat().st_size or 0
        except FileNotFoundError:
            raise FileSourceError(f"cannot read {path} on {self.location}: no such file") from None
        except (OSError, paramiko.SSHException) as exc:
            self.close()
            raise FileConnectionError(f"cannot read {path} on {self.location}: {exc}") from None
        stream = io.BufferedReader(_SftpReader(handle, size), buffer_size=CHUNK_BYTES)
        with stream:
            yield stream
