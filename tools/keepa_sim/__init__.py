"""A local Keepa-compatible server: recorded products, synthetic books, a simulated token bucket."""

from keepa_sim.app import create_app
from keepa_sim.config import SimConfig, default_samples_dir

__all__ = ["SimConfig", "create_app", "default_samples_dir"]
