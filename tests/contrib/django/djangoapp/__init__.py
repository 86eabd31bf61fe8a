"""A minimal Django project for raven.contrib.django's tests (settings, URLs, views, templates)."""
