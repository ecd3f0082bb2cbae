"""The deployment recipes are checked against the server they run: deploy/kubernetes (every
probe path, port, flag and metric name it uses is one the server has, asked of the server's
route table, its command line and its metrics registry) and deploy/ray/serve.yaml (a valid
Serve config whose builder and deployment name are the library's)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fastrerank import registry
from fastrerank.cli import build_parser
from fastrerank.server.app import App
from fastrerank.server.config import ServerConfig
from fastrerank.server.stub import StubEngine

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
METRIC = re.compile(r"\bfastrerank_[a-z_]+\b")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    """What ``kubectl apply -k deploy/kubernetes`` applies, plus the KEDA alternative, by kind."""
    kustomization = documents(KUBERNETES / "kustomization.yaml")[0]
    files = [*kustomization["resources"], "keda.yaml"]
    by_kind: dict[str, dict[str, Any]] = {}
    for name in files:
        for doc in documents(KUBERNETES / name):
            assert doc["kind"] not in by_kind, f"two {doc['kind']}s"
            by_kind[doc["kind"]] = doc
    assert set(by_kind) == {"Deployment", "Service", "HorizontalPodAutoscaler", "ScaledObject"}
    return by_kind


@pytest.fixture(scope="module")
def server() -> App:
    return App(ServerConfig(), StubEngine())


def container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (c,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return c


def serve_args(c: dict[str, Any]) -> Any:
    """The container's command parsed by fastrerank's own parser ($(VAR)s resolved as
    Kubernetes does: THREADS from the CPU limit)."""
    env = {e["name"]: e for e in c["env"]}
    ref = env["THREADS"]["valueFrom"]["resourceFieldRef"]
    assert (ref["containerName"], ref["resource"], ref["divisor"]) == (c["name"], "limits.cpu", "1")
    values = {"THREADS": str(int(c["resources"]["limits"]["cpu"]))}
    argv = [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], str(a)) for a in c["args"]]
    assert c["command"] == ["fastrerank", "serve"]
    return build_parser().parse_args(["serve", *argv])  # an unknown flag exits here


def test_probes_use_the_servers_routes(manifests, server):
    c = container(manifests)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    args = serve_args(c)
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready" and c["livenessProbe"]["httpGet"]["path"] == "/health"
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert server.routes[get["path"]] == "GET", get
        assert ports[get["port"]] == args.port, f"{probe} probes a port the server does not listen on"
    assert args.host == "0.0.0.0"
    notes = manifests["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert int(notes["prometheus.io/port"]) == args.port and server.routes[notes["prometheus.io/path"]] == "GET"
    service = manifests["Service"]["spec"]
    assert service["selector"].items() <= manifests["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    assert [p["targetPort"] for p in service["ports"]] == ["http"]


def test_cpu_requests_equal_limits_equal_threads(manifests):
    c = container(manifests)
    requests, limits = c["resources"]["requests"], c["resources"]["limits"]
    assert requests == limits, "requests = limits: a guaranteed CPU share"
    assert serve_args(c).threads == int(limits["cpu"]) == float(limits["cpu"])


def test_termination_leaves_time_to_drain(manifests):
    c = container(manifests)
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = manifests["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= float(pre_stop[1]) + serve_args(c).drain_timeout


def test_scalers_use_the_servers_queue_gauge(manifests, server):
    rendered = server.metrics.render().decode()
    gauges = set(re.findall(r"^# TYPE (\S+) gauge$", rendered, re.M))
    assert gauges <= set(server.metrics.registry.names())
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    (metric,) = hpa["metrics"]
    assert metric["pods"]["metric"]["name"] in gauges
    assert hpa["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    keda = manifests["ScaledObject"]["spec"]
    assert keda["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    assert set(METRIC.findall(keda["triggers"][0]["metadata"]["query"])) <= gauges
    used = {name for path in KUBERNETES.glob("*.yaml") for name in METRIC.findall(path.read_text())}  # comments too
    assert used and used <= set(server.metrics.registry.names()), used - set(server.metrics.registry.names())


def test_recipes_name_a_model_the_registry_knows(manifests):
    """A name outside the registry would still be tried on the Hub, without its pinned
    revision and shipped ONNX files: the recipes use the registry's current id (not a former one)."""
    args = serve_args(container(manifests))
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (.*)$", dockerfile, re.M)
    docker_args = build_parser().parse_args(yaml.safe_load(cmd)[1:])
    ray_args = documents(DEPLOY / "ray" / "serve.yaml")[0]["applications"][0]["args"]
    for model in (args.model, docker_args.model, ray_args["model"]):
        entry = registry.lookup(model)
        assert entry is not None and entry.name == model, f"{model} is not a current id in models/registry.json"


def test_ray_serve_config_builds_the_library_app(tiny_models):
    from ray.serve.schema import ServeDeploySchema

    import fastrerank.integrations.ray as integration

    config = ServeDeploySchema.model_validate(yaml.safe_load((DEPLOY / "ray" / "serve.yaml").read_text()))
    (app,) = config.applications
    module, _, name = app.import_path.partition(":")
    assert module == integration.__name__ and getattr(integration, name) is integration.app_builder
    args = dict(app.args, model=str(tiny_models["bert-1"]))  # the example's model is a Hub name
    built = integration.app_builder(args)
    from ray import serve

    assert isinstance(built, serve.Application)
    deployment_name = integration.build_app.__kwdefaults__["name"]
    assert [d.name for d in app.deployments] == [deployment_name]
    assert app.deployments[0].max_ongoing_requests >= integration.DEFAULT_MAX_ONGOING_REQUESTS  # not Serve's 5: batches can form
