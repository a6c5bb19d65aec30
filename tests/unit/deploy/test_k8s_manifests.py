"""deploy/k8s cannot be applied here (no cluster): render both overlays and check them against
the Kubernetes schemas and against the code, as tests/unit/test_docker_compose.py does for
compose. Rendering: `kubectl kustomize` where kubectl exists, else kustomize_lite (which is
compared with kubectl's output wherever both exist)."""

from __future__ import annotations

import functools
import ipaddress
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from kustomize_lite import Doc, UnsupportedKustomization, build, kubectl_build, render
from pydantic import SecretStr

from analysis_service.db.tables import work_chunks
from analysis_service.settings import AnalysisServiceSettings
from av_shared.internal_auth import DEV_INTERNAL_SECRET
from av_shared.settings import CommonSettings
from av_shared.topics import ALL_TOPICS, BATCH_SUBMISSIONS
from batch_service.settings import BatchServiceSettings
from gateway.settings import DEV_JWT_SECRET, GatewaySettings

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("local", "production")
NAMESPACE = "arbitragevault"
# The oldest Kubernetes the manifests are meant for, and the newest the package knows.
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())

SETTINGS: dict[str, type[CommonSettings]] = {
    "gateway": GatewaySettings,
    "batch-service": BatchServiceSettings,
    "analysis-service": AnalysisServiceSettings,
}
MODULES = {
    "gateway": "gateway",
    "batch-service": "batch_service",
    "analysis-service": "analysis_service",
}
ROLES = {"gateway": "gateway_svc", "batch-service": "batch_svc", "analysis-service": "analysis_svc"}
PORT_SETTING = {
    "gateway": "gateway_port",
    "batch-service": "batch_service_port",
    "analysis-service": "analysis_service_port",
}
HOST_SETTING = {
    "gateway": "GATEWAY_HOST",
    "batch-service": "BATCH_SERVICE_HOST",
    "analysis-service": "ANALYSIS_SERVICE_HOST",
}
# Set in both overlays for every service: what production refuses defaults for, the service's
# own database role, the brokers, its address, a unique instance id.
REQUIRED = {
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "INTERNAL_AUTH_SECRET",
    "INSTANCE_ID",
    "ENVIRONMENT",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "KAFKA_PARTITIONS",
}
REQUIRED_BY_SERVICE = {
    "gateway": {
        "GATEWAY_HOST",
        "GATEWAY_PORT",
        "JWT_SECRET",
        "BATCH_SERVICE_URL",
        "ANALYSIS_SERVICE_URLS",
    },
    "batch-service": {"BATCH_SERVICE_HOST", "BATCH_SERVICE_PORT"},
    "analysis-service": {"ANALYSIS_SERVICE_HOST", "ANALYSIS_SERVICE_PORT", "KEEPA_API_KEY"},
}
# Settings holding credentials: only ever from a Secret.
SECRET_VALUED = {"DATABASE_URL"}
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
PUBLIC_ADDRESS = "203.0.113.10"  # TEST-NET-3: stands for any address outside the cluster


