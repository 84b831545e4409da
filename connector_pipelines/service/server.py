"""Serving the app under uvicorn: on a host and port, or on a listening socket handed down by a supervisor
(the benchmark keeps its socket across a restart of the service). SIGTERM and SIGINT stop it cleanly:
uvicorn stops accepting, answers what is in flight, the app writes what its inbox holds, and the process
ends with the signal it caught (status 143 for SIGTERM, as uvicorn does)."""

from __future__ import annotations

import socket

import uvicorn

from connector_pipelines.logs import configure_process_logging
from connector_pipelines.service.app import create_app

GRACEFUL_S = 30  # at most this long for requests in flight at a stop


def serve(host: str = "127.0.0.1", port: int = 8008, *, fd: int | None = None) -> None:
    configure_process_logging()
    config = uvicorn.Config(
        create_app(),
        host=host,
        port=port,
        access_log=False,  # a line per webhook would be thousands a second; /metrics counts them
        log_level="info",
        timeout_graceful_shutdown=GRACEFUL_S,
        http="httptools",
    )
    server = uvicorn.Server(config)
    if fd is None:
        server.run()
        return
    # uvicorn's own fd option declares the socket AF_UNIX, so TCP_NODELAY is never set on the connections it
    # accepts, and every answer written in two parts waits ~40 ms for a delayed ACK. This reads the family.
    server.run(sockets=[socket.socket(fileno=fd)])
