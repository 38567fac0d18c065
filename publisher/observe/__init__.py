"""Observability: Prometheus metrics, histograms, structured logs."""
