"""The federation bypass corpus: queries and updates that try to make the engine contact an
endpoint the SERVICE/LOAD check does not see, plus a seeded generator of more.

Each case names a loopback listener through ``{T}`` (``http://127.0.0.1:PORT/<case>``, the
case's own path) or through ``{H}``/``{P}`` (host-less forms: ``{P}`` is the port). The cases
gather what the security review found (escaped ``\\#`` and ``\\'`` in prefixed names), every
string and comment form, ``\\u`` escapes, ``<`` that may be an IRI or less-than, keywords glued
to other words (which Oxigraph 0.5 still reads as keywords), local names with several dots,
PREFIX redeclared, relative and variable targets, other spellings of 127.0.0.1, and LOAD.
"""
from __future__ import annotations

import random

#: spellings of the listener's address that resolve to 127.0.0.1
ADDRESSES = {
    "dotted": "http://127.0.0.1:{P}",
    "decimal": "http://2130706433:{P}",
    "hex": "http://0x7f000001:{P}",
    "octal": "http://0177.0.0.1:{P}",
    "short": "http://127.1:{P}",
    "localhost": "http://localhost:{P}",
    "userinfo": "http://user:secret@127.0.0.1:{P}",
    "upper-scheme": "HTTP://127.0.0.1:{P}",
    "https": "https://127.0.0.1:{P}",
}

QUERIES = {
    "plain": "SELECT * WHERE {{ SERVICE <{T}> {{ }} }}",
    "lower": "select * where {{ service <{T}> {{ }} }}",
    "mixed-case": "SeLeCt * WhErE {{ sErViCe <{T}> {{ }} }}",
    "silent": "SELECT * WHERE {{ SERVICE SILENT <{T}> {{ }} }}",
    "no-space": "SELECT*WHERE{{SERVICE<{T}>{{}}}}",
    "comments-between": "SELECT * WHERE {{ SERVICE#c\n<{T}>#c'\n{{ }} }}",
    "prefixed": "PREFIX t: <{T}/> SELECT * WHERE {{ SERVICE t:x {{ }} }}",
    "local-escape": "PREFIX t: <{T}> SELECT * WHERE {{ SERVICE t:\\/x\\?y {{ }} }}",
    "uchar-in-iri": "SELECT * WHERE {{ SERVICE <{T}\\u002Fx> {{ }} }}",
    "hash-escape": "PREFIX ex: <http://e/> SELECT * WHERE {{ BIND(ex:a\\# AS ?z)\n"
                   "SERVICE <{T}> {{ }} }}",
    "quote-escape": "PREFIX ex: <http://e/> SELECT * WHERE {{ BIND(ex:a\\' AS ?z)\n"
                    "SERVICE <{T}> {{ }} }} #'",
    "hash-escape-inline": "PREFIX ex: <http://e/> SELECT * WHERE {{ BIND(ex:a\\# AS ?z) "
                          "SERVICE <{T}> {{ }} }}",
    "uchar-quote-in-string": "SELECT * WHERE {{ BIND('\\u0027' AS ?x) SERVICE <{T}> {{ }} }} #'''",
    "uchar-keyword": "SELECT * WHERE {{ \\u0053ERVICE <{T}> {{ }} }}",
    "string-echar": "SELECT * WHERE {{ BIND('\\'' AS ?x) SERVICE <{T}> {{ }} }} #'",
    "string-double": 'SELECT * WHERE {{ BIND("\\"#" AS ?x) SERVICE <{T}> {{ }} }}',
    "long-single": "SELECT * WHERE {{ BIND('''a''b'c''' AS ?x) SERVICE <{T}> {{ }} }}",
    "long-double": 'SELECT * WHERE {{ BIND("""a""b"c""" AS ?x) SERVICE <{T}> {{ }} }}',
    "long-with-newline": "SELECT * WHERE {{ BIND('''\n#''' AS ?x) SERVICE <{T}> {{ }} }}",
    "lt-comment": "SELECT * WHERE {{ BIND(1 AS ?o) FILTER(?o<2)#> '''\n"
                  "SERVICE <{T}> {{ }} }} #'''",
    "lt-quote": "SELECT * WHERE {{ BIND(1 AS ?o) FILTER(?o<2||'>'='x')\n"
                "SERVICE <{T}> {{ }} }}",
    "lt-iri-with-hash": "SELECT * WHERE {{ BIND(<a:b> AS ?o) FILTER(?o!=<a:b#'>)\n"
                        "SERVICE <{T}> {{ }} }} #'",
    "keyword-glued-pname": "PREFIX t: <{T}/> SELECT * WHERE {{ SERVICEt:x {{ }} }}",
    "keyword-glued-silent": "PREFIX t: <{T}/> SELECT * WHERE {{ SERVICE SILENTt:x {{ }} }}",
    "keyword-glued-both": "PREFIX t: <{T}/> SELECT * WHERE {{ SERVICESILENTt:x {{ }} }}",
    "keyword-as-prefix": "PREFIX : <{T}/> SELECT * WHERE {{ service:x {{ }} }}",
    "keyword-after-boolean": "SELECT * WHERE {{ <a:s> <a:p> trueSERVICE<{T}>{{ }} }}",
    "local-name-dots": "PREFIX ex: <http://e/> SELECT * WHERE {{ <a:s> <a:q> ex:a.b.SERVICE<{T}>"
                       "{{ }} }}",
    "prefix-glued": "PREFIXt:<{T}/> SELECT * WHERE {{ SERVICE t:x {{ }} }}",
    "prefix-redeclared": "PREFIX t: <http://allowed.example/> PREFIX t: <{T}/> "
                         "SELECT * WHERE {{ SERVICE t:x {{ }} }}",
    "relative-with-base": "BASE <{T}/> SELECT * WHERE {{ SERVICE <x> {{ }} }}",
    "relative-prefix": "BASE <{T}/> PREFIX t: <sub/> SELECT * WHERE {{ SERVICE t:x {{ }} }}",
    "variable": "SELECT * WHERE {{ BIND(<{T}> AS ?e) SERVICE ?e {{ }} }}",
    "in-optional": "SELECT * WHERE {{ BIND(1 AS ?a) OPTIONAL {{ SERVICE <{T}> {{ }} }} }}",
    "in-union": "SELECT * WHERE {{ {{ }} UNION {{ SERVICE <{T}> {{ }} }} }}",
    "in-exists": "SELECT * WHERE {{ FILTER EXISTS {{ SERVICE <{T}> {{ }} }} }}",
    "in-subquery": "SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{T}> {{ }} }} }} }}",
    "in-graph": "SELECT * WHERE {{ GRAPH ?g {{ }} SERVICE <{T}> {{ }} }}",
    "in-construct": "CONSTRUCT {{ <a:s> <a:p> 1 }} WHERE {{ SERVICE <{T}> {{ }} }}",
    "in-ask": "ASK {{ SERVICE <{T}> {{ }} }}",
    "nested-service": "SELECT * WHERE {{ SERVICE <{T}/outer> {{ SERVICE <{T}/inner> {{ }} }} }}",
    "rdf12-around": "SELECT * WHERE {{ BIND(<<( <a:s> <a:p> <a:o> )>> AS ?t) "
                    "SERVICE <{T}> {{ }} }}",
    "comment-mentions-other": "# SERVICE <http://127.0.0.1:1/>\nSELECT * WHERE {{ SERVICE <{T}> "
                              "{{ }} }}",
}

