"""Domain services. Each owns its transactions, opened through the transactional state manager
(services/transactions.py); handlers, the scheduler and the command line call them."""
