/* The query page: YASGUI over this server's /sparql, with the project's examples and prefixes.
 *
 * Nothing here (nor in YASGUI as configured) fetches from another origin: the prefix completer
 * knows only the project's prefixes, the class and property completers ask this server's
 * /sparql instead of Linked Open Vocabularies, and there is no endpoint catalogue, CORS proxy
 * or URL shortener.
 */
(function () {
  "use strict";
  performance.mark("tdkg-script-start");    // YASGUI's bundle has been run by now

  const config = JSON.parse(document.getElementById("tdkg-query-config").textContent);
  const Yasgui = window.Yasgui;
  const Yasqe = Yasgui.Yasqe;
  const Yasr = Yasgui.Yasr;
  const endpoint = new URL(config.endpoint, window.location.href).href;
  const examples = new Map(config.examples.map((ex) => [ex.name, ex]));
  /** SELECT and ASK answer as results; CONSTRUCT and DESCRIBE as RDF. */
  const FORMATS = {
    results: [["csv", "CSV", "csv"], ["tsv", "TSV", "tsv"], ["json", "JSON", "json"]],
    graph: [["turtle", "Turtle", "ttl"], ["nt", "N-Triples", "nt"], ["jsonld", "JSON-LD", "jsonld"]],
  };
  // Queries go by GET (answers are replayed from the server's cache) unless their URL would be
  // too long for the server (gunicorn takes request lines up to 8190 bytes): then by POST.
  const GET_LIMIT = 6000;

  const statusEl = document.getElementById("query-status");
  const examplesEl = document.getElementById("examples");
  const inferenceEl = document.getElementById("inference");
  const shareEl = document.getElementById("share-link");
  const copyEl = document.getElementById("copy-link");
  const downloadsEl = document.getElementById("downloads");
  const describeEl = document.getElementById("example-description");

  // ------------------------------------------------------------------ links to this server

  /** The path under which this server answers a TDKG IRI, or null for anyone else's IRI. */
  function localPath(iri) {
    return iri.startsWith(config.base) ? "/" + iri.slice(config.base.length) : null;
  }

  // Result IRIs under https://w3id.org/tdkg/ open their page on this server (same tab); other
  // IRIs keep YASR's link (new tab).
  const Table = Yasr.plugins.table;
  const yasrLink = Table.prototype.getUriLinkFromBinding;
  Table.prototype.getUriLinkFromBinding = function (binding, prefixes) {
    const html = yasrLink.call(this, binding, prefixes);
    const local = localPath(binding.value);
    if (local === null) return html;
    const box = document.createElement("template");
    box.innerHTML = html;
    const link = box.content.querySelector("a");
    if (!link) return html;
    link.setAttribute("href", local);
    link.setAttribute("title", binding.value);
    link.classList.add("local");
    for (const attr of ["target", "rel", "ref"]) link.removeAttribute(attr);
    return box.innerHTML;
  };

  // ------------------------------------------------------------------ completion, locally

  const prefixList = Object.entries(config.prefixes).map(([p, iri]) => `${p}: <${iri}>`).sort();
  Yasqe.Autocompleters.prefixes = { ...Yasqe.Autocompleters.prefixes, get: prefixList };

  let vocabulary = null;    // Promise of {classes: [...], properties: [...]}, asked for once
  function loadVocabulary() {
    if (vocabulary === null) {
      const query = "SELECT DISTINCT ?term ?kind WHERE {\n" +
        "  { ?term a ?declared . VALUES ?declared { <http://www.w3.org/2002/07/owl#Class> } BIND(\"class\" AS ?kind) }\n" +
        "  UNION { [] a ?term . BIND(\"class\" AS ?kind) }\n" +
        "  UNION { [] ?term [] . BIND(\"property\" AS ?kind) }\n" +
        "  UNION { ?term a ?declared . VALUES ?declared { <http://www.w3.org/2002/07/owl#ObjectProperty>\n" +
        "    <http://www.w3.org/2002/07/owl#DatatypeProperty> <http://www.w3.org/2002/07/owl#AnnotationProperty> }\n" +
        "    BIND(\"property\" AS ?kind) }\n" +
        "  FILTER isIRI(?term)\n}";
      const url = endpoint + "?" + new URLSearchParams({ query }).toString();
      vocabulary = fetch(url, { headers: { Accept: "application/sparql-results+json" } })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
        .then((json) => {
          const found = { class: new Set(), property: new Set() };
          for (const row of json.results.bindings) found[row.kind.value].add(row.term.value);
          return { class: [...found.class].sort(), property: [...found.property].sort() };
        })
        .catch((err) => { vocabulary = null; throw err; });
    }
    return vocabulary;
  }
  for (const kind of ["class", "property"]) {
    Yasqe.Autocompleters[kind] = {
      ...Yasqe.Autocompleters[kind],
      get: (yasqe, token) => loadVocabulary().then((terms) => {
        const start = (token && token.autocompletionString) || "";
        return terms[kind].filter((iri) => iri.startsWith(start)).slice(0, 100);
      }, () => []),
    };
  }

  // ------------------------------------------------------------------ the editor

  // a share link: /?query=… (or /#query=… for long queries), with inference=false when off
  const initialParams = new URLSearchParams(
    window.location.search || window.location.hash.replace(/^#/, ""));
  inferenceEl.checked = !["false", "0", "no", "off"].includes(
    (initialParams.get("inference") || "").toLowerCase());

  function inferenceArgs() {
    return inferenceEl.checked ? [] : [{ name: "inference", value: "false" }];
  }

  function requestConfig(query, args) {
    const encoded = new URLSearchParams({ query: query || "" }).toString().length;
    return {
      endpoint,
      method: encoded > GET_LIMIT ? "POST" : "GET",
      // arguments set in the tab's settings stay; "inference" follows the switch
      args: (args || []).filter((a) => a && a.name !== "inference").concat(inferenceArgs()),
    };
  }

  const yasgui = new Yasgui(document.getElementById("yasgui"), {
    persistenceId: "tdkg-query",
    populateFromUrl: false,          // share links are read below, in TDKG's own form
    autofocus: false,
    copyEndpointOnNewTab: false,
    corsProxy: undefined,
    endpointCatalogueOptions: { ...Yasgui.defaults.endpointCatalogueOptions, getData: () => [] },
    requestConfig: {
      ...requestConfig("", []),
      acceptHeaderSelect: "application/sparql-results+json",
      acceptHeaderGraph: "text/turtle",
    },
    yasqe: {
      value: config.defaultQuery,
      autocompleters: ["variables", "prefixes", "class", "property"],
      prefixCcApi: null,
      createShortLink: undefined,
      collapsePrefixesOnLoad: true,
      resizeable: true,
      editorHeight: "320px",
    },
    yasr: {
      prefixes: config.prefixes,
      pluginOrder: ["table", "response"],
      defaultPlugin: "table",
    },
  });

  function currentTab() { return yasgui.getTab(); }
  function currentQuery() {
    const tab = currentTab();
    return tab && tab.getYasqe() ? tab.getQuery() : config.defaultQuery;
  }

  /** Point every tab at this server with the current inference setting. */
  function configureTab(tab) {
    const query = tab.getYasqe() ? tab.getQuery() : (tab.getPersistedJson().yasqe || {}).value;
    const args = tab.getRequestConfig().args;
    tab.setRequestConfig(requestConfig(query, Array.isArray(args) ? args : []));
  }
  Object.values(yasgui._tabs).forEach(configureTab);
  yasgui.on("tabAdd", (instance, tabId) => {
    setTimeout(() => { const t = yasgui.getTab(tabId); if (t) configureTab(t); }, 0);   // made after the event
  });
  yasgui.on("queryBefore", (instance, tab) => {
    configureTab(tab);
    performance.mark("tdkg-query-start");
    statusEl.dataset.state = "running";
    statusEl.textContent = "Running…";
  });
  yasgui.on("query", (instance, tab) => {
    if (tab === currentTab()) window.history.replaceState(null, "", sharePath(tab.getQuery()));
    updateLinks();
  });

  // ------------------------------------------------------------------ share link and downloads

  /** The page's address for a query: /?query=…[&inference=false], or /#query=… when that
   * would be too long for a request line (the fragment never goes to the server). */
  function sharePath(query) {
    const params = new URLSearchParams({ query });
    if (!inferenceEl.checked) params.set("inference", "false");
    const text = params.toString();
    return (text.length > GET_LIMIT ? "/#" : "/?") + text;
  }

  function queryKind(tab) {
    const yasqe = tab && tab.getYasqe();
    const type = yasqe ? yasqe.getQueryType() : "SELECT";
    return type === "CONSTRUCT" || type === "DESCRIBE" ? "graph" : "results";
  }

  function updateLinks() {
    const tab = currentTab();
    const query = currentQuery();
    shareEl.href = sharePath(query);
    const formats = FORMATS[queryKind(tab)];
    const links = downloadsEl.querySelectorAll("a");
    formats.forEach(([format, label, extension], i) => {
      const params = new URLSearchParams({ query, format });
      if (!inferenceEl.checked) params.set("inference", "false");
      const link = links[i];
      link.href = "/sparql?" + params.toString();
      link.dataset.post = String(params.toString().length > GET_LIMIT);
      link.dataset.format = format;
      link.textContent = label;
      link.setAttribute("download", `${downloadName(tab)}.${extension}`);
    });
  }

  function downloadName(tab) {
    const name = tab ? tab.getName() : "";
    return examples.has(name) ? `tdkg-${name}` : "tdkg-results";
  }

  // a download whose URL would be too long is POSTed from a form instead
  downloadsEl.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-post=true]");
    if (!link) return;
    event.preventDefault();
    const form = document.createElement("form");
    form.method = "POST";
    form.action = "/sparql";
    for (const [name, value] of new URL(link.href).searchParams) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
    form.remove();
  });

  copyEl.addEventListener("click", () => {
    const url = new URL(sharePath(currentQuery()), window.location.href).href;
    const copied = (ok) => {
      copyEl.textContent = ok ? "Copied" : "Copy failed";
      setTimeout(() => { copyEl.textContent = "Copy link"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(() => copied(true), () => copied(fallbackCopy(url)));
    } else {
      copied(fallbackCopy(url));
    }
  });

  /** Copy through a selected text area (no clipboard API, or no focus); else offer the link. */
  function fallbackCopy(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
    area.remove();
    if (!ok) window.prompt("Copy this link:", text);
    return ok;
  }

  inferenceEl.addEventListener("change", () => {
    Object.values(yasgui._tabs).forEach(configureTab);
    updateLinks();
    const tab = currentTab();
    if (tab && tab.hasResults()) {
      statusEl.dataset.state = "stale";
      statusEl.textContent = inferenceEl.checked
        ? "Inferred facts included: run the query again to see them."
        : "Inferred facts left out: run the query again to see the answer without them.";
    }
    if (/[?#&]query=/.test(window.location.href)) {
      window.history.replaceState(null, "", sharePath(currentQuery()));
    }
  });

  // ------------------------------------------------------------------ examples

  function showDescription(tab) {
    const ex = tab ? examples.get(tab.getName()) : undefined;
    describeEl.hidden = !ex;
    if (!ex) return;
    describeEl.querySelector(".example-summary").textContent = ex.summary;
    describeEl.querySelector(".example-text").textContent = ex.description;
    describeEl.querySelector(".example-tags").textContent =
      ex.tags.length ? "Tags: " + ex.tags.join(", ") + "." : "";
    const file = describeEl.querySelector(".example-file");
    file.href = ex.href;
    file.textContent = ex.file;
  }

  /** The current tab when it still holds the untouched default query (a fresh page), else null. */
  function untouchedTab() {
    const tab = currentTab();
    return tab && tab.getYasqe() && tab.getQuery() === config.defaultQuery && !tab.hasResults()
      ? tab : null;
  }

  /** Select the tab called ``name`` holding ``query``: an existing one, the untouched default
   * tab, or a new one. */
  function showInTab(name, query) {
    const existing = Object.values(yasgui._tabs).find(
      (t) => (name ? t.getName() === name : false) ||
             ((t.getPersistedJson().yasqe || {}).value || "") === query);
    let tab = existing || untouchedTab();
    if (tab) {
      yasgui.selectTabId(tab.getId());    // (returns the tab that was selected before)
      if (tab.getQuery() !== query) tab.setQuery(query);
      if (name && tab.getName() !== name) tab.setName(name);
    } else {
      tab = yasgui.addTab(true, name ? { name, yasqe: { value: query } } : { yasqe: { value: query } });
    }
    configureTab(tab);
    return tab;
  }

  function openExample(name) {
    const ex = examples.get(name);
    if (!ex) return;
    const tab = showInTab(name, ex.query);
    watch(tab);
    showDescription(tab);
    updateLinks();
    examplesEl.value = name;
  }

  examplesEl.addEventListener("change", () => { if (examplesEl.value) openExample(examplesEl.value); });
  yasgui.on("tabSelect", (instance, tabId) => {
    // the tab is drawn after this event; look at it once it is
    setTimeout(() => {
      const tab = yasgui.getTab(tabId);
      if (!tab) return;
      watch(tab);
      showDescription(tab);
      examplesEl.value = examples.has(tab.getName()) ? tab.getName() : "";
      updateLinks();
      reportResults(tab, false);
    }, 0);
  });

  // ------------------------------------------------------------------ status line

  const watched = new WeakSet();
  const answered = new WeakSet();     // tabs whose next drawing shows a new answer
  let runs = 0;
  yasgui.on("queryResponse", (instance, tab) => { answered.add(tab); });

  /** Follow a tab's editor (links follow the query) and result view (the status line). */
  function watch(tab) {
    if (!tab || watched.has(tab) || !tab.getYasqe() || !tab.getYasr()) return;
    watched.add(tab);
    tab.getYasqe().on("change", () => { if (tab === currentTab()) updateLinks(); });
    tab.getYasr().on("drawn", () => {
      const fresh = answered.delete(tab);
      if (tab === currentTab()) reportResults(tab, fresh);
    });
  }

  /** Say what the tab's result view shows. ``fresh``: a new answer (counted in data-run, which
   * the browser tests wait on), not one restored from storage or redrawn. */
  function reportResults(tab, fresh) {
    const results = tab.getYasr() && tab.getYasr().results;
    if (!results) {
      statusEl.dataset.state = "ready";
      statusEl.dataset.rows = "";
      statusEl.textContent = "Ready: Ctrl+Enter or ▶ runs the query.";
      return;
    }
    if (fresh) {
      runs += 1;
      statusEl.dataset.run = String(runs);
    }
    if (results.hasError()) {
      statusEl.dataset.state = "error";
      statusEl.dataset.rows = "";
      statusEl.textContent = "The query failed: see the message below.";
      return;
    }
    const bindings = results.getBindings();
    // a fresh answer ran with the switch as it is; a restored one may not have
    const how = fresh ? `${inferenceEl.checked ? "with" : "without"} inferred facts`
                      : "from an earlier run";
    statusEl.dataset.rows = bindings ? String(bindings.length) : "";
    if (bindings) {
      statusEl.textContent = `${bindings.length} ${bindings.length === 1 ? "result" : "results"}, ${how}.`;
    } else if (typeof results.getBoolean === "function" && results.getBoolean() !== undefined) {
      statusEl.textContent = `Answer: ${results.getBoolean() ? "yes" : "no"} (${how}).`;
    } else {
      statusEl.textContent = `Answer received (${how}).`;
    }
    statusEl.dataset.state = "done";
    if (fresh) performance.mark("tdkg-results-drawn");    // read by bench/page_load.py
  }

  // ------------------------------------------------------------------ start

  function start() {
    const shared = initialParams.get("query");
    let tab = currentTab();
    if (shared !== null) {
      const ex = config.examples.find((e) => e.query === shared);
      tab = showInTab(ex ? ex.name : null, shared);
    }
    watch(tab);
    showDescription(tab);
    if (tab && examples.has(tab.getName())) examplesEl.value = tab.getName();
    updateLinks();
    reportResults(tab, false);
    document.documentElement.dataset.queryReady = "true";
    performance.mark("tdkg-editor-ready");
    if (shared !== null && tab) tab.query().catch(() => {});
  }
  start();
  // for the browser tests and the console
  window.tdkgWorkbench = { yasgui, openExample, localPath, sharePath };
})();
