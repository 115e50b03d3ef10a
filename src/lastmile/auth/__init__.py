"""Accounts, roles and tenants: organizations, shippers, users, tokens, API keys, audit."""
