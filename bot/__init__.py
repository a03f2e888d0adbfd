"""workflow-recovery-bot: an approval-workflow Telegram bot that keeps itself healthy."""
