"""Adapters to external systems (Keepa, ...)."""
