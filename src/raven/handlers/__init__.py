"""Logging integration: ``raven.handlers.logging.SentryHandler``."""
