"""The customer side of the chain: partner bus, event integration, Customer Profiles, checks."""
