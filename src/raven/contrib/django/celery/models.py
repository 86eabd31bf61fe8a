"""raven 6.10's ``raven.contrib.django.celery.models``, kept so ``'raven.contrib.django.celery'``
may stay in ``INSTALLED_APPS``. raven 6.10 raised ``ImproperlyConfigured`` here unless
``djcelery`` (Celery 3's Django app, long unmaintained) was installed; Celery 4 and later need no
Django app, so nothing is required."""
