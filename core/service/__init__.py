"""The service around colorize: jobs, background runner, batches, users, display copies."""
