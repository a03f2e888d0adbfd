"""Repositories build queries on a session they are given; they never commit."""
