"""TDKG: a knowledge graph of Türkiye's defence-industrial relations.

The package follows the flow of the data: ``tdkg.pipeline`` turns ``ontology/`` and ``data/ttl/``
into an Oxigraph store (load → validate → reason → store), and ``tdkg.server`` (the ``server/``
folder) only reads that store and answers SPARQL 1.1 Protocol requests. ``tdkg.cli`` is a thin
command line over both.
"""

__version__ = "0.1.0"
