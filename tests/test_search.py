"""``/search``: names (rdfs:label, skos:altLabel) found whatever the case and diacritics, ranked
exact → prefix → partial, as JSON or an escaped HTML page, against the real server.

Expected answers are worked out from the data through SPARQL where possible, with this file's own
folding (:func:`ascii_fold`), so the server's folding is checked rather than reused.
"""
from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

import markupsafe
import pytest
import requests

from support import PROJECT, Server, run_tdkg

ID = "https://w3id.org/tdkg/id/"
BASE = "https://w3id.org/tdkg/"
TURKIYE = ID + "turkiye"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
NAMES_QUERY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?s ?p ?name WHERE {
  VALUES ?g { <https://w3id.org/tdkg/graph/asserted> <https://w3id.org/tdkg/graph/ontology> }
  VALUES ?p { rdfs:label skos:altLabel }
  GRAPH ?g { ?s ?p ?name }
  FILTER(isIRI(?s))
}"""
_TURKISH = str.maketrans({"ı": "i", "İ": "i", "ş": "s", "Ş": "s", "ğ": "g", "Ğ": "g", "ç": "c",
                          "Ç": "c", "ö": "o", "Ö": "o", "ü": "u", "Ü": "u"})


def ascii_fold(text: str) -> str:
    """Lower case, Turkish letters spelled in ASCII, other marks dropped, punctuation → spaces."""
    text = unicodedata.normalize("NFKD", text.translate(_TURKISH))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"\w+", text))


def search(server: Server, q: str, **params) -> dict:
    response = requests.get(server.url + "/search", params={"q": q, **params}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def iris(answer: dict) -> list[str]:
    return [r["iri"] for r in answer["results"]]


@pytest.fixture(scope="module")
def names(live_server) -> list[dict[str, str]]:
    """Every (subject, predicate, name) the search indexes, read through SPARQL."""
    rows = live_server.select(NAMES_QUERY)
    assert len(rows) > 100
    return rows


# --- case and diacritics -----------------------------------------------------------------------

@pytest.mark.parametrize("q", ["turkiye", "TURKIYE", "türkiye", "TÜRKİYE", "Türkiye", "türkıye",
                               "  turkiye  "])
def test_turkiye_is_found_whatever_the_case_and_diacritics(live_server, q):
    answer = search(live_server, q)
    assert answer["query"] == q.strip()
    top = answer["results"][0]
    assert (top["iri"], top["label"], top["page"]) == (TURKIYE, "Türkiye", "/id/turkiye")


@pytest.mark.parametrize("q, iri, label", [
    ("akinci", ID + "akinci", "Akıncı"), ("AKINCI", ID + "akinci", "Akıncı"),
    ("akıncı", ID + "akinci", "Akıncı"),
    ("erdogan", ID + "recep-tayyip-erdogan", "Recep Tayyip Erdoğan"),
    ("ERDOĞAN", ID + "recep-tayyip-erdogan", "Recep Tayyip Erdoğan"),
])
def test_turkish_letters_fold(live_server, q, iri, label):
    answer = search(live_server, q)
    assert iri in iris(answer)
    assert next(r for r in answer["results"] if r["iri"] == iri)["label"] == label


def test_every_label_with_turkish_letters_is_found_by_its_ascii_spelling(live_server, names):
    """Labels carrying ı, ş, ğ, ç, ö, ü … are found typed in plain ASCII, matching themselves
    exactly; many of them have no ASCII alternate name, so only folding can find them."""
    accented = sorted({(r["s"], r["name"]) for r in names
                       if r["p"].endswith("#label") and not r["name"].isascii()})
    assert len(accented) >= 20
    for iri, label in accented:
        ascii_q = ascii_fold(label)
        assert ascii_q.isascii(), label
        answer = search(live_server, ascii_q, limit=100)
        hits = {r["iri"]: r for r in answer["results"]}
        assert iri in hits, (ascii_q, label)
        assert hits[iri]["match"] == "exact", (ascii_q, hits[iri])


def test_letters_that_do_not_decompose_fold():
    from tdkg.server.search import fold, words

    assert fold("IŞIK") == "isik" and fold("İZMİR") == "izmir" and fold("ığdır") == "igdir"
    assert fold("Ørsted") == "orsted" and fold("Łódź") == "lodz" and fold("Đorđe") == "dorde"
    assert fold("Æsir") == "aesir" and fold("Œuvre") == "oeuvre" and fold("Straße") == "strasse"
    assert fold("ÇĞÖŞÜ çğöşü") == "cgosu cgosu"
    assert words("Türkiye's  ‘TB2’, Akıncı–Kızılelma") == ["turkiye", "s", "tb2", "akinci",
                                                          "kizilelma"]


# --- alternate names ----------------------------------------------------------------------------

def test_alternate_names_are_searched(live_server, names):
    """Every skos:altLabel that shares no word with its resource's labels finds that resource,
    and the result says it was the alternate name that matched."""
    labels: dict[str, set[str]] = {}
    for r in names:
        if r["p"].endswith("#label"):
            labels.setdefault(r["s"], set()).update(ascii_fold(r["name"]).split())
    alternates = sorted({(r["s"], r["name"]) for r in names if r["p"].endswith("#altLabel")
                         and not set(ascii_fold(r["name"]).split()) & labels.get(r["s"], set())
                         and ascii_fold(r["name"])})
    assert len(alternates) >= 10, alternates
    for iri, alt in alternates:
        answer = search(live_server, alt, limit=100)
        hit = next((r for r in answer["results"] if r["iri"] == iri), None)
        assert hit is not None, (alt, iri)
        assert hit["matched"] == alt and hit["label"] != alt
        assert hit["match"] == "exact"


def test_an_ascii_alternate_name_matches_the_turkish_label_too(live_server):
    answer = search(live_server, "Turkey")
    top = answer["results"][0]
    assert (top["iri"], top["matched"], top["match"]) == (TURKIYE, "Turkey", "exact")


# --- what matches, and in what order -----------------------------------------------------------

@pytest.mark.parametrize("q", ["akinci", "erdogan", "baykar", "kiye", "nato", "drone"])
def test_the_results_are_exactly_the_resources_with_a_name_containing_the_word(live_server, names,
                                                                               q):
    expected = {r["s"] for r in names if q in ascii_fold(r["name"])}
    assert expected, q
    answer = search(live_server, q, limit=100)
    assert answer["total"] == len(expected)
    assert set(iris(answer)) == expected or answer["total"] > 100
    assert set(iris(answer)) <= expected


def test_exact_before_prefix_before_partial(live_server):
    answer = search(live_server, "turkiye", limit=100)
    categories = []
    for r in answer["results"]:
        name = ascii_fold(r["matched"])
        categories.append(0 if name == "turkiye" else 1 if name.startswith("turkiye") else 2)
    assert categories == sorted(categories)
    assert set(categories) == {0, 1, 2}          # the query exercises all three
    kinds = [r["match"] for r in answer["results"]]
    order = ["exact", "prefix", "word-prefix", "substring"]
    assert [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds)


def test_ties_are_ordered_by_label(live_server):
    answer = search(live_server, "turkiye", limit=100)
    groups: dict[str, list[str]] = {}
    for r in answer["results"]:
        groups.setdefault(r["match"], []).append(ascii_fold(r["label"]))
    assert any(len(g) > 3 for g in groups.values())
    for group in groups.values():
        assert group == sorted(group)


def test_a_substring_match_comes_after_word_matches(live_server):
    answer = search(live_server, "kiye", limit=100)
    assert TURKIYE in iris(answer)
    assert all(r["match"] == "substring" for r in answer["results"])
    assert search(live_server, "turk", limit=100)["results"][0]["match"] == "prefix"


def test_every_word_of_the_query_must_match(live_server):
    answer = search(live_server, "saudi akinci", limit=100)
    assert ID + "saudi-akinci-deal-2023" in iris(answer)
    for r in answer["results"]:
        words = ascii_fold(r["matched"]).split()
        assert any(w.startswith("saudi") for w in words), r
        assert any(w.startswith("akinci") for w in words), r
    assert search(live_server, "akinci zzqx")["results"] == []


def test_a_query_with_no_letters_finds_nothing(live_server):
    assert search(live_server, "-- !!")["results"] == []


# --- limit ---------------------------------------------------------------------------------------

def test_limit(live_server):
    full = search(live_server, "turkiye")
    assert full["total"] > 20 and len(full["results"]) == 20 == full["limit"]
    three = search(live_server, "turkiye", limit=3)
    assert three["results"] == full["results"][:3] and three["total"] == full["total"]
    most = search(live_server, "a", limit=1000)
    assert most["total"] > 100 and len(most["results"]) == 100 == most["limit"]


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "2.5"])
def test_bad_limit_is_400(live_server, limit):
    response = requests.get(live_server.url + "/search", params={"q": "turkiye", "limit": limit},
                            timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "bad-request"


# --- bad requests -------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "a" * 201}])
def test_missing_empty_or_long_query_is_400(live_server, params):
    for accept in (None, "application/json"):
        response = requests.get(live_server.url + "/search", params=params,
                                headers={"Accept": accept} if accept else {}, timeout=30)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["status"] == 400 and error["type"] == "bad-request" and error["message"]
    # a browser gets the same status (as an error page, when the app renders those)
    response = requests.get(live_server.url + "/search", params=params,
                            headers={"Accept": BROWSER_ACCEPT}, timeout=30)
    assert response.status_code == 400


def test_a_query_of_200_characters_is_accepted(live_server):
    assert search(live_server, "a" * 200)["results"] == []


# --- JSON ---------------------------------------------------------------------------------------

def test_json_shape_and_values(live_server):
    answer = search(live_server, "türkiye")
    assert set(answer) >= {"query", "results"} and answer["query"] == "türkiye"
    for r in answer["results"]:
        assert set(r) >= {"iri", "label", "matched", "types", "page"}
        assert r["page"] == "/" + r["iri"][len(BASE):]
        assert isinstance(r["types"], list) and all(t.startswith("http") for t in r["types"])
    top = answer["results"][0]
    types = {row["t"] for row in live_server.select(
        f"SELECT ?t WHERE {{ GRAPH <https://w3id.org/tdkg/graph/asserted> {{ <{TURKIYE}> a ?t }} }}")}
    assert set(top["types"]) == types and types
    label = live_server.select(f"""SELECT ?l WHERE {{ <{TURKIYE}>
        <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(langMatches(lang(?l), "en")) }}""")
    assert top["label"] == label[0]["l"]


@pytest.mark.parametrize("accept", [None, "*/*", "application/json",
                                    "text/html;q=0.5, application/json"])
def test_json_is_the_default(live_server, accept):
    headers = {"Accept": accept} if accept else {}
    response = requests.get(live_server.url + "/search", params={"q": "nato"}, headers=headers,
                            timeout=30)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["results"][0]["iri"] == ID + "nato"
    assert "Accept" in response.headers.get("Vary", "")


def test_cors_is_open(live_server):
    response = requests.get(live_server.url + "/search", params={"q": "nato"},
                            headers={"Origin": "https://example.org"}, timeout=30)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- HTML ---------------------------------------------------------------------------------------

class Links(HTMLParser):
    """The result links (``li.search-result > a``) of a page, and the header form's value."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[tuple[str, str]] = []
        self.query_value: str | None = None
        self._in_result = self._in_link = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and "search-result" in (attrs.get("class") or ""):
            self._in_result = True
        elif tag == "a" and self._in_result:
            self.results.append((attrs["href"], ""))
            self._in_link = True
        elif tag == "input" and attrs.get("name") == "q":
            self.query_value = attrs.get("value")

    def handle_endtag(self, tag):
        if tag == "a":
            self._in_link = False
        elif tag == "li":
            self._in_result = False

    def handle_data(self, data):
        if self._in_link:
            href, text = self.results[-1]
            self.results[-1] = (href, text + data)


def html_search(server: Server, q: str, **params) -> str:
    response = requests.get(server.url + "/search", params={"q": q, **params},
                            headers={"Accept": BROWSER_ACCEPT}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    return response.text


def test_html_lists_results_linking_to_their_pages(live_server):
    page = html_search(live_server, "turkiye")
    links = Links()
    links.feed(page)
    assert links.results[0] == ("/id/turkiye", "Türkiye")
    assert links.query_value == "turkiye"                    # the header form keeps the query
    answer = search(live_server, "turkiye")
    assert [href for href, _ in links.results] == [r["page"] for r in answer["results"]]
    assert [text for _, text in links.results] == [r["label"] for r in answer["results"]]
    assert '<link rel="stylesheet"' in page                  # it is the site's layout (base.html)


def test_html_escapes_the_query(live_server):
    q = '<script>alert("x")</script> "onmouseover=alert(1) turkiye'
    page = html_search(live_server, q)
    assert "<script>" not in page and 'alert("x")' not in page
    assert str(markupsafe.escape(q)) in page
    links = Links()
    links.feed(page)
    assert links.query_value == q


def test_html_escapes_names_from_the_data(live_server, names):
    """Names with characters HTML must escape (' & < > ") come out escaped."""
    tricky = sorted({r["name"] for r in names if r["p"].endswith("#label")
                     and any(c in r["name"] for c in "'&<>\"")})
    assert tricky
    label = tricky[0]
    page = html_search(live_server, label, limit=100)
    assert str(markupsafe.escape(label)) in page
    assert f">{label}<" not in page


def test_html_when_asked_by_format(live_server):
    response = requests.get(live_server.url + "/search", params={"q": "nato", "format": "html"},
                            timeout=30)
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'href="/id/nato"' in response.text


# --- a rebuild refreshes the index ----------------------------------------------------------------

def test_a_published_rebuild_refreshes_the_index(scratch_state, tmp_path):
    import shutil

    server = Server(scratch_state)
    try:
        name = "Zyxwvø Şearchmarker"
        assert all(search(server, "zyxwvo")["results"] == [] for _ in range(4))   # every worker
        data = tmp_path / "data"
        shutil.copytree(PROJECT / "data" / "ttl", data)
        (data / "zz-extra.ttl").write_text(
            "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
            f'<{ID}search-marker> a <https://w3id.org/tdkg/ontology#Person> ; '
            f'rdfs:label "{name}"@en .\n', encoding="utf-8")
        result = run_tdkg("build", "--state-dir", str(scratch_state), "--data-dir", str(data),
                          "--skip-validation")
        assert result.returncode == 0, result.stderr
        for _ in range(4):
            found = search(server, "zyxwvo searchmarker")["results"]
            assert [(r["iri"], r["label"], r["match"]) for r in found] == [
                (ID + "search-marker", name, "exact")]
    finally:
        server.stop()
