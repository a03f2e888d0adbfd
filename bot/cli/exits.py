"""Exit codes of the command line."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
