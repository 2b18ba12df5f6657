"""Alembic migrations, one file per change, named by date and slug."""
