"""Webhooks: sellers' HTTPS endpoints told of their batches and alerts.

`outbox` enqueues deliveries in the transaction of the fact that causes them, `worker` leases
and sends them (signed by `signing`, to addresses `ssrf` checked after DNS resolution)."""
