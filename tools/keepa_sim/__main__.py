"""`python -m keepa_sim`: run the Keepa-compatible server (options also as KEEPA_SIM_* env vars)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import uvicorn

from keepa_sim.app import create_app
from keepa_sim.config import CONVERTERS, SimConfig, env_overrides

_HELP = {
    "host": "interface to bind",
    "port": "TCP port",
    "samples_dir": "directory of recorded Keepa JSON (default: the copy packaged with keepa_sim)",
    "refill_rate": "tokens per simulated minute (Keepa basic plan: 20)",
    "time_scale": "simulated minutes per real minute (60: a basic plan refills 20 tokens/s)",
    "max_tokens": "bucket capacity (default: 60 x refill rate, as Keepa tokens expire in 1 h)",
    "initial_tokens": "tokens at start and after /_sim/reset (default: max tokens)",
    "allow_negative": "accept any request while the balance is positive, like Keepa (1/0)",
    "report_nominal_rate": "report refillRate per simulated minute, not per real minute (1/0)",
    "api_key": "accept only this key (default: any non-empty key)",
    "log_level": "uvicorn/keepa_sim log level",
}


def parse_config(argv: Sequence[str] | None = None) -> SimConfig:
    """Defaults < KEEPA_SIM_* environment < command line."""
    parser = argparse.ArgumentParser(prog="python -m keepa_sim", description=__doc__)
    for name, convert in CONVERTERS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=convert,
            default=None,
            help=_HELP.get(name),
        )
    args = vars(parser.parse_args(argv))
    options = env_overrides() | {k: v for k, v in args.items() if v is not None}
    known = {f.name for f in fields(SimConfig)}
    config = SimConfig(**{k: v for k, v in options.items() if k in known})  # type: ignore[arg-type]
    config.samples_dir = Path(config.samples_dir).expanduser()
    return config


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_config(argv)
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    # access_log off: request lines would print the API key from the query string.
    # Idle connections live longer than the client's 5 s pool expiry, so the two never race.
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=False,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
