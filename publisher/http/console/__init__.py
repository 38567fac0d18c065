"""The operations console at /ui on the admin port: tenants, dead letters, event history."""
