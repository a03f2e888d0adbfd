"""What happens when something fails: classification, error records, the local spool and
the self-healing strategies."""
