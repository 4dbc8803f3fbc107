// lakemetrics dashboard: live charts from the registry's ring history, drawn as
// plain SVG. No external script, font or style: it works with no network.
//
// Every piece of metric data (names, label values, help texts) reaches the page
// through textContent or a numeric SVG attribute, never parsed as HTML, so no
// value can inject markup; the page's Content-Security-Policy allows no inline
// script besides.
(function () {
  'use strict';

  var WINDOW_MS = 5 * 60 * 1000;
  var REFRESH_MS = 1000;
  var SVGNS = 'http://www.w3.org/2000/svg';
  var MIN_SPAN_MS = 30 * 1000;
  var W = 300, H = 120, PAD_L = 38, PAD_B = 14, PAD_T = 6, PAD_R = 4;
  var QUANTILES = [0.5, 0.9, 0.99];
  var QUANTILE_NAMES = ['p50', 'p90', 'p99'];
  var SUFFIX = { batches: 'batches_total', duration: 'batch_duration_seconds', records: 'records_total' };

  var cards = new Map(); // handler key -> {root, charts}
  var updates = 0;
  var filterText = '';
  var lastFamilies = [];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  function num(v) {
    // JSON carries NaN and infinities as strings.
    return typeof v === 'number' ? v : Number(v);
  }

  async function getJSON(url) {
    var resp = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!resp.ok) {
      var msg = resp.status + ' ' + resp.statusText;
      try { var body = await resp.json(); if (body && body.message) msg += ': ' + body.message; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return resp.json();
  }

  function setStatus(text, isError) {
    var s = document.getElementById('status');
    s.textContent = text;
    s.className = isError ? 'error' : '';
  }

  // ---- families table -------------------------------------------------------

  function renderTable(families) {
    lastFamilies = families;
    var tbody = document.querySelector('#families tbody');
    var rows = document.createDocumentFragment();
    var shown = 0;
    families.forEach(function (f) {
      if (filterText && String(f.name).indexOf(filterText) < 0) return;
      shown++;
      var tr = el('tr');
      tr.appendChild(el('td', 'name', f.name));
      tr.appendChild(el('td', '', f.kind));
      tr.appendChild(el('td', 'num', String(f.series)));
      tr.appendChild(el('td', '', f.unit === null ? '' : f.unit));
      tr.appendChild(el('td', 'num', formatDuration(f.resolution_ms)));
      tr.appendChild(el('td', '', f.help));
      rows.appendChild(tr);
    });
    tbody.replaceChildren(rows);
    document.getElementById('family-count').textContent =
      shown === families.length ? families.length + ' families' : shown + ' of ' + families.length + ' families';
  }

  function formatDuration(ms) {
    ms = num(ms);
    if (ms >= 60000 && ms % 60000 === 0) return ms / 60000 + ' min';
    if (ms >= 1000) return ms / 1000 + ' s';
    return ms + ' ms';
  }

  // ---- handler model ----------------------------------------------------------

  // Handler families are found by their suffix, so any prefix works
  // (`ingest_` by default): a counter `<prefix>batches_total` names one.
  function prefixes(families) {
    var out = [];
    families.forEach(function (f) {
      var n = String(f.name);
      if (f.kind === 'counter' && n.length >= SUFFIX.batches.length &&
          n.slice(n.length - SUFFIX.batches.length) === SUFFIX.batches) {
        out.push(n.slice(0, n.length - SUFFIX.batches.length));
      }
    });
    return out;
  }

  function handlerOf(labels) {
    return labels && typeof labels.handler === 'string' ? labels.handler : null;
  }

  // A series' history is columns: value i of each covers the epoch starting
  // at history.start_ms + i * resolution_ms, up to the current epoch.
  function epochStart(h, i, widthMs) {
    return num(h.start_ms) + i * widthMs;
  }

  // Where a series' data begins: its first epoch, or its creation if later.
  // null when the response holds no epoch of it.
  function dataStart(s, h, column) {
    if (!h || !h[column] || !h[column].length || h.start_ms === null) return null;
    return Math.max(num(h.start_ms), num(s.created_ms));
  }

  // Per-epoch points of the rate of a counter's history: increase over the
  // time the epoch covered (from the series' creation, if later, up to now).
  // The current epoch is left out until half of it has passed (its rate would
  // read far too low or too noisy), unless it is the only one.
  function epochs(s, widthMs, nowMs) {
    var m = new Map();
    var h = s.history;
    var inc = (h && h.increase) || [];
    var created = num(s.created_ms);
    inc.forEach(function (v, i) {
      var start = epochStart(h, i, widthMs);
      var elapsed = Math.min(start + widthMs, nowMs) - Math.max(start, created);
      if (elapsed < widthMs / 2 && inc.length > 1) return;
      m.set(start, { inc: num(v), secs: Math.max(elapsed, 1) / 1000 });
    });
    return m;
  }

  // Widens a chart's coverage to a series' data: {start, end, width}, from
  // the data received (not from the range the page asked for).
  function cover(c, start, endMs, widthMs) {
    if (start === null) return c;
    if (!c) return { start: start, end: endMs, width: widthMs };
    return { start: Math.min(c.start, start), end: Math.max(c.end, endMs), width: Math.max(c.width, widthMs) };
  }

  function histogramQuantile(q, bounds, cum) {
    var total = num(cum[cum.length - 1]);
    if (!(total > 0)) return NaN;
    var rank = q * total;
    var i = 0;
    while (i < cum.length && num(cum[i]) < rank) i++;
    if (i >= bounds.length) return bounds.length ? num(bounds[bounds.length - 1]) : NaN;
    var lo = i === 0 ? Math.min(0, num(bounds[0])) : num(bounds[i - 1]);
    var hi = num(bounds[i]);
    var below = i === 0 ? 0 : num(cum[i - 1]);
    var inBucket = num(cum[i]) - below;
    if (inBucket <= 0) return hi;
    return lo + (hi - lo) * (rank - below) / inBucket;
  }

  function buildModel(data, prefix, model) {
    var nowMs = num(data.timestamp_ms);
    (data.families || []).forEach(function (fam) {
      var name = String(fam.name);
      var width = num(fam.resolution_ms);
      (fam.series || []).forEach(function (s) {
        var h = handlerOf(s.labels);
        if (h === null) return;
        var key = prefix + '\u0000' + h;
        var m = model.get(key);
        if (!m) {
          m = {
            prefix: prefix, handler: h, total: new Map(), failed: new Map(), records: new Map(), latency: [],
            cover: { batches: null, records: null, latency: null }
          };
          model.set(key, m);
        }
        if (name === prefix + SUFFIX.batches) {
          m.cover.batches = cover(m.cover.batches, dataStart(s, s.history, 'increase'), nowMs, width);
          epochs(s, width, nowMs).forEach(function (v, start) {
            var t = m.total.get(start) || { inc: 0, secs: v.secs };
            t.inc += v.inc;
            m.total.set(start, t);
            if (s.labels.outcome === 'failure') {
              var f = m.failed.get(start) || { inc: 0, secs: v.secs };
              f.inc += v.inc;
              m.failed.set(start, f);
            }
          });
        } else if (name === prefix + SUFFIX.records) {
          m.cover.records = cover(m.cover.records, dataStart(s, s.history, 'increase'), nowMs, width);
          epochs(s, width, nowMs).forEach(function (v, start) {
            m.records.set(start, v);
          });
        } else if (name === prefix + SUFFIX.duration) {
          var bounds = fam.bounds || [];
          var hist = s.history;
          m.cover.latency = cover(m.cover.latency, dataStart(s, hist, 'buckets'), nowMs, width);
          ((hist && hist.buckets) || []).forEach(function (buckets, i) {
            var start = epochStart(hist, i, width);
            var at = Math.min(start + width, nowMs);
            // Epochs without observations have no quantiles: nothing to draw.
            if (!(num(hist.count[i]) > 0)) return;
            m.latency.push({
              t: at,
              q: QUANTILES.map(function (q) { return histogramQuantile(q, bounds, buckets || []) * 1000; })
            });
          });
        }
      });
    });
    model.forEach(function (m) { m.now = nowMs; });
  }

  function sortedPoints(map, f) {
    var out = [];
    map.forEach(function (v, start) {
      var y = f(v, start);
      if (isFinite(y)) out.push({ t: start + v.secs * 1000, y: y });
    });
    out.sort(function (a, b) { return a.t - b.t; });
    return out;
  }

  // ---- charts -----------------------------------------------------------------

  function niceMax(v) {
    if (!(v > 0) || !isFinite(v)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (v <= steps[i] * p) return steps[i] * p;
    return 10 * p;
  }

  function fmt(v, unit) {
    if (!isFinite(v)) return '–';
    var a = Math.abs(v);
    var s = a >= 1e6 ? (v / 1e6).toFixed(1) + 'M' : a >= 1e4 ? (v / 1e3).toFixed(1) + 'k'
      : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
    return s + (unit || '');
  }

  function makeChart(title) {
    var box = el('div', 'chart-box');
    box.appendChild(el('div', 'chart-title', title));
    var s = svg('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img' });
    s.setAttribute('aria-label', title);
    box.appendChild(s);
    var legend = el('div', 'legend');
    box.appendChild(legend);
    var span = el('div', 'chart-span');
    box.appendChild(span);
    return { box: box, svg: s, legend: legend, span: span };
  }

  function clock(ms) {
    var d = new Date(ms);
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function spanText(ms) {
    var s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    return m + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
  }

  // States under a chart the time its data covers, as the server's answer
  // says it (the history's first epoch, or the series' creation if later, to
  // the time of the answer), which may be less than the page asked for.
  function showSpan(chart, c) {
    var e = chart.span;
    if (!c) {
      e.textContent = 'no data';
      e.removeAttribute('data-start-ms');
      e.removeAttribute('data-end-ms');
      return;
    }
    e.textContent = 'data ' + clock(c.start) + '–' + clock(c.end) + ' (' + spanText(c.end - c.start) +
      ', ' + formatDuration(c.width) + ' epochs)';
    e.setAttribute('data-start-ms', String(c.start));
    e.setAttribute('data-end-ms', String(c.end));
  }

  // lines: [{name, points:[{t,y}]}]; c: the span the data covers (see
  // cover). The x domain is [now - span, now]: the data's span, at most
  // WINDOW_MS and at least MIN_SPAN_MS, so that a young process's data fills
  // the chart.
  function drawChart(chart, lines, nowMs, unit, c) {
    var s = chart.svg;
    while (s.firstChild) s.removeChild(s.firstChild);
    var maxY = 0;
    lines.forEach(function (l) { l.points.forEach(function (p) { if (p.y > maxY) maxY = p.y; }); });
    maxY = niceMax(maxY);
    var oldest = c ? c.start : nowMs;
    var span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, nowMs - oldest));
    var x0 = nowMs - span;
    // Data older than the chart's domain (part of an epoch that began before
    // it) is not drawn: the caption says what the chart shows.
    showSpan(chart, c && { start: Math.max(c.start, x0), end: c.end, width: c.width });
    var pw = W - PAD_L - PAD_R, ph = H - PAD_T - PAD_B;
    var X = function (t) { return PAD_L + Math.max(0, Math.min(1, (t - x0) / span)) * pw; };
    var Y = function (y) { return PAD_T + (1 - Math.max(0, Math.min(1, y / maxY))) * ph; };
    s.appendChild(svg('rect', { 'class': 'frame', x: PAD_L, y: PAD_T, width: pw, height: ph }));
    var top = svg('text', { 'class': 'axis', x: PAD_L - 3, y: PAD_T + 8, 'text-anchor': 'end' });
    top.textContent = fmt(maxY, unit);
    s.appendChild(top);
    var zero = svg('text', { 'class': 'axis', x: PAD_L - 3, y: PAD_T + ph, 'text-anchor': 'end' });
    zero.textContent = '0';
    s.appendChild(zero);
    var left = svg('text', { 'class': 'axis', x: PAD_L, y: H - 2 });
    left.textContent = span >= 60000 ? '-' + (span / 60000).toFixed(1).replace(/\.0$/, '') + ' min' : '-' + Math.round(span / 1000) + ' s';
    s.appendChild(left);
    var right = svg('text', { 'class': 'axis', x: W - PAD_R, y: H - 2, 'text-anchor': 'end' });
    right.textContent = 'now';
    s.appendChild(right);
    var total = 0;
    var legend = document.createDocumentFragment();
    lines.forEach(function (l, i) {
      var pts = l.points.filter(function (p) { return p.t >= x0 && isFinite(p.y); });
      total += pts.length;
      var line = svg('polyline', {
        'class': 's' + i,
        points: pts.map(function (p) { return X(p.t).toFixed(1) + ',' + Y(p.y).toFixed(1); }).join(' '),
        'data-points': pts.length
      });
      s.appendChild(line);
      // A single point draws no line: mark it.
      if (pts.length === 1) {
        s.appendChild(svg('circle', { 'class': 's' + i, cx: X(pts[0].t), cy: Y(pts[0].y), r: 1.5 }));
      }
      var item = el('span');
      var swatch = el('i', 's' + i);
      item.appendChild(swatch);
      var last = pts.length ? pts[pts.length - 1].y : NaN;
      item.appendChild(document.createTextNode(l.name + ' ' + fmt(last, unit)));
      legend.appendChild(item);
    });
    s.setAttribute('data-points', String(total));
    chart.legend.replaceChildren(legend);
  }

  function card(key, m) {
    var c = cards.get(key);
    if (c) return c;
    var root = el('div', 'handler');
    var title = el('h3');
    title.appendChild(document.createTextNode('handler '));
    var code = el('code', '', m.handler);
    title.appendChild(code);
    if (m.prefix) title.appendChild(el('small', '', '  (' + m.prefix + '*)'));
    root.appendChild(title);
    var charts = el('div', 'charts');
    var c2 = {
      root: root,
      throughput: makeChart('batches per second'),
      records: makeChart('records per second'),
      errors: makeChart('error ratio'),
      latency: makeChart('batch latency (ms)')
    };
    charts.appendChild(c2.throughput.box);
    charts.appendChild(c2.records.box);
    charts.appendChild(c2.errors.box);
    charts.appendChild(c2.latency.box);
    root.appendChild(charts);
    root.setAttribute('data-handler', m.handler);
    document.getElementById('handlers').appendChild(root);
    cards.set(key, c2);
    return c2;
  }

  function renderHandlers(model) {
    var keys = Array.from(model.keys()).sort();
    document.getElementById('no-handlers').hidden = keys.length > 0;
    keys.forEach(function (key) {
      var m = model.get(key);
      var c = card(key, m);
      drawChart(c.throughput, [
        { name: 'batches/s', points: sortedPoints(m.total, function (v) { return v.inc / v.secs; }) }
      ], m.now, '', m.cover.batches);
      drawChart(c.records, [
        { name: 'records/s', points: sortedPoints(m.records, function (v) { return v.inc / v.secs; }) }
      ], m.now, '', m.cover.records);
      var ratio = [];
      m.total.forEach(function (v, start) {
        var f = m.failed.get(start);
        if (v.inc > 0) ratio.push({ t: start + v.secs * 1000, y: 100 * (f ? f.inc : 0) / v.inc });
      });
      ratio.sort(function (a, b) { return a.t - b.t; });
      drawChart(c.errors, [{ name: 'failed', points: ratio }], m.now, '%', m.cover.batches);
      m.latency.sort(function (a, b) { return a.t - b.t; });
      drawChart(c.latency, QUANTILES.map(function (q, i) {
        return {
          name: QUANTILE_NAMES[i],
          points: m.latency.map(function (p) { return { t: p.t, y: p.q[i] }; })
        };
      }), m.now, ' ms', m.cover.latency);
    });
    // Handlers that went away.
    cards.forEach(function (c, key) {
      if (!model.has(key)) { c.root.remove(); cards.delete(key); }
    });
  }

  // ---- refresh loop -------------------------------------------------------------

  async function refresh() {
    var fams = await getJSON('api/v1/families');
    var families = fams.families || [];
    renderTable(families);
    var model = new Map();
    var names = new Set(families.map(function (f) { return String(f.name); }));
    var now = Date.now();
    for (var i = 0; i < prefixes(families).length; i++) {
      var prefix = prefixes(families)[i];
      var q = new URLSearchParams();
      Object.keys(SUFFIX).forEach(function (k) {
        if (names.has(prefix + SUFFIX[k])) q.append('name', prefix + SUFFIX[k]);
      });
      // One range for every chart: the latency histogram's history is asked
      // for over the same five minutes as the counters'.
      q.set('start', String(now - WINDOW_MS) + 'ms');
      buildModel(await getJSON('api/v1/series?' + q.toString()), prefix, model);
    }
    renderHandlers(model);
  }

  async function loop() {
    try {
      await refresh();
      updates++;
      document.body.setAttribute('data-updates', String(updates));
      setStatus('updated ' + new Date().toLocaleTimeString(), false);
    } catch (e) {
      setStatus('update failed: ' + (e && e.message ? e.message : String(e)), true);
    }
    setTimeout(loop, REFRESH_MS);
  }

  function start() {
    var input = document.getElementById('family-filter');
    input.addEventListener('input', function () {
      filterText = input.value;
      renderTable(lastFamilies);
    });
    loop();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
