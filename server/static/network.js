/* /network: the partnership and trade network, drawn with vis-network from the rows of
   queries/network-nodes.rq and queries/network-edges.rq (embedded in the page, run at /sparql).
   One node per row of the node query, one edge per row of the edge query; filters only hide
   and show them. window.tdkgNetwork exposes the data sets and the network (for the tests). */
(function () {
  "use strict";
  const V = window.tdkgViews;
  const NODE_LABEL = 64;      /* characters of a name drawn beside its node (all of it on hover) */
  const TDKG = V.TDKG;

  /* How each kind of link is drawn. Links that exist only in the inferred graph are dashed. */
  const EDGE_KINDS = [
    { kind: "trade", label: "supplies (deal, transfer)", colour: "#8a1c1c", arrows: true },
    { kind: "agreement", label: "agreement (co-signatories)", colour: "#b8741a" },
    { kind: "partnership", label: "partnership", colour: "#2e7d32" },
    { kind: "rivalry", label: "rivalry", colour: "#c2185b" },
    { kind: "tension", label: "tension", colour: "#f08a9c" },
    { kind: "membership", label: "member of", colour: "#6a3d9a", arrows: true },
    { kind: "home state", label: "company's home state", colour: "#9aa0a6", arrows: true },
    { kind: "state-level agreement", label: "state-level agreement", colour: "#2a5d8f",
      inferred: true, property: "hasDefenceAgreementWith" },
    { kind: "customer", label: "customer of the maker", colour: "#163f66", arrows: true,
      inferred: true, property: "customerOf" },
    { kind: "indirect partnership", label: "indirect partnership", colour: "#6f9fd8",
      inferred: true, property: "indirectPartnerOf" },
  ];
  const KIND = Object.fromEntries(EDGE_KINDS.map((k) => [k.kind, k]));
  /* an inferred link of a kind that is otherwise asserted (dashed, in this colour) */
  const INFERRED_COLOUR = "#5c6bc0";
  const DASHES = [7, 5];

  /* How each kind of actor is drawn (the ?kind of the node query). One colour scheme with the
     links: no colour of a node kind is the colour of a link kind (or of inferred links). */
  const NODE_KINDS = {
    [TDKG + "State"]: { shape: "dot", colour: "#00838f", label: "state" },
    [TDKG + "Company"]: { shape: "diamond", colour: "#f4b400", label: "company" },
    [TDKG + "GovernmentBody"]: { shape: "triangle", colour: "#9bc53d", label: "government body" },
    [TDKG + "IntergovernmentalOrganization"]: { shape: "hexagon", colour: "#b07cc6",
                                                label: "intergovernmental organisation" },
    [TDKG + "AgentGroup"]: { shape: "square", colour: "#795548", label: "group of agents" },
    [TDKG + "Agent"]: { shape: "dot", colour: "#c9c9c9", label: "other agent" },
  };
  /* line width by status: firmer support, thicker line */
  const WIDTH = { reported: 3, claimed: 2.5, implied: 2, curatorKnowledge: 2, speculative: 1.4,
                  officiallyDenied: 1.4 };

  const state = { ready: false, error: null, statusOn: new Set(), kindOn: new Set(),
                  from: null, to: null, undated: true, isolated: false };
  window.tdkgNetwork = state;

  function int(value) {
    return value === undefined || value === "" ? null : parseInt(value, 10);
  }

  /* [start, end] years of a link, or null when undated. A start year without an end year is a
     relation that began then and has no stated end. */
  function interval(row) {
    const year = int(row.year), start = int(row.startYear), end = int(row.endYear);
    const first = year !== null ? year : start;
    if (first === null) return null;
    return [first, end !== null ? end : (year !== null ? year : Infinity)];
  }

  function edgeId(row) {
    return row.fact + " " + row.from + " " + row.to;
  }

  function makeNodes(rows, degree) {
    return rows.map((row) => {
      const look = NODE_KINDS[row.kind] || NODE_KINDS[TDKG + "Agent"];
      const isolated = !degree.has(row.node);
      return {
        id: row.node, label: V.shorten(row.label, NODE_LABEL), kind: row.kind, kindLabel: row.kindLabel,
        shape: look.shape, color: { background: look.colour, border: shade(look.colour),
                                    highlight: { background: look.colour, border: "#111" } },
        value: 1 + (degree.get(row.node) || 0), mass: 1 + Math.sqrt(degree.get(row.node) || 0) / 2,
        isolated, physics: !isolated, hidden: isolated,
        title: tooltip([row.label, row.kindLabel]),
      };
    });
  }

  function makeEdges(rows, labels) {
    // fan out the links between the same two actors
    const pairs = new Map();
    for (const row of rows) {
      const key = [row.from, row.to].sort().join(" ");
      if (!pairs.has(key)) pairs.set(key, []);
      pairs.get(key).push(row);
    }
    const bend = new Map();
    for (const group of pairs.values()) {
      const n = group.length;
      const step = n > 1 ? Math.min(0.15, 0.6 / ((n - 1) / 2)) : 0;
      group.forEach((row, i) => bend.set(row, (i - (n - 1) / 2) * step));
    }
    return rows.map((row) => {
      const kind = KIND[row.kind] || { label: row.kind, colour: "#777" };
      const inferred = row.inferred === "true";
      const key = V.statusKey(row.status);
      const colour = inferred ? (kind.inferred ? kind.colour : INFERRED_COLOUR) : kind.colour;
      const k = bend.get(row);
      const flip = row.from > row.to;
      const smooth = k === 0 ? { enabled: false }
        : { enabled: true, type: (k > 0) !== flip ? "curvedCW" : "curvedCCW", roundness: Math.abs(k) };
      const span = interval(row);
      const ends = (labels.get(row.from) || row.from) + (kind.arrows ? " → " : " — ") + (labels.get(row.to) || row.to);
      const how = [kind.label, row.statusLabel, V.years(span ? span[0] : null, span ? span[1] : null)].join(" · ");
      return {
        title: tooltip([ends, how, row.label, inferred ? "only in the inferred graph" : null]),
        id: edgeId(row), from: row.from, to: row.to, fact: row.fact, kind: row.kind,
        status: row.status, statusKey: key, statusLabel: row.statusLabel, inferred,
        start: span ? span[0] : null, end: span ? span[1] : null, via: row.via || null,
        viaLabel: row.viaLabel || null, derivations: row.derivations ? parseInt(row.derivations, 10) : 1,
        factLabel: row.label || null,
        color: { color: colour, highlight: "#111", hover: colour, opacity: inferred ? 0.75 : 0.9 },
        dashes: inferred ? DASHES : false, width: (WIDTH[key] || 2) * (inferred ? 0.6 : 1), smooth,
        arrows: kind.arrows ? { to: { enabled: true, scaleFactor: 0.6 } } : undefined,
        label: key === "officiallyDenied" ? "denied" : undefined,
        font: { size: 10, color: "#b3261e", strokeWidth: 3, align: "middle" },
        hidden: false,
      };
    });
  }

  function shade(hex) {
    const n = parseInt(hex.slice(1), 16);
    const f = (c) => Math.max(0, Math.round(c * 0.7));
    return "#" + [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => f(c).toString(16).padStart(2, "0")).join("");
  }

  function tooltip(lines) {
    const box = V.el("div", { className: "tip" });
    lines.filter((line) => line).forEach((line, i) => box.append(V.el(i ? "div" : "strong", {}, line)));
    return box;
  }

  /* ------------------------------------------------------------------ filtering */

  function edgeVisible(edge) {
    if (!state.statusOn.has(edge.status) || !state.kindOn.has(edge.kind)) return false;
    if (edge.start === null) return state.undated;
    return edge.start <= state.to && edge.end >= state.from;
  }

  function applyFilters() {
    const edgeUpdates = [], ends = new Set();
    state.edges.forEach((edge) => {
      const show = edgeVisible(edge);
      if (show) { ends.add(edge.from); ends.add(edge.to); }
      if (edge.hidden === show) edgeUpdates.push({ id: edge.id, hidden: !show });
    });
    const nodeUpdates = [];
    state.nodes.forEach((node) => {
      const show = ends.has(node.id) || state.isolated;
      if (node.hidden === show) nodeUpdates.push({ id: node.id, hidden: !show });
    });
    state.nodes.update(nodeUpdates);
    state.edges.update(edgeUpdates);
    summarise();
    listDrawn();
  }

  function visibleIds(dataset) {
    return dataset.getIds({ filter: (item) => !item.hidden });
  }

  function summarise() {
    const nodes = visibleIds(state.nodes).length, edges = visibleIds(state.edges).length;
    document.getElementById("network-summary").textContent =
      `Showing ${nodes} of ${state.nodes.length} actors and ${edges} of ${state.edges.length} links.`;
  }

  /* The drawing as text (for screen readers and for copying): the actors and the links that are
     drawn now, read from the same data sets as the drawing, rebuilt whenever a filter changes. */
  function listDrawn() {
    const nodes = state.nodes.get({ filter: (n) => !n.hidden })
      .sort((a, b) => a.label.localeCompare(b.label));
    const label = (id) => { const n = state.nodes.get(id); return n ? n.label : id; };
    const edges = state.edges.get({ filter: (e) => !e.hidden })
      .map((e) => ({ e, from: label(e.from), to: label(e.to), kind: KIND[e.kind] || { label: e.kind } }))
      .sort((a, b) => a.from.localeCompare(b.from) || a.kind.label.localeCompare(b.kind.label)
                      || a.to.localeCompare(b.to));
    const cell = (...content) => V.el("td", {}, ...content);
    const page = (id, text) => V.el("a", { href: V.localPath(id) }, text);
    document.getElementById("list-nodes").replaceChildren(...nodes.map((n) =>
      V.el("tr", { "data-id": n.id }, cell(page(n.id, n.label)), cell(n.kindLabel || ""))));
    document.getElementById("list-edges").replaceChildren(...edges.map(({ e, from, to, kind }) =>
      V.el("tr", { "data-id": e.id }, cell(page(e.from, from)),
           cell(page(e.fact, kind.label + (kind.arrows ? " →" : ""))), cell(page(e.to, to)),
           cell(e.statusLabel || ""), cell(V.years(e.start, e.end)),
           cell(e.inferred ? "inferred" : "asserted"))));
    document.getElementById("list-count").textContent =
      `(${nodes.length} actor${nodes.length === 1 ? "" : "s"}, ${edges.length} link${edges.length === 1 ? "" : "s"})`;
  }

  /* ------------------------------------------------------------------ controls */

  function buildControls(nodeRows, edgeRows) {
    const counts = {};
    for (const row of edgeRows) counts[row.status] = (counts[row.status] || 0) + 1;
    state.statusOn = V.statusFilter(document.getElementById("status-filter"), counts, (ticked) => {
      state.statusOn = ticked;
      applyFilters();
    });

    const spans = state.edges.get().filter((e) => e.start !== null);
    const years = spans.flatMap((e) => [e.start, e.end]).filter((y) => y !== Infinity);
    const lowest = Math.min(...years), highest = Math.max(...years);
    state.from = lowest; state.to = highest;
    const from = document.getElementById("year-from"), to = document.getElementById("year-to");
    for (const input of [from, to]) { input.min = lowest; input.max = highest; }
    from.value = lowest; to.value = highest;
    const period = () => {
      const a = parseInt(from.value, 10), b = parseInt(to.value, 10);
      state.from = Number.isNaN(a) ? -Infinity : a;
      state.to = Number.isNaN(b) ? Infinity : b;
      applyFilters();
    };
    from.addEventListener("input", period);
    to.addEventListener("input", period);
    const undated = document.getElementById("include-undated");
    undated.addEventListener("change", () => { state.undated = undated.checked; applyFilters(); });
    const isolated = document.getElementById("show-isolated");
    isolated.addEventListener("change", () => { state.isolated = isolated.checked; applyFilters(); });

    const kindCounts = {};
    for (const row of edgeRows) kindCounts[row.kind] = (kindCounts[row.kind] || 0) + 1;
    const legend = document.getElementById("edge-legend");
    for (const k of EDGE_KINDS) {
      state.kindOn.add(k.kind);
      const box = V.el("input", { type: "checkbox", name: "kind", value: k.kind, checked: true });
      box.addEventListener("change", () => {
        if (box.checked) state.kindOn.add(k.kind); else state.kindOn.delete(k.kind);
        applyFilters();
      });
      legend.append(V.el("label", { className: "check" + (k.inferred ? " inferred-kind" : "") },
        box, lineSample(k), k.label, " ", V.el("span", { className: "count" }, String(kindCounts[k.kind] || 0))));
    }
    document.getElementById("inferred-sample").replaceChildren(
      lineSample({ colour: INFERRED_COLOUR, inferred: true }));
    const nodeLegend = document.getElementById("node-legend");
    const nodeCounts = {};
    for (const row of nodeRows) nodeCounts[row.kind] = (nodeCounts[row.kind] || 0) + 1;
    for (const [iri, look] of Object.entries(NODE_KINDS)) {
      if (!nodeCounts[iri]) continue;
      nodeLegend.append(V.el("div", { className: "legend-item" }, nodeSample(look), look.label, " ",
                             V.el("span", { className: "count" }, String(nodeCounts[iri]))));
    }
    document.getElementById("fit").addEventListener("click", () =>
      state.network.fit({ nodes: visibleIds(state.nodes), animation: false }));
  }

  function lineSample(k) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", "34"); svg.setAttribute("height", "10"); svg.setAttribute("class", "sample");
    const line = document.createElementNS(ns, "line");
    line.setAttribute("x1", "1"); line.setAttribute("y1", "5"); line.setAttribute("x2", k.arrows ? "27" : "33");
    line.setAttribute("y2", "5"); line.setAttribute("stroke", k.colour); line.setAttribute("stroke-width", "2.5");
    if (k.inferred) line.setAttribute("stroke-dasharray", "5 3");
    svg.append(line);
    if (k.arrows) {
      const head = document.createElementNS(ns, "path");
      head.setAttribute("d", "M26 1 L33 5 L26 9 Z"); head.setAttribute("fill", k.colour);
      svg.append(head);
    }
    return svg;
  }

  function nodeSample(look) {
    return V.el("span", { className: "node-sample shape-" + look.shape, style: "--c:" + look.colour });
  }

  /* ------------------------------------------------------------------ details */

  function nodeLink(id) {
    const node = state.nodes.get(id);
    return V.el("a", { href: V.localPath(id) }, node ? node.label : id);
  }

  function showNode(id) {
    const node = state.nodes.get(id);
    const links = state.edges.get({ filter: (e) => !e.hidden && (e.from === id || e.to === id) });
    const panel = document.getElementById("details");
    panel.replaceChildren(
      V.el("h2", {}, node.label),
      V.el("p", { className: "types" }, node.kindLabel),
      V.el("p", {}, V.el("a", { className: "open-page", href: V.localPath(id) }, "Open its page")),
      V.el("p", { className: "note" }, `${links.length} visible link${links.length === 1 ? "" : "s"}; ` +
           "double-click an actor or a link to go to its page."),
    );
  }

  function showEdge(id) {
    const edge = state.edges.get(id);
    const kind = KIND[edge.kind] || { label: edge.kind };
    const panel = document.getElementById("details");
    const arrow = kind.arrows ? " → " : " — ";
    const parts = [
      V.el("h2", {}, kind.label),
      V.el("p", {}, nodeLink(edge.from), arrow, nodeLink(edge.to)),
      V.el("p", {}, V.statusBadge(edge.statusKey, edge.statusLabel), " ",
           V.el("span", { className: "years" }, V.years(edge.start, edge.end))),
      V.el("p", {}, edge.inferred ? "Derived relation: " : "Fact: ",
           V.el("a", { className: "open-page", href: V.localPath(edge.fact) },
                edge.factLabel || V.localPath(edge.fact))),
    ];
    if (edge.viaLabel) parts.push(V.el("p", {}, "via ", nodeLink(edge.via)));
    if (edge.inferred) {
      const note = edge.derivations > 1 ? `${edge.derivations} derivations with this status; one is linked above. ` : "";
      parts.push(V.el("p", { className: "note inferred" },
        "Only in the inferred graph, drawn by the reasoner. " + note));
      if (kind.property) {
        const why = "/why?" + new URLSearchParams({ s: edge.from, p: TDKG + kind.property, o: edge.to });
        parts.push(V.el("p", {}, V.el("a", { className: "why", href: why }, "Why? (the derivation)")));
      }
    }
    panel.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ drawing */

  function placeIsolated() {
    const positions = state.network.getPositions(state.nodes.getIds({ filter: (n) => !n.isolated }));
    const xs = Object.values(positions).map((p) => p.x), ys = Object.values(positions).map((p) => p.y);
    const left = Math.min(...xs), right = Math.max(...xs), bottom = Math.max(...ys);
    const perRow = Math.max(4, Math.floor((right - left) / 120) + 1);
    state.nodes.get({ filter: (n) => n.isolated }).forEach((node, i) => {
      state.network.moveNode(node.id, left + (i % perRow) * 120, bottom + 140 + Math.floor(i / perRow) * 80);
    });
  }

  async function main() {
    const queries = V.readJSON("tdkg-queries");
    const status = document.getElementById("network-status");
    const [nodeRows, edgeRows] = (await Promise.all([V.select(queries["network-nodes"]),
                                                     V.select(queries["network-edges"])]))
      .map(V.shortenLabels);
    const degree = new Map();
    for (const row of edgeRows) for (const end of [row.from, row.to]) degree.set(end, (degree.get(end) || 0) + 1);
    state.nodeRows = nodeRows;
    state.edgeRows = edgeRows;
    state.nodes = new vis.DataSet(makeNodes(nodeRows, degree));
    state.edges = new vis.DataSet(makeEdges(edgeRows, new Map(nodeRows.map((r) => [r.node, r.label]))));
    buildControls(nodeRows, edgeRows);
    status.textContent = "Laying out the network…";
    const container = document.getElementById("network");
    state.network = new vis.Network(container, {}, {
      nodes: {
        font: { size: 22, face: "system-ui, sans-serif", color: "#1d2330", strokeWidth: 3, strokeColor: "#ffffff" },
        scaling: { min: 8, max: 30, label: { enabled: true, min: 22, max: 34, drawThreshold: 4 } },
        borderWidth: 1.5, widthConstraint: { maximum: 170 },
      },
      edges: { selectionWidth: 2, hoverWidth: 1, smooth: { enabled: false } },
      interaction: { hover: true, tooltipDelay: 150, navigationButtons: false, keyboard: false },
      physics: {
        solver: "forceAtlas2Based",
        forceAtlas2Based: { gravitationalConstant: -200, centralGravity: 0.03, springLength: 110,
                            springConstant: 0.04, avoidOverlap: 1 },
        stabilization: { enabled: true, iterations: 300, updateInterval: 100, fit: true },
      },
      layout: { randomSeed: 7, improvedLayout: true },
    });
    state.network.on("click", (params) => {
      if (params.nodes.length) showNode(params.nodes[0]);
      else if (params.edges.length) showEdge(params.edges[0]);
    });
    state.network.on("doubleClick", (params) => {
      const target = params.nodes.length ? params.nodes[0]
        : (params.edges.length ? state.edges.get(params.edges[0]).fact : null);
      if (target) window.location.href = V.localPath(target);
    });
    const stabilised = new Promise((resolve) => state.network.once("stabilizationIterationsDone", resolve));
    state.network.setData({ nodes: state.nodes, edges: state.edges });
    await stabilised;
    state.network.setOptions({ physics: { enabled: false } });
    placeIsolated();
    applyFilters();
    state.network.fit({ nodes: visibleIds(state.nodes), animation: false });
    status.textContent = "";
    state.ready = true;
    container.dataset.ready = "true";
  }

  main().catch((err) => {
    state.error = String(err);
    document.getElementById("network-status").textContent = "Could not draw the network: " + err.message;
    console.error(err);
  });
})();
