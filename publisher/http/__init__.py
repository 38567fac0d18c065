"""The HTTP servers: ingest and admin on one server runner."""
