"""Simulator configuration: defaults, environment variables and the packaged samples dir."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "KEEPA_SIM_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Keepa's basic plan: 20 tokens a minute (the recorded envelopes show refillRate 20).
DEFAULT_REFILL_RATE = 20
# Simulated minutes per real minute: 60 makes a basic plan refill 20 tokens per real second,
# so tests that exhaust the bucket recover quickly.
DEFAULT_TIME_SCALE = 60.0
# Keepa tokens expire after an hour, so the bucket never holds more than 60 x refillRate
# (the recorded envelopes show tokensLeft 1199 with refillRate 20).
TOKEN_LIFETIME_MINUTES = 60


# The recorded Keepa responses ship with this package (see samples/README.md).
PACKAGED_SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def default_samples_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The one place the recorded Keepa data is found: KEEPA_SIM_SAMPLES_DIR, else the packaged
    copy. A missing or empty folder is an error, never a silent fallback to synthetic books."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_PREFIX + "SAMPLES_DIR", "").strip()
    folder = Path(raw).expanduser() if raw else PACKAGED_SAMPLES_DIR
    if not folder.is_dir() or not any(folder.glob("*.json")):
        raise FileNotFoundError(
            f"recorded Keepa samples not found in {folder} (KEEPA_SIM_SAMPLES_DIR)"
        )
    return folder


@dataclass
class SimConfig:
    samples_dir: Path = field(default_factory=default_samples_dir)
    refill_rate: int = DEFAULT_REFILL_RATE
    time_scale: float = DEFAULT_TIME_SCALE
    max_tokens: int | None = None  # None: TOKEN_LIFETIME_MINUTES x refill_rate
    initial_tokens: int | None = None  # None: max_tokens
    # Keepa lets an expensive request drive the balance below zero; by default the simulator
    # refuses any request it cannot pay for in full, which makes overdraw visible in tests.
    allow_negative: bool = False
    # Report refillRate per *simulated* minute (Keepa's number) instead of per real minute.
    # Off by default: with a time scale, clients computing waits from refillRate would
    # otherwise wait time_scale times too long.
    report_nominal_rate: bool = False
    api_key: str | None = None  # None: any non-empty key is accepted
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log_level: str = "info"
    clock: Callable[[], float] = time.time

    def effective_max_tokens(self) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        return TOKEN_LIFETIME_MINUTES * self.refill_rate

    def effective_initial_tokens(self) -> int:
        if self.initial_tokens is not None:
            return self.initial_tokens
        return self.effective_max_tokens()


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


# option name -> converter; the CLI and the environment share this table.
CONVERTERS: dict[str, Callable[[str], object]] = {
    "host": str,
    "port": int,
    "samples_dir": Path,
    "refill_rate": int,
    "time_scale": float,
    "max_tokens": int,
    "initial_tokens": int,
    "allow_negative": _bool,
    "report_nominal_rate": _bool,
    "api_key": str,
    "log_level": str,
}


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Options found as KEEPA_SIM_<NAME> variables (empty values are ignored)."""
    env = os.environ if environ is None else environ
    found: dict[str, object] = {}
    for name, convert in CONVERTERS.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw.strip() != "":
            found[name] = convert(raw)
    return found
