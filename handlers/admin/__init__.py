"""The staff screens: /workflow_recovery and its sections, /reconcile, /notifications,
/health and /error."""
