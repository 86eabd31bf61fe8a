"""raven 6.10's template tag library ``raven`` (:mod:`.raven`)."""
