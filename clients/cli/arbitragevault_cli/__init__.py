"""`arbitragevault`: the ArbitrageVault API from a terminal or a script (Typer + Rich + httpx)."""
