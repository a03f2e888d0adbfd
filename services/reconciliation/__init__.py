"""Inventory reconciliation against the committed ledger."""
