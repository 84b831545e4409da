"""The offline values check against a small schema shaped like the Dagster chart's (the same keywords and
patterns): what Helm would refuse is reported, what the chart's defaults fill in is not."""

from __future__ import annotations

from typing import Any

from connector_pipelines_tests.deploy.helm_schema import external_refs, problems

K8S_REF = (
    "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
    "#/definitions/io.k8s.api.core.v1.ResourceRequirements"
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "runLauncher": {"$ref": "#/definitions/RunLauncher"},
        "deployments": {"type": "array", "items": {"$ref": "#/definitions/Deployment"}},
        "resources": {"type": "object", "$ref": K8S_REF},
    },
    "required": ["runLauncher", "deployments"],
    "definitions": {
        "PullPolicy": {"enum": ["Always", "IfNotPresent", "Never"], "type": "string"},
        "K8sRunLauncherConfig": {
            "type": "object",
            "properties": {
                "imagePullPolicy": {"$ref": "#/definitions/PullPolicy"},
                "loadInclusterConfig": {"type": "boolean"},
            },
            "required": ["imagePullPolicy", "loadInclusterConfig"],
            "additionalProperties": False,
        },
        "RunLauncher": {
            "type": "object",
            "properties": {
                "type": {"enum": ["K8sRunLauncher", "CustomRunLauncher"], "type": "string"},
                "config": {
                    "type": "object",
                    "properties": {
                        "k8sRunLauncher": {
                            "anyOf": [{"$ref": "#/definitions/K8sRunLauncherConfig"}, {"type": "null"}]
                        }
                    },
                },
            },
            "required": ["type", "config"],
            "additionalProperties": False,
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "K8sRunLauncher"}}},
                    "then": {"properties": {"config": {"required": ["k8sRunLauncher"]}}},
                }
            ],
        },
        "Deployment": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
            "required": ["name", "port"],
        },
    },
}


def _launcher(**config: object) -> dict[str, Any]:
    return {"runLauncher": {"type": "K8sRunLauncher", "config": {"k8sRunLauncher": config}}}


def test_keys_the_charts_defaults_provide_are_not_required_of_the_values() -> None:
    assert problems(SCHEMA, _launcher(imagePullPolicy="Always")) == []
    assert problems(SCHEMA, {}) == []


def test_wrong_values_are_reported_where_they_are() -> None:
    found = problems(SCHEMA, _launcher(imagePullPolicy="Sometimes"))
    assert [p.path for p in found] == [".runLauncher.config.k8sRunLauncher"], found
    found = problems(SCHEMA, _launcher(imagePullPolicy="Always", pullSecrets=["x"]))
    assert [p.path for p in found] == [".runLauncher.config.k8sRunLauncher"], found
    found = problems(SCHEMA, {"runLauncher": {"type": "K8sLauncher", "config": {}, "extra": 1}})
    assert {p.path for p in found} == {".runLauncher", ".runLauncher.type"}, found
    assert any("'extra' was unexpected" in p.message for p in found), found


def test_list_items_replace_the_defaults_so_their_required_keys_count() -> None:
    found = problems(SCHEMA, {"deployments": [{"name": "connector-pipelines"}]})
    assert [(p.path, p.message) for p in found] == [(".deployments[0]", "'port' is a required property")]
    assert problems(SCHEMA, {"deployments": [{"name": "connector-pipelines", "port": 3030}]}) == []


def test_kubernetes_objects_keep_only_the_charts_own_constraints() -> None:
    assert list(external_refs(SCHEMA)) == [K8S_REF]
    assert problems(SCHEMA, {"resources": {"requests": {"cpu": "250m"}}}) == []
    found = problems(SCHEMA, {"resources": [{"cpu": "250m"}]})
    assert [p.path for p in found] == [".resources"], found
