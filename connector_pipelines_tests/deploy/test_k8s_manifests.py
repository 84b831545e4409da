"""deploy/k8s/: the connector-init Job and the connector service beside the Dagster chart, held to
docker-compose.yml (the same init script, the same command) and to the chart's names and values."""

from __future__ import annotations

from connector_pipelines.service.health import router as health_router
from connector_pipelines_tests.deploy.manifests import (
    CHART_POSTGRES_SECRET,
    RELEASE,
    code_deployment,
    compose,
    container,
    env_values,
    helm_values,
    image_name,
    k8s_object,
    option,
)
from connector_pipelines_tests.topology.processes import compose_init_script

INIT = "connector-init.yaml"
SERVICE = "connector-service.yaml"


def _steps(script: str) -> list[str]:
    return [step.strip() for step in script.split("&&")]


def test_the_init_job_is_composes_init_after_the_charts_migration() -> None:
    job = k8s_object(INIT, "Job")
    spec = container(job)
    assert spec["command"][:2] == ["sh", "-c"]
    compose_steps = _steps(compose_init_script())
    # The chart's migrate Job (migrate.enabled) runs `dagster instance migrate` at install and upgrade.
    assert compose_steps[0] == "dagster instance migrate" and helm_values()["migrate"]["enabled"] is True
    assert _steps(spec["command"][2]) == compose_steps[1:]
    assert spec["image"] == image_name(code_deployment()["image"])
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in spec["env"] if "valueFrom" in e}
    assert secrets["DAGSTER_PG_PASSWORD"] == {"name": CHART_POSTGRES_SECRET, "key": "postgresql-password"}
    assert secrets["CONNECTOR_DATABASE_URL"]["name"] == "connector-secrets"
    (volume,) = job["spec"]["template"]["spec"]["volumes"]
    assert volume["configMap"]["name"] == f"{RELEASE}-instance"
    (mount,) = spec["volumeMounts"]
    assert mount["mountPath"] == f"{env_values(spec)['DAGSTER_HOME']}/dagster.yaml"


def test_the_service_runs_as_in_compose_and_reaches_the_charts_webserver() -> None:
    spec = container(k8s_object(SERVICE, "Deployment"))
    compose_service = compose()["services"]["service"]
    assert spec["command"] == compose_service["command"]
    assert spec["image"] == image_name(code_deployment()["image"])
    env = env_values(spec)
    port = helm_values()["dagsterWebserver"]["service"]["port"]
    assert env["CONNECTOR_DAGSTER_URL"] == f"http://{RELEASE}-dagster-webserver:{port}"
    assert env["CONNECTOR_DAGSTER_LOCATION"] == code_deployment()["name"]
    assert env["CONNECTOR_HOME"] == compose_service["environment"]["CONNECTOR_HOME"]
    assert [s["secretRef"]["name"] for s in spec["envFrom"]] == ["connector-secrets"]


def test_the_service_is_probed_on_its_own_routes_and_published_on_its_port() -> None:
    deployment = k8s_object(SERVICE, "Deployment")
    spec = container(deployment)
    routes = {getattr(route, "path", "") for route in health_router.routes}
    for probe in ("livenessProbe", "readinessProbe"):
        assert spec[probe]["httpGet"]["path"] in routes, probe
    (port,) = spec["ports"]
    assert str(port["containerPort"]) == option(spec["command"], "--port")
    service = k8s_object(SERVICE, "Service")
    (published,) = service["spec"]["ports"]
    assert published["targetPort"] == port["name"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    # At least the SIGTERM grace uvicorn takes (30 s) before Kubernetes kills it.
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 30


def test_mappings_live_on_one_claim_for_the_service_and_the_runs() -> None:
    claim = k8s_object(SERVICE, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    spec = container(k8s_object(SERVICE, "Deployment"))
    (volume,) = k8s_object(SERVICE, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    (mount,) = spec["volumeMounts"]
    assert mount["mountPath"] == env_values(spec)["CONNECTOR_HOME"]
    runs_claims = [v["persistentVolumeClaim"]["claimName"] for v in code_deployment()["volumes"]]
    assert runs_claims == [claim["metadata"]["name"]]
