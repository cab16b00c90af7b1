"""Alembic environment and versions; they run on SQLite and PostgreSQL alike."""
