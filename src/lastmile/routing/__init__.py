"""The optimization engine. Pure: plain dataclasses in, plain dataclasses out.

No database, no web, no wall clock. Each solver library is imported by exactly
one adapter module (``pyvrp_backend``, ``ortools_backend``).
"""
