"""``manage.py raven`` for the ``raven_compat`` app."""
