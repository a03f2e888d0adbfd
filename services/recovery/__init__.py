"""Stuck-workflow recovery: admin actions on requests, bulk runs and the audit log."""
