"""Where events wait before publishing: the Input protocol and its adapters."""
