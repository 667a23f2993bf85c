"""The archive in datasette: a plugin (``browse.plugin``, installed by requirements.txt through
the ``datasette`` entry point of pyproject.toml) that applies metadata.yml to every database
holding the archive's tables, whatever its file is called, and serves each thread as a page."""
