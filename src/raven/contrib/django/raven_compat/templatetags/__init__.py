"""The ``raven`` template tag library for the ``raven_compat`` app."""
