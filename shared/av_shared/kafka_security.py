"""How every Kafka client of a service authenticates and encrypts: one place, from the settings.

`KAFKA_SECURITY_PROTOCOL` is PLAINTEXT (the local broker), SSL, SASL_PLAINTEXT or SASL_SSL;
SASL uses `KAFKA_SASL_MECHANISM` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) with
`KAFKA_SASL_USERNAME`/`KAFKA_SASL_PASSWORD`; TLS verifies the broker against `KAFKA_SSL_CAFILE`
(or the system's CAs). The FastStream consumers, the producer, the admin client and the broker
epoch watch all take their options from here, so none can connect in the clear by omission.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

if TYPE_CHECKING:
    from .settings import CommonSettings

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def broker_security(settings: CommonSettings) -> BaseSecurity | None:
    """The FastStream security object of the settings (None: plaintext, no authentication)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    use_ssl = protocol.endswith("SSL")
    context = _ssl_context(settings.kafka_ssl_cafile) if use_ssl else None
    if protocol.startswith("SASL"):
        sasl = _SASL[settings.kafka_sasl_mechanism]
        return sasl(
            settings.kafka_sasl_username,
            settings.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=use_ssl,
        )
    return BaseSecurity(ssl_context=context, use_ssl=True)


def client_options(settings: CommonSettings) -> dict[str, Any]:
    """The same, as keyword arguments of aiokafka's clients (producer, consumer, admin)."""
    return parse_security(broker_security(settings))


def _ssl_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile or None)
