"""TDKG: a knowledge graph of Türkiye's defence-industrial relations.

The package follows the flow of the data: ``tdkg.pipeline`` turns ``ontology/`` and ``data/ttl/``
into an Oxigraph store (load → validate → reason → store), and ``tdkg.server`` (the ``server/``
folder) only reads that store and answers SPARQL 1.1 Protocol requests. ``tdkg.cli`` is a thin
command line over both, and ``tdkg.open()`` (:mod:`tdkg.access`) opens the published store in
Python as a read-only rdflib graph.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``tdkg.open`` (see :func:`tdkg.access.open`), imported on first use: rdflib and oxrdflib
    are heavy, and the command line and the server do not need them to start."""
    if name == "open":
        from .access import open
        return open
    raise AttributeError(f"module 'tdkg' has no attribute {name!r}")
