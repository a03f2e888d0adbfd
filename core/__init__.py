"""The domain's shared words, below every other layer but utils/: enumerations, domain errors,
the clock, settings, message marking and catalogs, workflow definitions and common names."""
