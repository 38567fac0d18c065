"""Pure event rules: validation, tenants, source states, retry decisions, admission, batching."""
