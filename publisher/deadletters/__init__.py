"""Dead-letter stores: one protocol, one adapter per engine (file, Redis, SQS, PostgreSQL)."""
