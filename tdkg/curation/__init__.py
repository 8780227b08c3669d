"""Curating a new source document: register it (:mod:`.new_source`), find the entities it names
that the graph already has (:mod:`.find`), see what the working tree would change before anything
is published (:mod:`.diff`), and track coverage rows still to do (:mod:`.todo`). Build history and
rollback live with the published builds, in :mod:`tdkg.pipeline.history`."""
