"""``manage.py raven`` (:mod:`.raven`)."""
