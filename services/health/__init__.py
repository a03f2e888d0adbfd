"""Health monitoring: component checks, the roll-up, snapshots, alerts and metrics."""
