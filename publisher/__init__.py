"""partner-publisher: publish SaaS customers' events into EventBridge partner event sources."""

__version__ = "0.1.0"
