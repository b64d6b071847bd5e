"""Storage: SQLAlchemy models, the engine/session setup, repositories and Alembic migrations."""
