"""Every Kafka client of a service connects as the settings say: no client in the clear by
omission once KAFKA_SECURITY_PROTOCOL asks for SASL or TLS."""

from __future__ import annotations

import ssl

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import MetaData

from av_shared.kafka import make_producer
from av_shared.kafka_security import client_options
from av_shared.messaging_tables import define_broker_epoch_table, define_messaging_tables
from av_shared.runtime import ServiceRuntime
from av_shared.settings import CommonSettings


def sasl(protocol: str = "SASL_PLAINTEXT", mechanism: str = "SCRAM-SHA-512") -> CommonSettings:
    return CommonSettings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="batch-service",
        kafka_sasl_password=SecretStr("s3cret"),
    )


def test_plaintext_is_the_local_default() -> None:
    assert client_options(CommonSettings()) == {}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_options_name_the_mechanism_and_the_services_credentials(mechanism: str) -> None:
    options = client_options(sasl(mechanism=mechanism))
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == mechanism
    assert options["sasl_plain_username"] == "batch-service"
    assert options["sasl_plain_password"] == "s3cret"


def test_sasl_over_tls_verifies_the_broker() -> None:
    options = client_options(sasl("SASL_SSL"))
    assert options["security_protocol"] == "SASL_SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME"):
        CommonSettings(kafka_security_protocol="SASL_SSL")


async def test_the_producer_the_consumers_and_the_epoch_watch_all_use_them() -> None:
    settings = sasl()
    assert make_producer(settings).client._security_protocol == "SASL_PLAINTEXT"
    metadata = MetaData(schema="x")
    outbox, _, dead_letters = define_messaging_tables(metadata)
    runtime = ServiceRuntime(
        settings=settings,
        schema="x",
        service="test",
        outbox=outbox,
        dead_letters=dead_letters,
        broker_epoch=define_broker_epoch_table(metadata),
    )
    assert runtime.producer.client._security_protocol == "SASL_PLAINTEXT"
    # The FastStream broker builds its consumers from this partial (aiokafka's constructor).
    consumer_options = runtime.broker.config.broker_config.builder.keywords  # type: ignore[attr-defined]
    assert consumer_options["security_protocol"] == "SASL_PLAINTEXT"
    assert consumer_options["sasl_plain_username"] == "batch-service"
    assert runtime.epoch_watch._client_options["sasl_mechanism"] == "SCRAM-SHA-512"
