"""What happens when something fails: classification, error records, the local spool and
the automatic recovery strategies."""
