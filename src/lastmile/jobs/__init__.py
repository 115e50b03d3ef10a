"""The job queue (huey): SQLite storage embedded by default, Redis in production;
the same task code either way. ``lastmile worker`` runs the consumer."""
