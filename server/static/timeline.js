/* /timeline: every dated fact, drawn with vis-timeline from the rows of queries/timeline.rq
   (embedded in the page, run at /sparql). One item per row, grouped by the row's ?group (the
   fact's class just below tdkg:Fact), coloured by status. window.tdkgTimeline exposes the data
   sets and the timeline (for the tests). */
(function () {
  "use strict";
  const V = window.tdkgViews;
  const TDKG = V.TDKG;
  /* groups shown first; the others follow in alphabetical order */
  const FIRST_GROUPS = ["Agreement", "Acquisition", "Partnership", "Membership"].map((n) => TDKG + n);
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  const state = { ready: false, error: null, statusOn: new Set() };
  window.tdkgTimeline = state;

  function int(value) {
    return value === undefined || value === "" ? null : parseInt(value, 10);
  }

  function when(row) {
    const year = int(row.year), month = int(row.month), end = int(row.endYear);
    if (end !== null && end !== year) {
      return { type: "range", start: new Date(year, 0, 1), end: new Date(end, 11, 31),
               text: year + "–" + end };
    }
    if (month !== null) {
      return { type: "box", start: new Date(year, month - 1, 15), text: MONTHS[month - 1] + " " + year };
    }
    return { type: "box", start: new Date(year, 6, 1), text: String(year) };
  }

  function escape(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  /* A box near either end of the years stands beside its date, not centred on it, so that the
     window that opens on the first to the last year (with a small margin) shows it whole. */
  function makeItem(row, first, last) {
    const at = when(row);
    const near = Math.max(1, (last - first) * 0.12);
    const key = V.statusKey(row.status);
    const link = V.el("a", { href: V.localPath(row.fact), className: "item-link" }, row.label);
    const item = {
      id: row.fact, group: row.group, content: link, type: at.type, start: at.start,
      className: "st-" + key, status: row.status, statusKey: key, statusLabel: row.statusLabel,
      label: row.label, kind: row.kind, kindLabel: row.kindLabel, when: at.text,
      year: int(row.year), document: row.document,
      title: `<b>${escape(row.label)}</b><br>${escape(row.kindLabel)} · ${escape(row.statusLabel)} · ${escape(at.text)}`,
    };
    if (at.end) item.end = at.end;
    else if (item.year - first < near) item.align = "left";
    else if (last - item.year < near) item.align = "right";
    return item;
  }

  function makeGroups(rows) {
    const groups = new Map();
    for (const row of rows) {
      if (!groups.has(row.group)) groups.set(row.group, { id: row.group, label: row.groupLabel, count: 0 });
      groups.get(row.group).count += 1;
    }
    const sorted = [...groups.values()].sort((a, b) => {
      const ia = FIRST_GROUPS.indexOf(a.id), ib = FIRST_GROUPS.indexOf(b.id);
      if (ia !== ib) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      return a.label.localeCompare(b.label);
    });
    return sorted.map((g, i) => ({ id: g.id, content: capitalise(g.label), order: i, count: g.count,
                                   label: g.label, visible: true }));
  }

  function capitalise(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function applyFilters() {
    state.view.refresh();
    const shown = new Set(state.view.get().map((item) => item.group));
    state.groups.update(state.groups.get().map((g) => ({ id: g.id, visible: shown.has(g.id) })));
    document.getElementById("timeline-summary").textContent =
      `Showing ${state.view.length} of ${state.items.length} dated facts.`;
  }

  function showItem(id) {
    const item = state.items.get(id);
    if (!item) return;
    document.getElementById("details").replaceChildren(
      V.el("h2", {}, V.el("a", { className: "open-page", href: V.localPath(item.id) }, item.label)),
      V.el("p", {}, item.kindLabel, " · ", V.statusBadge(item.statusKey, item.statusLabel), " · ",
           V.el("span", { className: "years" }, item.when), " · stated in ",
           V.el("a", { href: V.localPath(item.document) }, V.localPath(item.document).split("/").pop())),
    );
  }

  async function main() {
    const queries = V.readJSON("tdkg-queries");
    const rows = V.shortenLabels(await V.select(queries["timeline"]));
    state.rows = rows;
    const years = rows.map((r) => int(r.year)).concat(rows.map((r) => int(r.endYear)).filter((y) => y !== null));
    const first = Math.min(...years), last = Math.max(...years);
    state.items = new vis.DataSet(rows.map((row) => makeItem(row, first, last)));
    state.groups = new vis.DataSet(makeGroups(rows));
    const counts = {};
    for (const row of rows) counts[row.status] = (counts[row.status] || 0) + 1;
    state.statusOn = V.statusFilter(document.getElementById("status-filter"), counts, (ticked) => {
      state.statusOn = ticked;
      applyFilters();
    });
    state.view = new vis.DataView(state.items, { filter: (item) => state.statusOn.has(item.status) });
    const legend = document.getElementById("group-legend");
    for (const g of state.groups.get()) {
      legend.append(V.el("div", { className: "legend-item" }, capitalise(g.label), " ",
                         V.el("span", { className: "count" }, String(g.count))));
    }

    const recentFrom = Math.max(first, last - 15);
    // how far the timeline may be dragged beyond the first and last years
    const pad = Math.max(4, Math.round((last - first) * 0.15));
    // it opens on the years that hold facts: 1 January of the first to 31 December of the last,
    // with a small margin either side for the boxes centred on them (a year, or 3 % of the span)
    const margin = Math.max(1, Math.round((last - first) * 0.03));
    const everything = [new Date(first - margin, 0, 1), new Date(last + 1 + margin, 0, 1)];
    const recent = [new Date(recentFrom, 0, 1), new Date(last + 4, 0, 1)];
    const container = document.getElementById("timeline");
    let drawnResolve;
    const drawn = new Promise((resolve) => { drawnResolve = resolve; });
    state.timeline = new vis.Timeline(container, state.view, state.groups, {
      onInitialDrawComplete: () => drawnResolve(),
      stack: true, showCurrentTime: false, selectable: true, groupOrder: "order",
      orientation: { axis: "top", item: "top" },
      margin: { item: { horizontal: 6, vertical: 5 }, axis: 6 },
      min: new Date(first - pad - 1, 0, 1), max: new Date(last + pad + 1, 0, 1),
      start: everything[0], end: everything[1],
      zoomMin: 1000 * 60 * 60 * 24 * 60, zoomMax: 1000 * 60 * 60 * 24 * 365 * 100,
      tooltip: { followMouse: true, overflowMethod: "cap" },
    });
    state.timeline.on("select", (props) => { if (props.items.length) showItem(props.items[0]); });
    state.timeline.on("doubleClick", (props) => {
      if (props.item) window.location.href = V.localPath(props.item);
    });
    document.getElementById("fit").addEventListener("click", () =>
      state.timeline.setWindow(everything[0], everything[1], { animation: false }));
    document.getElementById("recent").addEventListener("click", () =>
      state.timeline.setWindow(recent[0], recent[1], { animation: false }));
    document.getElementById("recent").textContent = recentFrom + " onwards";
    applyFilters();
    state.years = [first, last];
    document.getElementById("timeline-status").textContent =
      `The dated facts run from ${first} to ${last}; scroll to zoom in, or press “${recentFrom} onwards”.`;
    await drawn;
    state.ready = true;
    container.dataset.ready = "true";
  }

  main().catch((err) => {
    state.error = String(err);
    document.getElementById("timeline-status").textContent = "Could not draw the timeline: " + err.message;
    console.error(err);
  });
})();
