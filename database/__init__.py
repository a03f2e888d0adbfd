"""Database layer: models, engine and repositories (queries only, no commits)."""
