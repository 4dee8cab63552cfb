"""Dagster code location: decides *when* and *with what* stages run; no algorithm lives here."""
