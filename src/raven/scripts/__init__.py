"""Console scripts: ``raven`` (``raven.scripts.runner:main``)."""
