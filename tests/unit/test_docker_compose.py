"""docker-compose.yml cannot run here (no Docker engine): check it against the code instead."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis_service.settings import AnalysisServiceSettings
from batch_service.settings import BatchServiceSettings
from gateway.settings import GatewaySettings, InsecureSecret, refuse_dev_secrets

REPO = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[Any]] = {
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


# What an operator sets for a variable compose requires (`${NAME:?message}`).
OPERATOR_VALUE = "set-by-the-operator-" + "x" * 32


def with_defaults(value: str) -> str:
    """What compose substitutes for ${NAME:-default} when NAME is not set, and for
    ${NAME:?message} (compose refuses to start without NAME) what the operator set."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", OPERATOR_VALUE, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_service_runs_its_module_with_known_settings(
    compose: dict[str, Any], service: str
) -> None:
    spec = compose["services"][service]
    assert spec["command"] == ["python", "-m", MODULES[service]]
    importlib.import_module(f"{MODULES[service]}.main")
    fields = set(SETTINGS[service].model_fields)
    unknown = [name for name in spec["environment"] if name.lower() not in fields]
    assert unknown == [], f"{service}: settings have no field for {unknown}"
    assert f"{ROLES[service]}:" in spec["environment"]["DATABASE_URL"]  # its own role
    settings = SETTINGS[service].model_validate(
        {k.lower(): with_defaults(v) for k, v in spec["environment"].items()}
    )
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert "migrate" in spec["depends_on"]


def test_migrations_and_database_init_match_the_code(compose: dict[str, Any]) -> None:
    init = (REPO / "deploy" / "postgres" / "init.sql").read_text()
    for role in ROLES.values():
        assert f"CREATE ROLE {role}" in init
    script = (REPO / "deploy" / "migrate.sh").read_text()
    for module in MODULES.values():
        assert f"python -m {module}.migrate" in script
        importlib.import_module(f"{module}.migrate")
    env = compose["services"]["migrate"]["environment"]
    assert set(env) == {"GATEWAY_DATABASE_URL", "BATCH_DATABASE_URL", "ANALYSIS_DATABASE_URL"}


def test_kafka_is_a_single_kraft_node_without_topic_autocreation(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the services create them


def test_only_the_gateway_is_reachable_from_outside(compose: dict[str, Any]) -> None:
    """Internal APIs, the database and the broker publish no port and sit on a network with no
    route out; the gateway bridges it to the published edge; every service shares the internal
    service-token secret."""
    services = compose["services"]
    published = {name for name, spec in services.items() if spec.get("ports")}
    assert published == {"gateway"}
    assert compose["networks"]["backend"] == {"internal": True}
    for name, spec in services.items():
        assert "backend" in spec["networks"], name
        assert ("edge" in spec["networks"]) == (name == "gateway"), name
    for service in SETTINGS:
        assert "INTERNAL_AUTH_SECRET" in services[service]["environment"], service


def test_the_gateway_needs_a_real_jwt_secret(compose: dict[str, Any]) -> None:
    """No development secret: compose stops unless JWT_SECRET is set, and nothing lets the
    gateway start with the development one (only `make run` does)."""
    env = compose["services"]["gateway"]["environment"]
    assert re.fullmatch(r"\$\{JWT_SECRET:\?[^}]+\}", env["JWT_SECRET"]), env["JWT_SECRET"]
    assert "ALLOW_DEV_SECRETS" not in (REPO / "docker-compose.yml").read_text()
    values: dict[str, Any] = {k.lower(): with_defaults(v) for k, v in env.items()}
    settings = GatewaySettings.model_validate(values)
    refuse_dev_secrets(settings)  # starts with the operator's secret
    with pytest.raises(InsecureSecret):
        refuse_dev_secrets(settings.model_copy(update={"jwt_secret": GatewaySettings().jwt_secret}))


def test_a_real_keepa_key_goes_to_keepa_and_never_to_the_simulator(compose: dict[str, Any]) -> None:
    env = {
        k.lower(): with_defaults(v)
        for k, v in compose["services"]["analysis-service"]["environment"].items()
    }
    without_key = AnalysisServiceSettings.model_validate(env)
    assert without_key.keepa_endpoint[0] == "http://keepa-sim:8090"
    with_key = AnalysisServiceSettings.model_validate(env | {"keepa_api_key": "a-real-keepa-key"})
    assert with_key.keepa_endpoint == ("https://api.keepa.com", "a-real-keepa-key")
    assert with_key.uses_real_keepa and not without_key.uses_real_keepa


def test_no_database_password_has_a_default_and_every_role_gets_the_operators(
    compose: dict[str, Any],
) -> None:
    """Compose must not run with well-known database passwords (issue 11): each is a variable
    compose requires, and the postgres image's init gives each service role its own."""
    services = compose["services"]
    assert re.fullmatch(
        r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    )
    urls = [
        value
        for spec in services.values()
        for name, value in (spec.get("environment") or {}).items()
        if name.endswith("DATABASE_URL")
    ]
    assert len(urls) == 6
    for url in urls:
        password = re.match(r"postgresql\+asyncpg://\w+:([^@]+)@", url)
        assert password and re.fullmatch(r"\$\{[A-Z_]+_DB_PASSWORD:\?[^}]*\}", password[1]), url
    script = (REPO / "deploy" / "postgres" / "passwords.sh").read_text()
    mounted = " ".join(services["postgres"]["volumes"])
    assert "passwords.sh:/docker-entrypoint-initdb.d/" in mounted
    for role in ROLES.values():
        assert f"ALTER ROLE {role} PASSWORD" in script
