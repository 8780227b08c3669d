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
  const prefixesEl = document.getElementById("add-prefixes");

  // ------------------------------------------------------------------ results as people read them
  //
  // By default the table shows what a person reads: labels for the graph's own IRIs (linked to
  // their pages here), prefixed names for others' IRIs, and literals as plain values without
  // quotes, language tags or datatypes, numbers right-aligned. The "Raw RDF" switch above the
  // table (YASR's own "Simple view" switch, relabelled) shows the terms as RDF again.

  const XSD = "http://www.w3.org/2001/XMLSchema#";
  const INTEGERS = ["integer", "int", "long", "short", "byte", "nonNegativeInteger",
    "positiveInteger", "negativeInteger", "nonPositiveInteger", "unsignedLong", "unsignedInt",
    "unsignedShort", "unsignedByte"].map((t) => XSD + t);
  const INTEGER = new Set(INTEGERS);
  const NUMERIC = new Set([...INTEGERS, XSD + "decimal", XSD + "double", XSD + "float"]);
  const RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label";
  const SKOS_LABEL = "http://www.w3.org/2004/02/skos/core#prefLabel";
  const DC_TITLE = "http://purl.org/dc/terms/title";

  function isNumber(b) {
    return !!b && b.type !== "uri" && b.type !== "bnode" && NUMERIC.has(b.datatype);
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) =>
      ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // longest namespace first, so that tdi: wins over a shorter namespace it starts with
  const namespaces = Object.entries(config.prefixes).sort((a, b) => b[1].length - a[1].length);
  function prefixed(iri) {
    for (const [prefix, ns] of namespaces) {
      if (iri.startsWith(ns) && iri.length > ns.length) return `${prefix}:${iri.slice(ns.length)}`;
    }
    return iri;
  }

  /** The path under which this server answers a TDKG IRI, or null for anyone else's IRI. */
  function localPath(iri) {
    return iri.startsWith(config.base) ? "/" + iri.slice(config.base.length) : null;
  }

  // ---- labels: from the answer's own label columns (?x with ?xLabel), else from one request to
  // /sparql for the graph's IRIs in the answer (at most LABEL_BATCH of them; the others show as
  // prefixed names). Kept for the page's lifetime, so a new run asks only about new IRIs.
  const labels = new Map();          // IRI → label
  const unlabelled = new Set();      // IRIs /sparql was asked about and has no label for
  const LABEL_BATCH = 1000;
  const LABEL_QUERY_CHARS = 48000;   // well below the endpoint's 64 KB query limit
  const LABEL_TIMEOUT_MS = 5000;
  const LABEL_CACHE = 50000;
  const labelJobs = new WeakMap();   // results → Promise (settled once labels are known)

  function labelColumn(variable, variables) {
    return variables.find((v) => v !== variable &&
      [variable + "label", variable + "_label", variable + "name"].includes(v.toLowerCase()));
  }

  /** The text that stands for a term in the readable view and on charts. */
  function displayText(b) {
    if (!b) return "";
    if (b.type === "uri") return labels.get(b.value) || prefixed(b.value);
    if (b.type === "bnode") return "_:" + b.value;
    return b.value;
  }

  /** Settles once the labels of ``results``' IRIs are known (or could not be had). */
  function labelsFor(results) {
    if (!results || typeof results.getBindings !== "function") return Promise.resolve();
    let job = labelJobs.get(results);
    if (!job) {
      job = loadLabels(results).catch((err) => console.warn("labels not loaded:", err));
      labelJobs.set(results, job);
    }
    return job;
  }

  async function loadLabels(results) {
    const rows = results.getBindings() || [];
    const variables = results.getVariables() || [];
    if (labels.size > LABEL_CACHE) { labels.clear(); unlabelled.clear(); }
    const pairs = variables.map((v) => [v, labelColumn(v, variables)]).filter(([, l]) => l);
    for (const row of rows) {
      for (const [v, l] of pairs) {
        const term = row[v], label = row[l];
        if (term && term.type === "uri" && label && label.type !== "uri" && label.value) {
          labels.set(term.value, label.value);
        }
      }
    }
    const wanted = [];
    const seen = new Set();
    let chars = 0;
    scan: for (const row of rows) {
      for (const v of variables) {
        const term = row[v];
        if (!term || term.type !== "uri" || seen.has(term.value)) continue;
        seen.add(term.value);
        const iri = term.value;
        if (localPath(iri) === null || labels.has(iri) || unlabelled.has(iri)) continue;
        if (/[\s<>"{}|^`\\]/.test(iri)) continue;      // not writable as <IRI>
        if (wanted.length >= LABEL_BATCH || chars + iri.length + 3 > LABEL_QUERY_CHARS) break scan;
        wanted.push(iri);
        chars += iri.length + 3;
      }
    }
    if (!wanted.length) return;
    const query = "SELECT ?s ?label ?rank WHERE {\n  VALUES ?s { " +
      wanted.map((iri) => `<${iri}>`).join(" ") + " }\n" +
      `  { ?s <${RDFS_LABEL}> ?label BIND(1 AS ?rank) }\n` +
      `  UNION { ?s <${SKOS_LABEL}> ?label BIND(2 AS ?rank) }\n` +
      `  UNION { ?s <${DC_TITLE}> ?label BIND(3 AS ?rank) }\n  FILTER isLiteral(?label)\n}`;
    const params = new URLSearchParams({ query });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), LABEL_TIMEOUT_MS);
    const init = { headers: { Accept: "application/sparql-results+json" },
                   signal: controller.signal };
    let json;
    try {
      const long = params.toString().length > GET_LIMIT;
      const response = await fetch(long ? endpoint : `${endpoint}?${params}`,
                                   long ? { ...init, method: "POST", body: params } : init);
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      json = await response.json();
    } finally {
      clearTimeout(timer);
    }
    // the best label of each: rdfs:label before skos:prefLabel before dcterms:title; English,
    // then no language, then any other
    const best = new Map();
    for (const row of json.results.bindings) {
      const lang = (row.label["xml:lang"] || "").toLowerCase();
      const score = Number(row.rank.value) * 10 +
        (lang === "en" || lang.startsWith("en-") ? 0 : lang === "" ? 1 : 2);
      const known = best.get(row.s.value);
      if (!known || score < known[0]) best.set(row.s.value, [score, row.label.value]);
    }
    for (const iri of wanted) {
      if (best.has(iri)) labels.set(iri, best.get(iri)[1]);
      else unlabelled.add(iri);
    }
  }

  /** One cell of the readable view (HTML). */
  function readableCell(b) {
    if (b.type === "uri") {
      const iri = b.value;
      const local = localPath(iri);
      const text = escapeHtml(displayText(b));
      if (local !== null) {
        return `<a class="term local" href="${escapeHtml(local)}" title="${escapeHtml(iri)}">${text}</a>`;
      }
      if (/^https?:\/\//i.test(iri)) {
        return `<a class="term" href="${escapeHtml(iri)}" title="${escapeHtml(iri)}" ` +
          `target="_blank" rel="noopener noreferrer">${text}</a>`;
      }
      return `<span class="term" title="${escapeHtml(iri)}">${text}</span>`;
    }
    if (b.type === "bnode") return `<span class="term bnode">_:${escapeHtml(b.value)}</span>`;
    const lang = b["xml:lang"];
    const attrs = lang ? ` lang="${escapeHtml(lang)}"`
      : b.datatype ? ` title="${escapeHtml(prefixed(b.datatype))}"` : "";
    return `<span class="literal${isNumber(b) ? " num" : ""}"${attrs}>${escapeHtml(b.value)}</span>`;
  }

  const Table = Yasr.plugins.table;

  // Raw view: result IRIs under https://w3id.org/tdkg/ open their page on this server (same
  // tab); other IRIs keep YASR's link (new tab).
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

  const yasrCell = Table.prototype.getCellContent;
  Table.prototype.getCellContent = function (binding, prefixes) {
    if (this.persistentConfig.raw) return yasrCell.call(this, binding, prefixes);
    return `<div>${readableCell(binding)}</div>`;
  };

  // columns: numbers right-aligned (a column of numbers as a whole, else cell by cell) and
  // sorted as numbers; in the readable view, terms sort and filter by the text shown
  const yasrColumns = Table.prototype.getColumns;
  Table.prototype.getColumns = function () {
    const columns = yasrColumns.call(this);
    const rows = (this.yasr.results && this.yasr.results.getBindings()) || [];
    const raw = !!this.persistentConfig.raw;
    return columns.map((column, index) => {
      if (index === 0) return column;          // the row numbers
      const name = column.name;
      const numeric = rows.some((r) => r[name]) && rows.every((r) => !r[name] || isNumber(r[name]));
      const render = column.render;
      return {
        ...column,
        type: numeric ? "num" : "string",
        className: numeric ? "tdkg-num" : "",
        // a column of (short) numbers stays as wide as its heading, which it is aligned with
        ...(numeric ? { width: `${name.length + 3}ch` } : {}),
        render: (data, type, row, meta) => {
          if (data === "" || !data || (type !== "sort" && type !== "filter")) {
            return render(data, type, row, meta);
          }
          if (type === "sort") {
            if (numeric) return Number(data.value);
            return raw ? data.value : displayText(data).toLocaleLowerCase();
          }
          return raw ? data.value : `${displayText(data)} ${data.value}`;
        },
        createdCell: (cell, data) => { if (isNumber(data)) cell.classList.add("tdkg-num"); },
      };
    });
  };

  // YASR's "Simple view" switch becomes "Raw RDF" (off by default: the readable view)
  const yasrControls = Table.prototype.drawControls;
  Table.prototype.drawControls = function () {
    yasrControls.call(this);
    const input = this.tableCompactSwitch;
    const label = input && input.closest("label");
    if (!label) return;
    label.removeEventListener("change", this.handleSetCompactToggle);
    label.parentElement.classList.add("raw-switch");
    label.title = "Show the answer's RDF terms as they are: <IRIs>, \"literals\"@language and " +
      "^^datatypes (off: labels and plain values)";
    label.querySelector(".label").textContent = "Raw RDF";
    input.checked = !!this.persistentConfig.raw;
    if (!this.handleRawToggle) {
      this.handleRawToggle = (event) => {
        this.persistentConfig.raw = event.target.checked;
        this.yasr.storePluginConfig("table", this.persistentConfig);
        this.yasr.draw();
      };
    }
    label.addEventListener("change", this.handleRawToggle);
  };

  // drawn once the labels are known (one request, bounded in size and time), so that the first
  // table shown already reads as text; YASR waits for this before it reports "drawn"
  const yasrDraw = Table.prototype.draw;
  Table.prototype.draw = async function (persistent) {
    const results = this.yasr.results;
    await labelsFor(results);
    if (this.yasr.results !== results || this.yasr.drawnPlugin !== "table") return;
    return yasrDraw.call(this, { ...(persistent || {}), compact: false });
  };

  // ------------------------------------------------------------------ the chart view
  //
  // A YASR plugin ("Chart") offered when the answer has a column of labels (IRIs or text) and
  // a column of numbers (horizontal bars, one per row), or a year column (a timeline: the rows
  // counted per year, or a number column summed per year). Chart.js is loaded from this server
  // when the first chart is drawn.

  const MAX_BARS = 100;
  const YEAR_NAME = /year/i;
  // numbers that name or date rather than measure (footnoteNumber, wikidataId, month): no
  // bars of them
  const IDENTIFIER_NAME = /(?:[a-z0-9](?:Number|Id|ID|Code)|_(?:number|id|code))$/;
  const DATE_PART_NAME = /(?:^|[a-z0-9_])(?:month|day|hour|minute|second)s?$/i;
  let chartLibrary = null;

  function loadChartLibrary() {
    if (window.Chart) return Promise.resolve(window.Chart);
    if (chartLibrary === null) {
      chartLibrary = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = config.chartScript;
        script.onload = () => (window.Chart ? resolve(window.Chart)
                                            : reject(new Error("Chart.js did not load")));
        script.onerror = () => { chartLibrary = null; reject(new Error(`${script.src} failed`)); };
        document.head.appendChild(script);
      });
    }
    return chartLibrary;
  }

  function yearOf(b) {
    if (!b || b.type === "uri" || b.type === "bnode") return null;
    if (b.datatype === XSD + "gYear") {
      const year = parseInt(b.value, 10);
      return Number.isFinite(year) ? year : null;
    }
    if (!INTEGER.has(b.datatype)) return null;
    const year = Number(b.value);
    return Number.isInteger(year) && Math.abs(year) < 10000 ? year : null;
  }

  /** "year", "number", "label" or "empty" for each variable. */
  function columnKinds(variables, rows) {
    const kinds = {};
    for (const v of variables) {
      let bound = 0, numbers = 0, years = 0, gYears = 0;
      for (const row of rows) {
        const b = row[v];
        if (!b) continue;
        bound += 1;
        if (isNumber(b)) numbers += 1;
        if (yearOf(b) !== null) years += 1;
        if (b.datatype === XSD + "gYear") gYears += 1;
      }
      kinds[v] = bound === 0 ? "empty"
        : gYears === bound || (years === bound && YEAR_NAME.test(v)) ? "year"
        : numbers === bound && !IDENTIFIER_NAME.test(v) && !DATE_PART_NAME.test(v) ? "number"
        : "label";
    }
    return kinds;
  }

  /** The charts an answer can be drawn as: [{key, kind, label|year, value, title}], best first. */
  function chartChoices(results) {
    if (!results || typeof results.getBindings !== "function") return [];
    const variables = results.getVariables() || [];
    const rows = results.getBindings() || [];
    if (!rows.length || !variables.length) return [];
    const kinds = columnKinds(variables, rows);
    const numbers = variables.filter((v) => kinds[v] === "number");
    const years = variables.filter((v) => kinds[v] === "year");
    const texts = variables.filter((v) => kinds[v] === "label");
    // the label of a bar: the first IRI or text column that is not itself another's label
    const labelled = texts.filter((v) => !texts.some((w) => labelColumn(w, variables) === v));
    const bars = (labelled.length ? labelled : texts).slice(0, 1).flatMap((label) =>
      numbers.map((value) => ({ key: `bars:${label}:${value}`, kind: "bars", label, value,
                                title: `${value} by ${label}` })));
    const timeline = years.slice(0, 1).flatMap((year) => {
      const unique = new Set(rows.map((r) => r[year] && r[year].value)).size === rows.length;
      const counted = { key: `timeline:${year}:`, kind: "timeline", year, value: null,
                        title: `rows per ${year}` };
      const summed = numbers.map((value) => ({ key: `timeline:${year}:${value}`, kind: "timeline",
                                               year, value, title: `${value} per ${year}` }));
      return unique ? [...summed, counted] : [counted, ...summed];
    });
    return kinds[variables[0]] === "year" || !bars.length ? [...timeline, ...bars]
                                                          : [...bars, ...timeline];
  }

  function shorten(text, most) {
    return text.length > most ? text.slice(0, most - 1) + "…" : text;
  }

  function chartColour() {
    return getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() ||
      "#8a1c1c";
  }

  /** Chart.js configuration, the size of the box and a sentence saying what is drawn. */
  function barChart(rows, choice) {
    const points = [];
    let withValue = 0;
    for (const row of rows) {
      const value = row[choice.value];
      if (!isNumber(value)) continue;
      withValue += 1;
      if (points.length >= MAX_BARS) continue;
      const term = row[choice.label];
      points.push({ label: displayText(term) || "(none)", value: Number(value.value),
                    href: term && term.type === "uri" ? localPath(term.value) : null,
                    title: term && term.type === "uri" ? term.value : "" });
    }
    const note = `${choice.value} by ${choice.label}: ${points.length} bar` +
      (points.length === 1 ? "" : "s") +
      (withValue > points.length ? ` (the first ${points.length} of ${withValue} rows)` : "") +
      (points.some((p) => p.href) ? "; a bar opens its page" : "") + ".";
    return {
      points, note, height: Math.max(160, points.length * 24 + 70),
      config: {
        type: "bar",
        data: { labels: points.map((p) => p.label),
                datasets: [{ label: choice.value, data: points.map((p) => p.value),
                             backgroundColor: chartColour(), maxBarThickness: 22 }] },
        options: {
          indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: false },
                     tooltip: { callbacks: { title: (items) => points[items[0].dataIndex].label } } },
          scales: {
            x: { beginAtZero: true, position: "top", title: { display: true, text: choice.value },
                 ticks: { precision: 0 } },
            // labels shortened to what the width allows (a phone gets shorter ones)
            y: { ticks: { autoSkip: false, callback(value) {
              return shorten(this.getLabelForValue(value), this.chart.width < 500 ? 18 : 40);
            } } },
          },
          onClick: (event, elements) => {
            const point = elements.length ? points[elements[0].index] : null;
            if (point && point.href) window.location.assign(point.href);
          },
          onHover: (event, elements) => {
            const point = elements.length ? points[elements[0].index] : null;
            event.native.target.style.cursor = point && point.href ? "pointer" : "default";
          },
        },
      },
    };
  }

  function timelineChart(rows, choice) {
    const totals = new Map();
    for (const row of rows) {
      const year = yearOf(row[choice.year]);
      if (year === null) continue;
      const add = choice.value === null ? 1 : (isNumber(row[choice.value]) ? Number(row[choice.value].value) : 0);
      totals.set(year, (totals.get(year) || 0) + add);
    }
    const points = [...totals].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y }));
    const first = points.length ? points[0].x : 0;
    const last = points.length ? points[points.length - 1].x : 0;
    const what = choice.value === null ? "rows" : choice.value;
    const note = `${what} per ${choice.year}: ${points.length} year` +
      (points.length === 1 ? "" : "s") + (points.length ? `, ${first} to ${last}` : "") + ".";
    return {
      points, note, height: 340,
      config: {
        type: "bar",
        data: { datasets: [{ label: what, data: points, backgroundColor: chartColour(),
                             maxBarThickness: 36, minBarLength: 2 }] },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: false },
                     tooltip: { callbacks: { title: (items) => String(items[0].raw.x) } } },
          scales: {
            x: { type: "linear", min: first - 1, max: last + 1, offset: false,
                 title: { display: true, text: choice.year },
                 ticks: { precision: 0, callback: (v) => (Number.isInteger(v) ? String(v) : "") } },
            y: { beginAtZero: true, title: { display: true, text: what }, ticks: { precision: 0 } },
          },
        },
      },
    };
  }

  class ChartPlugin {
    constructor(yasr) {
      this.yasr = yasr;
      this.priority = 5;
      this.label = "Chart";
      this.persistent = {};
      this.chart = null;
    }

    canHandleResults() { return chartChoices(this.yasr.results).length > 0; }

    initialize() { return loadChartLibrary().catch(() => undefined); }   // drawn even without it

    getIcon() {
      const icon = document.createElement("div");
      icon.innerHTML = '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">' +
        '<rect x="1" y="8" width="3" height="7"/><rect x="6" y="3" width="3" height="12"/>' +
        '<rect x="11" y="6" width="3" height="9"/></svg>';
      return icon;
    }

    async draw(persistent) {
      this.persistent = { ...this.persistent, ...(persistent || {}) };
      const results = this.yasr.results;
      await labelsFor(results);
      if (this.yasr.results !== results || this.yasr.drawnPlugin !== "chart") return;
      this.clear();
      const choices = chartChoices(results);
      const choice = choices.find((c) => c.key === this.persistent.choice) || choices[0];
      if (!choice) return;
      this.drawControls(choices, choice);
      const rows = results.getBindings();
      const spec = choice.kind === "bars" ? barChart(rows, choice)
                                          : timelineChart(rows, choice);
      const note = document.createElement("p");
      note.className = "chart-note";
      note.textContent = spec.note;
      const box = document.createElement("div");
      box.className = `tdkg-chart tdkg-chart-${choice.kind}`;
      box.style.height = `${spec.height}px`;
      const canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `Chart of ${spec.note} The table view lists the values.`);
      box.appendChild(canvas);
      this.yasr.resultsEl.append(note, box);
      const Chart = window.Chart;
      if (!Chart) {
        note.textContent = "The chart library could not be loaded: " + config.chartScript;
        return;
      }
      this.chart = new Chart(canvas, spec.config);
      this.chart.tdkgPoints = spec.points;     // for the browser tests and the console
    }

    drawControls(choices, choice) {
      this.removeControls();
      if (choices.length < 2) return;
      const label = document.createElement("label");
      label.className = "chart-choice";
      label.textContent = "Chart: ";
      const select = document.createElement("select");
      for (const c of choices) {
        const option = document.createElement("option");
        option.value = c.key;
        option.textContent = c.title;
        option.selected = c.key === choice.key;
        select.appendChild(option);
      }
      select.addEventListener("change", () => {
        this.persistent.choice = select.value;
        this.yasr.storePluginConfig("chart", this.persistent);
        this.yasr.draw();
      });
      label.appendChild(select);
      this.controls = label;
      this.yasr.pluginControls.appendChild(label);
    }

    removeControls() {
      if (this.controls) this.controls.remove();
      this.controls = null;
    }

    clear() {
      if (this.chart) this.chart.destroy();
      this.chart = null;
      this.removeControls();
    }

    destroy() { this.clear(); }
  }
  Yasr.registerPlugin("chart", ChartPlugin);

  // ------------------------------------------------------------------ completion, locally

  // The endpoint predeclares the project's prefixes: the editor's grammar starts out knowing
  // them too, so a query without PREFIX lines is not marked as an error, and completing
  // "tdkg:Sta" works without adding a PREFIX line ("Add PREFIX lines" writes them out).
  const sparqlMode = Yasqe.modes.sparql11;
  Yasqe.defineMode("sparql11", function (cmConfig, modeConfig) {
    const mode = sparqlMode.call(this, cmConfig, modeConfig);
    const startState = mode.startState;
    mode.startState = function (...args) {
      const state = startState.apply(this, args);
      state.prefixes = { ...config.prefixes, ...state.prefixes };
      return state;
    };
    return mode;
  });

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
      pluginOrder: ["table", "chart", "response"],
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

  // ------------------------------------------------------------------ prefixes

  /** The PREFIX lines for the predeclared prefixes the query uses but does not declare, put
   * after its leading comments: the query then runs in any SPARQL client. */
  function addPrefixes() {
    const tab = currentTab();
    const yasqe = tab && tab.getYasqe();
    if (!yasqe) return;
    const query = yasqe.getValue();
    const missing = Object.entries(config.prefixes).filter(([prefix]) => {
      const used = new RegExp(`(^|[^\\w:.-])${prefix}:(?!//)`, "m").test(
        query.replace(/^\s*PREFIX\b.*$/gim, "").replace(/#.*$/gm, ""));
      const declared = new RegExp(`^\\s*PREFIX\\s+${prefix}:`, "im").test(query);
      return used && !declared;
    });
    if (!missing.length) {
      statusEl.dataset.state = "ready";
      statusEl.textContent = "The query already declares every prefix it uses.";
      return;
    }
    const lines = query.split("\n");
    let at = 0;
    while (at < lines.length && /^\s*(#.*)?$/.test(lines[at])) at += 1;
    const block = missing.map(([prefix, iri]) => `PREFIX ${prefix}: <${iri}>`);
    lines.splice(at, 0, ...block, ...(/^\s*PREFIX\b/i.test(lines[at] || "") ? [] : [""]));
    yasqe.setValue(lines.join("\n"));
    statusEl.dataset.state = "ready";
    statusEl.textContent = `Added ${block.length} PREFIX line${block.length === 1 ? "" : "s"}: ` +
      "the query now runs in any SPARQL client.";
  }
  prefixesEl.addEventListener("click", addPrefixes);

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

  /** Show the tab's answers in ``view`` (an example's "table" or "chart"). */
  function showView(tab, view) {
    const yasr = tab && tab.getYasr();
    if (yasr && view && yasr.getSelectedPluginName() !== view) yasr.selectPlugin(view);
  }

  function openExample(name) {
    const ex = examples.get(name);
    if (!ex) return;
    const tab = showInTab(name, ex.shortQuery);
    showView(tab, ex.view);
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
      const ex = config.examples.find((e) => e.shortQuery === shared || e.query === shared);
      tab = showInTab(ex ? ex.name : null, shared);
      if (ex) showView(tab, ex.view);
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
  window.tdkgWorkbench = { yasgui, openExample, localPath, sharePath, labels, chartChoices };
})();
