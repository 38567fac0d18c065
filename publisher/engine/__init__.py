"""The publishing engine: orchestration, settlement, rate limiting, dead letters."""
