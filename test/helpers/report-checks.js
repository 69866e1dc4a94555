// Checks run inside the page (plain browser JavaScript, loaded with page.addScriptTag): what a
// person would see, measured from the laid-out page. Each returns a list of problems (empty: fine).
window.hahaChecks = (() => {
  const TOL = 0.5;
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden";
  };
  const name = (el) => {
    const t = (el.textContent || "").trim().slice(0, 60);
    return `<${el.tagName.toLowerCase()}${el.id ? ` id=${el.id}` : ""}${el.className && typeof el.className === "string" ? ` class=${el.className}` : ""}>${t ? ` "${t}"` : ""}`;
  };
  const inside = (a, b) => a.left >= b.left - TOL && a.right <= b.right + TOL && a.top >= b.top - TOL && a.bottom <= b.bottom + TOL;
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > TOL && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > TOL;

  function pairwise(els, what) {
    const out = [];
    const boxes = els.map((e) => [e, e.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        if (overlap(boxes[i][1], boxes[j][1])) out.push(`${what}: ${name(boxes[i][0])} overlaps ${name(boxes[j][0])}`);
      }
    }
    return out;
  }

  /** Text of every label of the visible topology drawing. */
  function topologyLabels() {
    const svg = [...document.querySelectorAll("svg.topology")].find(visible);
    return svg ? [...svg.querySelectorAll("text")].filter(visible).map((t) => t.textContent) : [];
  }

  /** Nothing wider than the window, no element sticking out of it. */
  function overflow() {
    const out = [];
    const root = document.documentElement;
    if (root.scrollWidth > innerWidth) out.push(`document.scrollWidth ${root.scrollWidth} > innerWidth ${innerWidth}`);
    for (const el of document.body.querySelectorAll("*")) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.right > innerWidth + TOL || r.left < -TOL) out.push(`${name(el)} spans x ${r.left.toFixed(1)}..${r.right.toFixed(1)} outside 0..${innerWidth}`);
    }
    return out;
  }

  /** Every SVG label inside its box and clear of every other label; timeline labels likewise. */
  function overlaps() {
    const out = [];
    for (const svg of document.querySelectorAll("svg")) {
      if (!visible(svg)) continue;
      const texts = [...svg.querySelectorAll("text")].filter(visible);
      const svgBox = svg.getBoundingClientRect();
      for (const t of texts) {
        const r = t.getBoundingClientRect();
        const g = t.closest("g[data-box]");
        const rect = g && g.querySelector(":scope > rect");
        if (rect && !inside(r, rect.getBoundingClientRect())) out.push(`${name(t)} leaves its box ${name(g)}`);
        if (!inside(r, svgBox)) out.push(`${name(t)} leaves its drawing`);
      }
      // Boxes nested in one another are fine; siblings must not overlap.
      for (const g of svg.querySelectorAll("g[data-box]")) {
        const kids = [...g.parentElement.children].filter((k) => k !== g && k.matches("g[data-box]"));
        const r = g.querySelector(":scope > rect").getBoundingClientRect();
        for (const k of kids) if (overlap(r, k.querySelector(":scope > rect").getBoundingClientRect())) out.push(`box ${name(g)} overlaps box ${name(k)}`);
      }
      out.push(...pairwise(texts, "label"));
    }
    for (const tl of document.querySelectorAll(".tl")) {
      if (!visible(tl)) continue;
      const box = tl.getBoundingClientRect();
      const labels = [...tl.querySelectorAll("[data-label], .tl-label")].filter(visible);
      for (const l of labels) if (!inside(l.getBoundingClientRect(), box)) out.push(`${name(l)} leaves its timeline ${tl.dataset.timeline}`);
      for (const row of tl.querySelectorAll(".tl-row")) out.push(...pairwise([...row.querySelectorAll("[data-label], .tl-label, .bar")].filter(visible).filter((e) => !e.matches(".bar")), `timeline ${tl.dataset.timeline}`));
    }
    return out;
  }

  const rgb = (s) => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(s);
    return m ? { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] } : undefined;
  };
  const lum = (c) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  /** The first opaque background behind an HTML element. */
  function backgroundOf(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 };
  }

  /** Contrast of every visible label and text against what is behind it. */
  function contrast(min) {
    const out = [];
    let worst = Infinity;
    for (const t of document.querySelectorAll("svg text")) {
      if (!visible(t)) continue;
      const fg = rgb(getComputedStyle(t).fill);
      const g = t.closest("g[data-box]");
      const rect = g && g.querySelector(":scope > rect");
      const bg = (rect && rgb(getComputedStyle(rect).fill)) || backgroundOf(t.closest("svg"));
      const r = ratio(fg, bg);
      worst = Math.min(worst, r);
      if (r < min) out.push(`${name(t)}: contrast ${r.toFixed(2)} < ${min}`);
    }
    for (const el of document.body.querySelectorAll("h1, h2, h3, p, li, span, strong, summary, a, .tl-label")) {
      if (!visible(el) || el.closest("svg") || !(el.textContent || "").trim()) continue;
      const r = ratio(rgb(getComputedStyle(el).color), backgroundOf(el));
      worst = Math.min(worst, r);
      if (r < min) out.push(`${name(el)}: contrast ${r.toFixed(2)} < ${min}`);
    }
    return { problems: out, worst, background: lum(backgroundOf(document.body)) };
  }

  /** Bars of one scenario's timeline, with their labels and widths. */
  function bars(id) {
    const tl = document.querySelector(`.tl[data-timeline="${id}"]`);
    return tl ? [...tl.querySelectorAll(".bar")].filter(visible).map((b) => ({ label: b.dataset.bar, width: b.getBoundingClientRect().width, cls: b.className })) : [];
  }

  function openAll() {
    for (const d of document.querySelectorAll("details")) d.open = true;
  }

  return { topologyLabels, overflow, overlaps, contrast, bars, openAll };
})();
