"""`python -m devstack.settings_doc`: the settings tables of the README, from the code."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from analysis_service.settings import AnalysisServiceSettings
from av_shared.settings import CommonSettings
from batch_service.settings import BatchServiceSettings
from gateway.settings import GatewaySettings


def _default(field: Any) -> str:
    if field.default_factory is not None:
        return "(host name)" if "instance" in str(field) else "(computed)"
    value = field.default
    if isinstance(value, SecretStr):
        return "(dev value; required in production)" if value.get_secret_value() else '""'
    return f"`{value}`"


def table(title: str, cls: type[BaseSettings], skip: set[str]) -> str:
    rows = [f"### {title}", "", "| variable | default | meaning |", "|---|---|---|"]
    for name, field in cls.model_fields.items():
        if name in skip:
            continue
        meaning = (field.description or "").replace("|", "/")
        rows.append(f"| `{name.upper()}` | {_default(field)} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    common = set(CommonSettings.model_fields)
    print(table("Every service", CommonSettings, set()))
    for title, cls in (
        ("Gateway", GatewaySettings),
        ("Batch service", BatchServiceSettings),
        ("Analysis service", AnalysisServiceSettings),
    ):
        print()
        print(table(title, cls, common))