UPDATES = {
    "load": "LOAD <{T}>",
    "load-silent-into": "LOAD SILENT <{T}> INTO GRAPH <a:g>",
    "load-lower": "load <{T}>",
    "load-glued": "PREFIX t: <{T}/> LOADt:x",
    "load-glued-silent": "PREFIX t: <{T}/> LOAD SILENTt:x",
    "load-after-insert": "INSERT DATA {{ <a:s> <a:p> 1 }} ; LOAD <{T}>",
    "load-hash-escape": "PREFIX ex: <http://e/> INSERT DATA {{ ex:a\\# <a:p> 1 }} ;\nLOAD <{T}>",
    "update-service": "INSERT {{ <a:s> <a:p> 1 }} WHERE {{ SERVICE <{T}> {{ }} }}",
}


def cases() -> list[tuple[str, str, str]]:
    """(name, kind, template) for every fixed case; each address spelling is tried with the
    plain and the original (escaped ``\\#``) forms."""
    found = [(name, "query", text) for name, text in QUERIES.items()]
    found += [(name, "update", text) for name, text in UPDATES.items()]
    for spelling, address in ADDRESSES.items():
        for form in ("plain", "hash-escape"):
            template = QUERIES[form].replace("{T}", address + "/" + f"{form}-{spelling}")
            found.append((f"{form}-{spelling}", "query", template))
    return found


def render(template: str, name: str, port: int) -> str:
    return template.replace("{T}", f"http://127.0.0.1:{port}/{name}").replace(
        "{P}", str(port)).replace("{{", "{").replace("}}", "}")


# --- generated cases ---------------------------------------------------------------------------
#: group elements that keep one solution, many with characters that end or start tokens
NOISE = [
    "BIND(1 AS ?n{i})", "BIND('#' AS ?n{i})", 'BIND("\'" AS ?n{i})', "BIND('''\"#''' AS ?n{i})",
    'BIND("""\'\'x""" AS ?n{i})', "BIND(<a:x#y> AS ?n{i})", "BIND(ex:a\\#b AS ?n{i})",
    "BIND(ex:a\\'b AS ?n{i})", "BIND(ex:a.b AS ?n{i})", "FILTER(1<2)", "FILTER(2>1)",
    "FILTER(1 < 2 && 2 > 1)", "VALUES ?v{i} {{ 1 }}", "# a comment with ' and \" and <\n",
    "{{ }}", "OPTIONAL {{ <a:none> <a:none> ?n{i} }}", "BIND(true AS ?n{i})",
    "BIND(STR(<a:q'r>) AS ?n{i})",
]
SEPARATORS = [" ", "\n", "\t", " #'\n", " #\"\n", "#<\n"]
TARGET_FORMS = ["<{T}>", "t:{x}", "SILENT <{T}>", "SILENT t:{x}"]


def generated(seed: int, count: int) -> list[tuple[str, str, str]]:
    """``count`` queries built at random (seeded) from noise, separators and SERVICE clauses
    whose keyword case and target form vary."""
    rng = random.Random(seed)
    found = []
    for n in range(count):
        parts = []
        for i in range(rng.randint(1, 6)):
            parts.append(rng.choice(NOISE).replace("{i}", f"{n}_{i}"))
            if rng.random() < 0.5:
                keyword = "".join(c.upper() if rng.random() < 0.5 else c.lower()
                                  for c in "service")
                target = rng.choice(TARGET_FORMS).replace("{x}", f"g{n}_{i}")
                parts.append(f"{keyword} {target} {{{{ }}}}".replace("{T}", f"{{T}}/g{n}_{i}"))
        body = "".join(p + rng.choice(SEPARATORS) for p in parts)
        text = f"PREFIX ex: <http://e/> PREFIX t: <{{T}}/> SELECT * WHERE {{{{ {body} }}}}"
        found.append((f"gen{n}", "query", text))
    return found
