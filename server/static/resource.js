/* Resource pages: what the script adds to a page that works without it. It draws the resource's
   direct ties (the list in #ties-list, as JSON in #resource-ties) with vis-network, the network
   view's library, limited to this resource and its closest ties; adds "open all" / "close all"
   buttons to the fact groups; and opens the group a link (#supplies) points at.
   window.tdkgResource exposes the drawn data sets (for the tests). */
(function () {
  "use strict";
  const state = { ready: false, error: null };
  window.tdkgResource = state;

  /* the colour of a group's links; the network view's colours where the kinds match */
  const GROUP_COLOURS = {
    "Supplies": "#8a1c1c", "Acquires and receives": "#d9534f", "Partnerships": "#2e7d32",
    "Agreements signed": "#b8741a", "Memberships": "#6a3d9a", "Members": "#6a3d9a",
    "Rivalries and tensions": "#c2185b", "Support given": "#00838f", "Support received": "#4db6ac",
    "Production": "#795548", "Home state of these companies": "#9aa0a6", "Home state": "#9aa0a6",
    "The system concerned": "#f4b400", "Intentions": "#7e8c2a", "Offices": "#5d6d7e",
  };
  const OTHER_COLOUR = "#8d8d8d";
  const PHONE_TIES = 10;
  const INFERRED_COLOUR = "#5c6bc0";

  function localPath(iri) {
    const base = "https://w3id.org/tdkg/";
    return iri.startsWith(base) ? "/" + iri.slice(base.length) : iri;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "className") node.className = v; else node.setAttribute(k, v); });
    children.forEach((c) => node.append(c));
    return node;
  }

  /* ------------------------------------------------------------------ groups */

  function groupButtons() {
    const holder = document.querySelector(".group-buttons");
    if (!holder) return;
    const all = () => document.querySelectorAll("section.facts details, section.inferred-facts details");
    const open = el("button", { type: "button", className: "open-all" }, "Open all groups");
    const close = el("button", { type: "button", className: "close-all" }, "Close all");
    open.addEventListener("click", () => all().forEach((d) => { d.open = true; }));
    close.addEventListener("click", () => all().forEach((d) => { d.open = false; }));
    holder.append(open, close);
  }

  function openTarget() {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      target.scrollIntoView({ block: "start" });
    }
  }

  /* ------------------------------------------------------------------ the ties */

  function mainGroup(peer) {
    return peer.links.length ? peer.links[0][0] : null;
  }

  function drawTies() {
    const data = document.getElementById("resource-ties");
    const container = document.getElementById("ties-network");
    if (!data || !container) return;
    if (!window.vis) {           // the library is loaded after the page is shown, then drawn
      const script = document.createElement("script");
      script.src = container.dataset.library;
      script.addEventListener("load", () => {
        try { drawTies(); } catch (err) { fail(err); }
      });
      script.addEventListener("error", () => fail(new Error("could not load " + script.src)));
      document.head.append(script);
      return;
    }
    const ties = JSON.parse(data.textContent);
    if (container.parentElement.clientWidth < 560 && ties.peers.length > PHONE_TIES) {
      ties.peers = ties.peers.slice(0, PHONE_TIES);       // a phone: the closest only, readable
      const drawn = document.querySelector(".ties .drawn-count");
      if (drawn) drawn.textContent = String(PHONE_TIES);
    }
    const short = (text) => (text.length > 40 ? text.slice(0, 39) + "…" : text);
    if (ties.peers.length <= 5) container.classList.add("few");
    const nodes = [{ id: ties.focus, label: short(ties.label), title: ties.label, shape: "dot", size: 22, fixed: true, x: 0, y: 0,
                     color: { background: "#1d2330", border: "#000" },
                     font: { size: 18, face: "system-ui, sans-serif", color: "#1d2330", strokeWidth: 4,
                             strokeColor: "#fff" } }];
    const edges = [];
    const used = new Map();
    for (const peer of ties.peers) {
      const group = mainGroup(peer);
      const colour = group ? (GROUP_COLOURS[peer.family] || OTHER_COLOUR) : INFERRED_COLOUR;
      const facts = peer.facts;
      nodes.push({ id: peer.id, label: short(peer.label),
                   shape: "dot", size: 8 + Math.min(12, 3 * Math.sqrt(facts + peer.inferred.length)),
                   color: { background: colour, border: "#333" },
                   title: peer.label });
      const how = peer.links.map(([t, n]) => `${t} (${n})`)
        .concat(peer.inferred.map(([name]) => name + " (inferred)")).join("; ");
      edges.push({ id: peer.id, from: ties.focus, to: peer.id, title: how,
                   color: { color: colour, opacity: 0.85 }, width: group ? 1 + Math.min(5, Math.sqrt(facts)) : 1.5,
                   dashes: group ? false : [6, 4] });
      used.set(group ? group : "inferred only", group ? colour : INFERRED_COLOUR);
    }
    /* a star: the resource in the middle, its ties around it on one ring (the ten closest on an
       inner ring when there are many), closest first from the top, clockwise; no physics */
    const inner = ties.peers.length > 12 ? 10 : ties.peers.length;
    nodes.slice(1).forEach((node, i) => {
      const outer = i >= inner;
      const count = outer ? ties.peers.length - inner : inner;
      const k = outer ? i - inner : i;
      const angle = -Math.PI / 2 + 2 * Math.PI * k / count + (outer ? Math.PI / count : 0);
      const radius = outer ? 440 : 230;
      node.x = Math.round(radius * Math.cos(angle));
      node.y = Math.round(radius * Math.sin(angle) * 0.6);
    });
    state.nodes = new vis.DataSet(nodes);
    state.edges = new vis.DataSet(edges);
    container.hidden = false;
    const legend = document.getElementById("ties-legend");
    legend.hidden = false;
    legend.replaceChildren(...[...used.entries()].map(([name, colour]) =>
      el("span", {}, el("span", { className: "sample" + (name === "inferred only" ? " dashed" : ""),
                                  style: "border-color:" + colour }),
         name === "inferred only" ? "only inferred relations" : "main tie: " + name)));
    state.network = new vis.Network(container, { nodes: state.nodes, edges: state.edges }, {
      nodes: { font: { size: 16, face: "system-ui, sans-serif", color: "#1d2330", strokeWidth: 3,
                       strokeColor: "#fff" }, borderWidth: 1 },
      edges: { smooth: false, hoverWidth: 1 },
      interaction: { hover: true, tooltipDelay: 120, keyboard: false, zoomView: false },
      physics: { enabled: false },
      layout: { randomSeed: 3, improvedLayout: false },
    });
    state.network.once("afterDrawing", () => {
      performance.mark("tdkg-ties-drawn");
      state.ready = true;
      container.dataset.ready = "true";
    });
    state.network.fit({ animation: false });
    state.network.on("doubleClick", (params) => {
      if (params.nodes.length && params.nodes[0] !== ties.focus) window.location.href = localPath(params.nodes[0]);
    });
    state.network.on("click", (params) => {
      if (!params.nodes.length || params.nodes[0] === ties.focus) return;
      const row = document.querySelector(`#ties-list tr[data-id="${CSS.escape(params.nodes[0])}"]`);
      if (row) {
        document.getElementById("ties-list").open = true;
        document.querySelectorAll("#ties-list tr.picked").forEach((r) => r.classList.remove("picked"));
        row.classList.add("picked");
        row.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function fail(err) {
    state.error = String(err);
    console.error(err);
  }

  function main() {
    groupButtons();
    openTarget();
    window.addEventListener("hashchange", openTarget);
    try {
      drawTies();
    } catch (err) {
      fail(err);
    }
    if (!document.getElementById("resource-ties") || state.error) {
      performance.mark("tdkg-ties-drawn");
      state.ready = true;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
