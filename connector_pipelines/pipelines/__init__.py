"""Every pipeline: one folder each, holding its spec (``spec.py``); ``catalog.py`` finds them and
``builder.py`` turns them into Dagster definitions."""
