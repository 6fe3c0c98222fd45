"""The 24-hour water alert: the meter stream's worker, the alert store, delivery (docs/alerts.md)."""
