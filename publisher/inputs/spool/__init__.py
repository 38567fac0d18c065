"""The embedded spool: a SQLite file beside the daemon, written by ingest, read by the pipeline."""

from publisher.inputs.spool.input import SpoolInput

__all__ = ["SpoolInput"]
