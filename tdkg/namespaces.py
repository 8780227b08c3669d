"""IRIs shared by the pipeline and the server: namespaces and the names of the store's graphs."""

BASE = "https://w3id.org/tdkg/"
ONTOLOGY = BASE + "ontology"
TDKG = ONTOLOGY + "#"          # ontology terms
ID = BASE + "id/"              # things: actors, systems, agreements, fact nodes
SOURCE = BASE + "source/"      # documents, footnotes and the works they cite
GRAPH = BASE + "graph/"

GRAPH_ONTOLOGY = GRAPH + "ontology"
GRAPH_ASSERTED = GRAPH + "asserted"
GRAPH_INFERRED = GRAPH + "inferred"
#: named graphs that make up the default graph, in the order asserted → inferred
FACT_GRAPHS = (GRAPH_ONTOLOGY, GRAPH_ASSERTED, GRAPH_INFERRED)

PREFIXES = {
    "tdkg": TDKG,
    "tdi": ID,
    "tds": SOURCE,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "time": "http://www.w3.org/2006/time#",
    "schema": "https://schema.org/",
    "sh": "http://www.w3.org/ns/shacl#",
    "wd": "http://www.wikidata.org/entity/",
}


def sparql_prefixes() -> str:
    """The PREFIX block that the project's queries and rules may assume."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())
