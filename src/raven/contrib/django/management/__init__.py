"""raven 6.10's management commands of the app (``manage.py raven test``)."""
