"""Watchlists, scheduled batches and alerts: `scheduler` (one leader among the gateway
instances) submits their runs as ordinary batches of the owner; `alerts` compares a watched
book's new analysis with its previous one when a run's batch completes."""