# -- rendering ------------------------------------------------------------------------------------
@dataclass
class Rendered:
    overlay: str
    docs: list[Doc]

    def all(self, kind: str) -> list[Doc]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> Doc:
        found = [d for d in self.all(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: {len(found)} {kind} named {name}"
        return found[0]

    def workloads(self) -> list[Doc]:
        return [d for d in self.docs if d["kind"] in {"Deployment", "StatefulSet", "Job"}]

    def config(self) -> dict[str, str]:
        data: dict[str, str] = self.get("ConfigMap", "arbitragevault-config")["data"]
        return data

    def secret_value(self, name: str, key: str) -> str | None:
        for secret in self.all("Secret"):
            if secret["metadata"]["name"] == name:
                value: str | None = secret.get("stringData", {}).get(key)
                return value
        return None


@functools.cache
def rendered_overlay(overlay: str) -> Rendered:
    docs, _renderer = render(K8S / "overlays" / overlay)
    return Rendered(overlay, docs)


@pytest.fixture(params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return rendered_overlay(request.param)


@pytest.fixture
def local() -> Rendered:
    return rendered_overlay("local")


@pytest.fixture
def production() -> Rendered:
    return rendered_overlay("production")


def container(deployment: Doc) -> Doc:
    containers: list[Doc] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def named_port(c: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    matches = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == port]
    assert len(matches) == 1, f"no container port named {port}"
    return int(matches[0])


@dataclass
class Env:
    """A container's environment as the settings would see it (secrets of production, which
    the overlay does not contain, stand in as strong placeholder values)."""

    values: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # name -> value|field|secret|config
    secret_refs: dict[str, tuple[str, str]] = field(default_factory=dict)


def environment(r: Rendered, workload: Doc, pod_name: str = "pod-0") -> Env:
    env = Env()
    c = container(workload)
    for source in c.get("envFrom", []):
        assert set(source) == {"configMapRef"}, "envFrom: ConfigMaps only (secrets by key)"
        for key, value in r.get("ConfigMap", source["configMapRef"]["name"])["data"].items():
            env.values[key], env.sources[key] = str(value), "config"
    for var in c.get("env", []):
        name = var["name"]
        if "value" in var:
            env.values[name], env.sources[name] = str(var["value"]), "value"
            continue
        ref = var["valueFrom"]
        if "fieldRef" in ref:
            assert ref["fieldRef"]["fieldPath"] == "metadata.name"
            env.values[name], env.sources[name] = pod_name, "field"
        elif "secretKeyRef" in ref:
            secret, key = ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]
            env.secret_refs[name] = (secret, key)
            env.sources[name] = "secret"
            value = r.secret_value(secret, key)
            if value is None:
                assert r.overlay == "production", f"{r.overlay}: no secret {secret}/{key}"
                value = stand_in(name, workload["metadata"]["name"])
            env.values[name] = value
        else:
            raise AssertionError(f"{name}: unexpected valueFrom {ref}")
    return env


def stand_in(name: str, service: str) -> str:
    if name.endswith("DATABASE_URL"):
        role = ROLES.get(service, "gateway_svc")
        return f"postgresql://{role}:not-the-real-one@db.example:5432/arbitragevault"
    if name == "KAFKA_SASL_USERNAME":
        return "arbitragevault"
    return "stand-in-secret-" + "x" * 40


S = TypeVar("S", bound=CommonSettings)


def load_settings(settings: type[S], env: Env) -> S:
    """The settings object the service would build from this environment."""
    values: dict[str, Any] = {name.lower(): value for name, value in env.values.items()}
    return settings(**values)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings read the process's environment too: only the manifests' values count."""
    for settings in SETTINGS.values():
        for name in settings.model_fields:
            monkeypatch.delenv(name.upper(), raising=False)


# -- the renderer ---------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_lite_renders_what_kubectl_kustomize_renders(overlay: str) -> None:
    def key(doc: Doc) -> tuple[str, str, str, str]:
        meta = doc["metadata"]
        return doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"]

    ours = {key(d): d for d in build(K8S / "overlays" / overlay)}
    theirs = {key(d): d for d in kubectl_build(K8S / "overlays" / overlay, "kubectl")}
    assert sorted(ours) == sorted(theirs)
    different = [k for k in ours if ours[k] != theirs[k]]
    assert different == []


def test_kustomize_lite_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(UnsupportedKustomization):
        build(tmp_path)


# -- schemas --------------------------------------------------------------------------------------
def test_every_manifest_validates_against_the_kubernetes_schemas(rendered: Rendered) -> None:
    errors = []
    kinds = set()
    for doc in rendered.docs:
        kinds.add(doc["kind"])
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # a custom resource: test_keda_scaled_object_* checks it
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(
                    f"{doc['kind']}/{doc['metadata']['name']} ({version}): "
                    f"{'.'.join(map(str, exc.path))}: {exc.message}"
                )
    assert errors == []
    expected = {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Job",
        "NetworkPolicy",
        "ScaledObject",
        "TriggerAuthentication",
    }
    assert expected <= kinds


def test_the_schema_validation_can_fail(production: Rendered) -> None:
    broken = yaml.safe_load(yaml.safe_dump(production.get("Deployment", "gateway")))
    container(broken)["livenesProbe"] = container(broken).pop("livenessProbe")  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_everything_is_in_the_namespace(rendered: Rendered) -> None:
    namespace = rendered.get("Namespace", NAMESPACE)
    assert "pod-security.kubernetes.io/enforce" in namespace["metadata"]["labels"]
    for doc in rendered.docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


# -- settings -------------------------------------------------------------------------------------
@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_variable_is_a_setting_and_every_required_one_is_set(
    rendered: Rendered, service: str
) -> None:
    deployment = rendered.get("Deployment", service)
    c = container(deployment)
    assert c["command"] == ["python", "-m", MODULES[service]]
    env = environment(rendered, deployment, pod_name=f"{service}-7d9f8-abcde")
    fields = set(SETTINGS[service].model_fields)
    unknown = sorted(name for name in env.values if name.lower() not in fields)
    assert unknown == [], f"{service}: settings have no field for {unknown}"
    missing = sorted((REQUIRED | REQUIRED_BY_SERVICE[service]) - set(env.values))
    assert missing == [], f"{rendered.overlay}/{service}: {missing} not set"

    settings = load_settings(SETTINGS[service], env)
    config = rendered.config()
    assert settings.instance_id == f"{service}-7d9f8-abcde"
    assert env.sources["INSTANCE_ID"] == "field"  # the pod's name: unique per pod
    assert env.values[HOST_SETTING[service]] == "0.0.0.0"
    assert getattr(settings, PORT_SETTING[service]) == named_port(c, "http")
    assert settings.kafka_bootstrap_servers == config["KAFKA_BOOTSTRAP_SERVERS"]
    assert settings.kafka_enable_idempotence is True  # real Kafka in both overlays
    assert settings.kafka_partitions == 12
    # The consumer group stays the settings' default: KEDA's trigger names it.
    assert "CONSUMER_GROUP" not in env.values
    if rendered.overlay == "local":
        # The role's own URL, as in compose (the secret of production is not here to look at).
        assert f"{ROLES[service]}:" in env.values["DATABASE_URL"]


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_credentials_come_from_secrets(rendered: Rendered, service: str) -> None:
    deployment = rendered.get("Deployment", service)
    env = environment(rendered, deployment)
    fields = SETTINGS[service].model_fields
    secret_settings = {
        name.upper() for name, info in fields.items() if info.annotation is SecretStr
    } | SECRET_VALUED
    for name in sorted(secret_settings & set(env.sources)):
        assert env.sources[name] == "secret", f"{rendered.overlay}/{service}: {name} in clear"
    assert not secret_settings & set(rendered.config()), "a credential in the ConfigMap"
    # Each service reads its own database role's secret.
    assert env.secret_refs["DATABASE_URL"] == (f"{service}-secrets", "DATABASE_URL")


@pytest.mark.usefixtures("clean_environment")
def test_production_settings(production: Rendered) -> None:
    config = production.config()
    assert config["ENVIRONMENT"] == "production"
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    for service in SETTINGS:
        deployment = production.get("Deployment", service)
        env = environment(production, deployment)
        settings = load_settings(SETTINGS[service], env)
        assert settings.environment == "production"
        # The CA file is a file of a mounted secret volume.
        mounts = {m["name"]: m["mountPath"] for m in container(deployment)["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert any(
            settings.kafka_ssl_cafile.startswith(path + "/") and "secret" in volumes[name]
            for name, path in mounts.items()
        ), service
        if isinstance(settings, AnalysisServiceSettings):
            assert settings.uses_real_keepa  # no simulator URL in production
    image = container(production.get("Deployment", "gateway"))["image"]
    assert not image.endswith((":latest", ":local")) and ":" in image


@pytest.mark.usefixtures("clean_environment")
def test_local_settings(local: Rendered) -> None:
    config = local.config()
    assert config["ENVIRONMENT"] == "development"
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    analysis = local.get("Deployment", "analysis-service")
    settings = load_settings(AnalysisServiceSettings, environment(local, analysis))
    host = urlsplit(settings.keepa_base_url)
    simulator = local.get("Service", "keepa-sim")
    assert host.hostname == "keepa-sim" and host.port == simulator["spec"]["ports"][0]["port"]
    assert not settings.uses_real_keepa
    # The broker the services are told about is the one this overlay runs, with their user.
    kafka = local.get("StatefulSet", "kafka")
    kafka_env = {v["name"]: v for v in container(kafka)["env"]}
    assert config["KAFKA_BOOTSTRAP_SERVERS"] in kafka_env["KAFKA_ADVERTISED_LISTENERS"]["value"]
    assert kafka_env["SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "kafka-client",
        "key": "KAFKA_SASL_PASSWORD",
    }
    user = local.secret_value("kafka-client", "KAFKA_SASL_USERNAME")
    jaas = kafka_env["KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG"]["value"]
    assert f'username="{user}"' in jaas and f'user_{user}="$(SASL_PASSWORD)"' in jaas


def test_local_secrets_are_placeholders_and_production_has_none(
    local: Rendered, production: Rendered
) -> None:
    assert production.all("Secret") == []
    init_sql = (REPO / "deploy" / "postgres" / "init.sql").read_text()
    for secret in local.all("Secret"):
        for key, value in secret["stringData"].items():
            url = urlsplit(value)
            if url.scheme.startswith("postgres"):  # the local role passwords of init.sql
                assert f"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}'" in init_sql
            elif not key.endswith("USERNAME"):
                assert "local-only" in value and "replace-me" in value, (secret, key)
    for name, default in (
        ("JWT_SECRET", DEV_JWT_SECRET),
        ("INTERNAL_AUTH_SECRET", DEV_INTERNAL_SECRET),
    ):
        value = next(s["stringData"][name] for s in local.all("Secret") if name in s["stringData"])
        assert value != default and len(value) >= 32  # strong enough for production's checks


def test_local_postgres_runs_deploy_postgres_init_sql(local: Rendered) -> None:
    init = local.get("ConfigMap", "postgres-init")["data"]["init.sql"]
    assert init == (REPO / "deploy" / "postgres" / "init.sql").read_text()


# -- the migrations -------------------------------------------------------------------------------
def test_the_migrations_job_runs_migrate_sh_with_each_service_role(rendered: Rendered) -> None:
    job = rendered.get("Job", "migrate")
    c = container(job)
    assert c["command"] == ["sh", "deploy/migrate.sh"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert compose["services"]["migrate"]["command"] == c["command"]
    env = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in c["env"]}
    assert set(env) == set(compose["services"]["migrate"]["environment"])
    script = (REPO / "deploy" / "migrate.sh").read_text()
    assert set(re.findall(r"\$([A-Z]+_DATABASE_URL)", script)) == set(env)
    for variable, service in (
        ("GATEWAY_DATABASE_URL", "gateway"),
        ("BATCH_DATABASE_URL", "batch-service"),
        ("ANALYSIS_DATABASE_URL", "analysis-service"),
    ):
        deployment_env = environment(rendered, rendered.get("Deployment", service))
        assert (env[variable]["name"], env[variable]["key"]) == deployment_env.secret_refs[
            "DATABASE_URL"
        ]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_deployments_roll_out_after_the_migrations(rendered: Rendered) -> None:
    label = "arbitragevault.io/rollout"
    for service in SETTINGS:
        labels = rendered.get("Deployment", service)["metadata"]["labels"]
        assert labels.get(label) == "after-migrations", service
    assert label not in rendered.get("Job", "migrate")["metadata"].get("labels", {})
    script = (K8S / "rollout.sh").read_text()
    assert '"$phase!=after-migrations"' in script and "job migrate" in script
    assert script.index("Complete") < script.index('"$phase=after-migrations"')


# -- probes, resources, disruption ----------------------------------------------------------------
@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_probes_use_health_and_ready_on_the_settings_port(rendered: Rendered, service: str) -> None:
    deployment = rendered.get("Deployment", service)
    c = container(deployment)
    port = int(environment(rendered, deployment).values[PORT_SETTING[service].upper()])
    for probe, path in (
        ("livenessProbe", "/health"),
        ("startupProbe", "/health"),
        ("readinessProbe", "/ready"),
    ):
        get = c[probe]["httpGet"]
        assert get["path"] == path, (service, probe)
        assert named_port(c, get["port"]) == port, (service, probe)
    svc = rendered.get("Service", service)
    assert svc["spec"]["selector"].items() <= pod_labels(deployment).items()
    assert [named_port(c, p["targetPort"]) for p in svc["spec"]["ports"]] == [port]
    # SIGTERM: the service's own grace, the preStop pause, then some room.
    pod = deployment["spec"]["template"]["spec"]
    grace = float(rendered.config()["SHUTDOWN_GRACE_SECONDS"])
    pause = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > grace + pause


def quantity(value: str | int) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def test_every_container_has_requests_and_limits(rendered: Rendered) -> None:
    for workload in rendered.workloads():
        for c in workload["spec"]["template"]["spec"]["containers"]:
            resources = c["resources"]
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert 0 < request <= limit, (workload["metadata"]["name"], resource)


def test_each_service_has_a_disruption_budget_that_allows_a_drain(rendered: Rendered) -> None:
    budgets = rendered.all("PodDisruptionBudget")
    for service in SETTINGS:
        labels = pod_labels(rendered.get("Deployment", service))
        mine = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert len(mine) == 1, service
        assert mine[0]["spec"].get("maxUnavailable", 0) >= 1, "minAvailable can block drains"


def test_replica_counts_belong_to_the_autoscalers(rendered: Rendered) -> None:
    """An autoscaled Deployment has no `replicas`: each `kubectl apply` would reset it."""
    scaled = {o["spec"]["scaleTargetRef"]["name"] for o in rendered.all("ScaledObject")}
    scaled |= {h["spec"]["scaleTargetRef"]["name"] for h in rendered.all("HorizontalPodAutoscaler")}
    assert "analysis-service" in scaled
    for name in scaled:
        assert "replicas" not in rendered.get("Deployment", name)["spec"], name


def test_pods_run_unprivileged_without_service_links(rendered: Rendered) -> None:
    for workload in rendered.workloads():
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        # Service links put e.g. GATEWAY_PORT=tcp://... into every pod: a settings name.
        assert pod["enableServiceLinks"] is False, name
        assert pod["automountServiceAccountToken"] is False, name
        for c in pod["containers"]:
            if not c["image"].split("/")[-1].startswith("arbitragevault"):
                continue  # the local overlay's PostgreSQL and Kafka images
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert c["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, name


# -- exposure -------------------------------------------------------------------------------------
def test_only_the_gateway_is_exposed(rendered: Rendered) -> None:
    exposed = {
        s["metadata"]["name"]
        for s in rendered.all("Service")
        if s["spec"].get("type", "ClusterIP") != "ClusterIP"
    }
    for ingress in rendered.all("Ingress"):
        for rule in ingress["spec"]["rules"]:
            exposed |= {p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert exposed == {"gateway"}
    gateway = rendered.get("Service", "gateway")
    if rendered.overlay == "production":
        assert gateway["spec"]["type"] == "ClusterIP"  # behind the TLS Ingress
        ingress = rendered.get("Ingress", "gateway")
        assert ingress["spec"]["tls"]
        # The operators' views stay inside the cluster.
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                for internal in ("/metrics", "/ready"):
                    routed = internal == p["path"] or (
                        p["pathType"] == "Prefix"
                        and internal.startswith(p["path"].rstrip("/") + "/")
                    )
                    assert not routed and p["path"] != "/", p
    else:
        assert gateway["spec"]["type"] == "NodePort"


def test_the_gateway_reaches_the_internal_services_through_their_services(
    rendered: Rendered,
) -> None:
    env = environment(rendered, rendered.get("Deployment", "gateway")).values
    urls = [(env["BATCH_SERVICE_URL"], "batch-service")]
    urls += [(url, "analysis-service") for url in env["ANALYSIS_SERVICE_URLS"].split(",")]
    for url, service in urls:
        parts = urlsplit(url)
        svc = rendered.get("Service", service)
        assert parts.hostname == service
        assert parts.port in [p["port"] for p in svc["spec"]["ports"]]


# -- network policies -----------------------------------------------------------------------------
def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass(frozen=True)
class Peer:
    """One end of a connection: a pod (its namespace's and its own labels) or an address
    outside the cluster."""

    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    address: str | None = None

    @staticmethod
    def pod(labels: dict[str, str], namespace: str = NAMESPACE) -> Peer:
        return Peer(namespace, tuple(sorted(labels.items())))

    @staticmethod
    def outside(address: str = PUBLIC_ADDRESS) -> Peer:
        return Peer(address=address)


def peer_matches(peer: Doc, other: Peer) -> bool:
    if "ipBlock" in peer:
        if other.address is None:
            return False  # pod addresses: left to the CNI, not relied upon
        address = ipaddress.ip_address(other.address)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if other.namespace is None:
        return False
    namespace_labels = {"kubernetes.io/metadata.name": other.namespace}
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif other.namespace != NAMESPACE:
        return False
    return selects(peer.get("podSelector", {}), dict(other.labels))


def allowed(r: Rendered, direction: str, pod: dict[str, str], other: Peer, port: int) -> bool:
    """What the policies of the render allow for `pod`, in `direction` (ingress: from
    `other`; egress: to `other`), on TCP `port`: isolated once a policy selects the pod for
    that direction, then allowed if any rule of those policies allows it."""
    policy_type = {"ingress": "Ingress", "egress": "Egress"}[direction]
    policies = [
        p
        for p in r.all("NetworkPolicy")
        if policy_type in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod)
    ]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get(direction, []):
            peers = rule.get("from" if direction == "ingress" else "to")
            ports = rule.get("ports")
            if ports is not None and not any(
                p.get("protocol", "TCP") == "TCP" and p.get("port") == port for p in ports
            ):
                continue
            if peers is None or any(peer_matches(peer, other) for peer in peers):
                return True
    return False


def app_pods(r: Rendered) -> dict[str, dict[str, str]]:
    return {w["metadata"]["name"]: pod_labels(w) for w in r.workloads()}


def test_everything_is_denied_unless_allowed(rendered: Rendered) -> None:
    deny = rendered.get("NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, labels in app_pods(rendered).items():
        assert not allowed(rendered, "ingress", labels, Peer.outside(), 12345), name
        assert not allowed(rendered, "egress", labels, Peer.outside(), 12345), name


def test_only_the_gateway_reaches_the_internal_apis(rendered: Rendered) -> None:
    pods = app_pods(rendered)
    for service, port in (("batch-service", 8001), ("analysis-service", 8010)):
        target = pods[service]
        sources = [Peer.pod(labels) for name, labels in pods.items() if name != "gateway"]
        sources += [
            Peer.outside(),
            Peer.outside("10.1.2.3"),
            Peer.pod(pods["gateway"], namespace="elsewhere"),
            Peer.pod({"app.kubernetes.io/name": "anything"}),
        ]
        assert allowed(rendered, "ingress", target, Peer.pod(pods["gateway"]), port), service
        assert allowed(rendered, "egress", pods["gateway"], Peer.pod(target), port), service
        for source in sources:
            assert not allowed(rendered, "ingress", target, source, port), (service, source)
        # Every rule admitting anything names the gateway's pods alone.
        for policy in rendered.all("NetworkPolicy"):
            if selects(policy["spec"]["podSelector"], target):
                for rule in policy["spec"].get("ingress", []):
                    assert rule.get("from"), policy["metadata"]["name"]
                    for peer in rule["from"]:
                        assert set(peer) == {"podSelector"}, policy["metadata"]["name"]
                        chosen = [
                            n for n, labels in pods.items() if selects(peer["podSelector"], labels)
                        ]
                        assert chosen == ["gateway"], policy["metadata"]["name"]
    assert allowed(rendered, "ingress", pods["gateway"], Peer.outside(), 8000)


def test_egress_reaches_keepa_the_database_and_the_brokers(rendered: Rendered) -> None:
    pods = app_pods(rendered)
    config = rendered.config()
    broker_ports = {
        int(address.rsplit(":", 1)[1]) for address in config["KAFKA_BOOTSTRAP_SERVERS"].split(",")
    }
    if rendered.overlay == "local":
        postgres = Peer.pod(pod_labels(rendered.get("StatefulSet", "postgres")))
        kafka = Peer.pod(pod_labels(rendered.get("StatefulSet", "kafka")))
    else:  # managed (outside) or operator-run (another namespace): both must work
        postgres = kafka = Peer.outside()
    kafka_elsewhere = Peer.pod({"app.kubernetes.io/name": "kafka"}, namespace="kafka")
    for service in SETTINGS:
        assert allowed(rendered, "egress", pods[service], postgres, 5432), service
        for port in broker_ports:
            assert allowed(rendered, "egress", pods[service], kafka, port), service
            assert allowed(rendered, "egress", pods[service], kafka_elsewhere, port), service
        # Keepa (public HTTPS) from the analysis service only.
        keepa = allowed(rendered, "egress", pods[service], Peer.outside(), 443)
        assert keepa == (service == "analysis-service"), service
        assert not allowed(rendered, "egress", pods[service], Peer.outside("10.1.2.3"), 443)
    assert allowed(rendered, "egress", pods["migrate"], postgres, 5432)
    assert not allowed(rendered, "egress", pods["migrate"], kafka, min(broker_ports))
    dns = Peer.pod({"k8s-app": "kube-dns"}, namespace="kube-system")
    for name, labels in pods.items():
        assert allowed(rendered, "egress", labels, dns, 53), name


# -- KEDA -----------------------------------------------------------------------------------------
def test_keda_scaled_object_scales_analysis_on_lag_and_queued_work(rendered: Rendered) -> None:
    (scaled,) = rendered.all("ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert (target.get("apiVersion", "apps/v1"), target.get("kind", "Deployment")) == (
        "apps/v1",
        "Deployment",
    )
    assert rendered.get("Deployment", target["name"])["metadata"]["name"] == "analysis-service"
    config = rendered.config()
    partitions = int(config["KAFKA_PARTITIONS"])
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
    assert spec["maxReplicaCount"] == partitions
    triggers = {t["type"]: t for t in spec["triggers"]}
    assert set(triggers) == {"kafka", "postgresql"}

    kafka = triggers["kafka"]["metadata"]
    assert kafka["topic"] == BATCH_SUBMISSIONS.name
    assert kafka["consumerGroup"] == AnalysisServiceSettings.model_fields["consumer_group"].default
    assert kafka["bootstrapServers"] == config["KAFKA_BOOTSTRAP_SERVERS"]
    assert "." in kafka["bootstrapServers"].split(":")[0], "KEDA runs in another namespace"
    assert kafka["sasl"] == KEDA_SASL[config["KAFKA_SASL_MECHANISM"]]
    assert kafka["tls"] == (
        "enable" if config["KAFKA_SECURITY_PROTOCOL"].endswith("SSL") else "disable"
    )
    assert kafka.get("allowIdleConsumers", "false") == "false"
    assert int(kafka["lagThreshold"]) > 0

    queue = triggers["postgresql"]["metadata"]
    query = queue["query"]
    assert f"FROM {work_chunks.schema}.{work_chunks.name} " in query
    for column in re.findall(r"sum\((\w+)\)|WHERE (\w+)=", query):
        assert any(c in work_chunks.c for c in column if c), column
    default = getattr(work_chunks.c.status.server_default, "arg", None)
    assert "status='QUEUED'" in query and default == "QUEUED"  # what a queued chunk is
    assert float(queue["targetQueryValue"]) > 0
    assert "connectionFromEnv" not in queue  # from its TriggerAuthentication

    auths = {a["metadata"]["name"]: a for a in rendered.all("TriggerAuthentication")}
    params = {
        "kafka": {"username", "password", "ca", "cert", "key"},
        "postgresql": {"connection", "password"},
    }
    for kind, trigger in triggers.items():
        auth = auths[trigger["authenticationRef"]["name"]]
        assert auth["apiVersion"] == "keda.sh/v1alpha1"
        refs = auth["spec"]["secretTargetRef"]
        assert {r["parameter"] for r in refs} <= params[kind]
        for ref in refs:
            if rendered.overlay == "local":
                assert rendered.secret_value(ref["name"], ref["key"]) is not None, ref
    kafka_auth = {r["parameter"]: r for r in auths["analysis-kafka"]["spec"]["secretTargetRef"]}
    assert {"username", "password"} <= set(kafka_auth)
    if config.get("KAFKA_SSL_CAFILE"):
        assert "ca" in kafka_auth  # the same CA the services check the brokers against


# -- what production needs from outside, documented -----------------------------------------------
def readme_table(heading: str) -> list[list[str]]:
    text = (K8S / "README.md").read_text()
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def referenced_secrets(r: Rendered) -> Iterator[tuple[str, str]]:
    for workload in r.workloads():
        pod = workload["spec"]["template"]["spec"]
        for c in pod["containers"]:
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    yield ref["name"], ref["key"]
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                yield volume["secret"]["secretName"], "*"
    for auth in r.all("TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            yield ref["name"], ref["key"]


def test_the_readme_lists_every_secret_production_needs(production: Rendered) -> None:
    documented = {(row[0].strip("`"), row[1].strip("`")) for row in readme_table("### Secrets")}
    needed = set(referenced_secrets(production))
    whole = {name for name, key in needed if key == "*"}
    keyed = {pair for pair in needed if pair[1] != "*"}
    assert keyed <= documented, sorted(keyed - documented)
    assert whole <= {name for name, _ in documented}, whole
    assert documented <= keyed | {d for d in documented if d[0] in whole}, "documented, unused"
    # The CA file the services are given is a key of that secret.
    cafile = Path(production.config()["KAFKA_SSL_CAFILE"])
    assert ("kafka-ca", cafile.name) in documented
    assert "`gateway-tls`" in (K8S / "README.md").read_text()  # the Ingress certificate


def test_the_readme_lists_the_topics_to_create(rendered: Rendered) -> None:
    rows = {row[0].strip("`"): row for row in readme_table("### Kafka")}
    assert set(rows) == {t.name for t in ALL_TOPICS}
    partitions = rendered.config()["KAFKA_PARTITIONS"]
    for topic in ALL_TOPICS:
        cell = rows[topic.name][1]
        expected = (
            str(topic.partitions) if topic.partitions else f"`KAFKA_PARTITIONS` ({partitions})"
        )
        assert cell == expected, topic.name
        for key, value in topic.configs:
            assert f"`{key}={value}`" in rows[topic.name][2], topic.name


def test_the_scaling_guide_quotes_the_readme_measurements() -> None:
    """docs/scaling.md gives the README's measured figures as per-instance capacity: each number
    it quotes is one the README states (so a new benchmark run shows up as a failure here)."""
    guide = (REPO / "docs" / "scaling.md").read_text()
    readme = (REPO / "README.md").read_text()
    section = guide.split("## What one instance does (measured)", 1)[1].split("\n## ", 1)[0]
    rows = [
        line.split("|")[2]
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith(("|---", "| what"))
    ]
    assert len(rows) >= 4
    for cell in rows:
        for number in re.findall(r"\d[\d,.]*\d|\d", cell):
            assert number in readme, f"{number} ({cell.strip()}) is not in the README"
