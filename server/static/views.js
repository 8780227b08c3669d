/* Shared by the network and timeline views: running the page's SPARQL queries against /sparql,
   the epistemic statuses and their colours, the status filter, links to resource pages. */
(function () {
  "use strict";

  const BASE = "https://w3id.org/tdkg/";
  const TDKG = BASE + "ontology#";

  /* colours of the six statuses, strongest first (the same hues as the status badges) */
  const STATUS_COLOURS = {
    reported: "#2e7d4f",
    claimed: "#c98a00",
    implied: "#4f5bd5",
    curatorKnowledge: "#6d6d6d",
    speculative: "#e0663a",
    officiallyDenied: "#b3261e",
  };

  function readJSON(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  /* The statuses as the server lists them, each with its colour. */
  function statuses() {
    return readJSON("tdkg-statuses").map((s) => Object.assign({ colour: STATUS_COLOURS[s.key] }, s));
  }

  /* Run a SELECT at /sparql and return its rows as {variable: value} (strings; booleans and
     integers stay strings, as in the JSON results). */
  async function select(query) {
    const response = await fetch("/sparql", {
      method: "POST",
      headers: { "Content-Type": "application/sparql-query",
                 "Accept": "application/sparql-results+json" },
      body: query,
    });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error.message; } catch (err) { /* not JSON */ }
      throw new Error("the query failed: " + message);
    }
    const data = await response.json();
    return data.results.bindings.map((row) => {
      const out = {};
      for (const [name, term] of Object.entries(row)) out[name] = term.value;
      return out;
    });
  }

  /* The path under which this server answers one of our IRIs (else the IRI itself). */
  function localPath(iri) {
    return iri.startsWith(BASE) ? "/" + iri.slice(BASE.length) : iri;
  }

  function statusKey(iri) {
    return iri.startsWith(TDKG) ? iri.slice(TDKG.length) : iri;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function statusBadge(key, label) {
    return el("a", { className: "status status-" + key, href: localPath(TDKG + key),
                     title: "epistemic status" }, label);
  }

  /* Six checkboxes, one per status, each with its colour and how many items have it.
     onChange(set of status IRIs that are ticked). */
  function statusFilter(container, counts, onChange) {
    const ticked = new Set();
    for (const s of statuses()) {
      const box = el("input", { type: "checkbox", name: "status", value: s.iri, checked: true,
                                "data-status": s.key });
      ticked.add(s.iri);
      box.addEventListener("change", () => {
        if (box.checked) ticked.add(s.iri); else ticked.delete(s.iri);
        onChange(ticked);
      });
      const swatch = el("span", { className: "swatch", style: "background:" + s.colour });
      const count = el("span", { className: "count" }, String(counts[s.iri] || 0));
      container.append(el("label", { className: "check status-check" }, box, swatch, s.label, " ", count));
    }
    return ticked;
  }

  function years(start, end) {
    if (start === null || start === undefined) return "undated";
    if (end === null || end === undefined) return String(start);
    if (end === Infinity) return "since " + start;
    return start === end ? String(start) : start + "–" + end;
  }

  /* Labels as the views draw them: at most MAX_LABEL characters, so that one huge label in the
     data cannot stall the drawing; the resource page shows the whole name. */
  const MAX_LABEL = 120;
  function shorten(text, max = MAX_LABEL) {
    if (typeof text !== "string" || text.length <= max) return text;
    return text.slice(0, max - 1).trimEnd() + "…";
  }

  /* The rows of a view's query with every label column (…label, …Label) shortened. */
  function shortenLabels(rows) {
    return rows.map((row) => {
      const out = Object.assign({}, row);
      for (const key of Object.keys(out)) {
        if (/label$/i.test(key)) out[key] = shorten(out[key]);
      }
      return out;
    });
  }

  window.tdkgViews = { BASE, TDKG, STATUS_COLOURS, statuses, select, localPath, statusKey, el,
                       statusBadge, statusFilter, years, readJSON, shorten, shortenLabels,
                       MAX_LABEL };
})();
