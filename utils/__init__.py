"""Resilience primitives with no knowledge of the bot: breakers, masking, correlation, healing."""
