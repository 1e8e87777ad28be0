"""Rule catalog and policy data."""
