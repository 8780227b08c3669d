"""The build pipeline: load → validate → reason → store, run in that order by :mod:`.build`.

Nothing here knows about HTTP; the server only reads what :mod:`.store` publishes.
"""
