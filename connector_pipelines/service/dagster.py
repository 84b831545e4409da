"""The Dagster webserver as the service sees it: runs are launched through the Dagster GraphQL Python client,
exactly like a schedule's (job, partition, tags, run config); run status and daemon health are read through
the same GraphQL API. The service never opens the Dagster instance's storage itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from dagster_graphql import DagsterGraphQLClient

REPOSITORY = "__repository__"  # the one repository a Definitions object makes
PARTITION_TAG = "dagster/partition"

_RUN = """
query ServiceRun($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status jobName startTime endTime tags { key value } }
    ... on PythonError { message }
  }
}"""
_HEALTH = """
query ServiceHealth {
  version
  instance { daemonHealth { allDaemonStatuses { daemonType required healthy lastHeartbeatTime } } }
}"""
_ADD_PARTITION = """
mutation ServicePartition($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}"""


class DagsterUnavailableError(RuntimeError):
    """The webserver did not answer (down, unreachable, timed out)."""


class DagsterRequestError(RuntimeError):
    """The webserver answered, but refused the request; the message says why."""


class RunTag(BaseModel):
    key: str
    value: str


class RunInfo(BaseModel):
    runId: str
    status: str
    jobName: str
    startTime: float | None = None
    endTime: float | None = None
    tags: list[RunTag]

    def tag(self, key: str) -> str | None:
        return next((t.value for t in self.tags if t.key == key), None)


class DaemonStatus(BaseModel):
    daemonType: str
    required: bool
    healthy: bool | None = None
    lastHeartbeatTime: float | None = None


class _DaemonHealth(BaseModel):
    allDaemonStatuses: list[DaemonStatus]


class _Instance(BaseModel):
    daemonHealth: _DaemonHealth


class HealthInfo(BaseModel):
    version: str
    instance: _Instance

    @property
    def daemons(self) -> list[DaemonStatus]:
        return self.instance.daemonHealth.allDaemonStatuses


class DagsterGateway:
    def __init__(self, url: str, location: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.location = location
        self._timeout_s = timeout_s
        self._http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(
                f"{self.url}/graphql", json={"query": query, "variables": dict(variables)}
            )
        except httpx.HTTPError as exc:
            raise DagsterUnavailableError(
                f"the Dagster webserver at {self.url} did not answer: {exc}"
            ) from None
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise DagsterUnavailableError(
                f"the Dagster webserver at {self.url} answered {response.status_code}"
            )
        if body.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in body["errors"] if isinstance(e, dict))
            raise DagsterRequestError(f"Dagster refused the query: {messages}")
        data: dict[str, Any] = body["data"]
        return data

    def health(self) -> HealthInfo:
        try:
            return HealthInfo.model_validate(self._graphql(_HEALTH, {}))
        except ValidationError as exc:
            raise DagsterRequestError(
                f"unexpected answer from Dagster: {exc.error_count()} problem(s)"
            ) from None

    def run(self, run_id: str) -> RunInfo | None:
        found = self._graphql(_RUN, {"runId": run_id})["runOrError"]
        if found["__typename"] == "Run":
            return RunInfo.model_validate(found)
        if found["__typename"] == "RunNotFoundError":
            return None
        raise DagsterRequestError(
            f"Dagster could not read run {run_id}: {found.get('message', found['__typename'])}"
        )

    def add_partition(self, partitions: str, key: str) -> None:
        """Add ``key`` to the dynamic partitions ``partitions`` (as the registry sensor would); there
        already is fine."""
        selector = {"repositoryLocationName": self.location, "repositoryName": REPOSITORY}
        found = self._graphql(_ADD_PARTITION, {"selector": selector, "name": partitions, "key": key})
        outcome = found["addDynamicPartition"]
        if outcome["__typename"] not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise DagsterRequestError(
                f"Dagster refused the partition: {outcome.get('message', outcome['__typename'])}"
            )

    def launch(self, job: str, partition: str, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Submit a run of ``job`` for ``partition``, with the run config and tags a schedule would give it;
        returns its run id."""
        from dagster_graphql import DagsterGraphQLClientError

        client = self._graphql_client()  # one per launch: its transport serves one call at a time
        try:
            return client.submit_job_execution(
                job,
                repository_location_name=self.location,
                repository_name=REPOSITORY,
                run_config=dict(run_config),
                tags={**tags, PARTITION_TAG: partition},
            )
        except DagsterGraphQLClientError as exc:
            # requests' connection errors and timeouts are OSErrors; the client chains them.
            if isinstance(exc.__cause__, OSError):
                raise DagsterUnavailableError(f"the Dagster webserver at {self.url} did not answer") from None
            kind = str(exc.args[0]) if exc.args else type(exc).__name__
            detail = f": {exc.args[1]}" if len(exc.args) > 1 else ""
            raise DagsterRequestError(f"Dagster refused the run ({kind}{detail})"[:1000]) from None

    def _graphql_client(self) -> DagsterGraphQLClient:
        from dagster_graphql import DagsterGraphQLClient

        parts = urlsplit(self.url)
        return DagsterGraphQLClient(
            parts.hostname or "127.0.0.1",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            path_prefix=parts.path.rstrip("/"),
            timeout=int(self._timeout_s),
        )
