"""The event ledger: what became of each settled event (published with its EventId, or
dead-lettered with its reason), kept for `ledger.retention_s` in the input's own engine."""
