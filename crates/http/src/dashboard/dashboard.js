// lakemetrics dashboard: live charts from the registry's ring history, drawn
// with uPlot (vendored, served by this crate: no CDN, no network).
//
// Every piece of metric data (names, label values, help texts) reaches the page
// through textContent (or as numbers drawn on a canvas), never parsed as HTML,
// so no value can inject markup; the page's Content-Security-Policy allows no
// inline script besides.
(function () {
  'use strict';

  var REFRESH_MS = 1000;
  var MIN_SPAN_MS = 30 * 1000;
  var MAX_LINES = 12;
  var QUANTILES = [0.5, 0.9, 0.99];
  var QUANTILE_NAMES = ['p50', 'p90', 'p99'];
  var HIST_QUANTILES = [0.5, 0.9, 0.95, 0.99, 0.999];
  var HIST_SET = [0.5, 0.9, 0.99];
  var SUFFIX = { batches: 'batches_total', duration: 'batch_duration_seconds', records: 'records_total' };
  var PALETTE = ['#2f6fdf', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0c8599', '#c2255c', '#5c940d',
    '#1864ab', '#a61e4d', '#495057', '#9c36b5'];
  var FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

  var state = {
    rangeMs: 300000, // 0: the whole retention
    smoothMs: 5000,
    family: null,
    labelFilter: '',
    quantile: 0.99,
    filterText: ''
  };
  var cards = new Map(); // handler key -> {root, charts}
  var explorerChart = null;
  var updates = 0;
  var lastFamilies = [];
  var familyByName = new Map();
  var allCharts = new Set();

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function num(v) {
    // JSON carries NaN and infinities as strings; gauges' empty epochs as null.
    if (v === null || v === undefined) return NaN;
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

  // ---- numbers and units ------------------------------------------------------

  // A unit: how values and ticks are written. kind 'time' (values in
  // seconds), 'bytes' (binary prefixes), 'percent', or 'si' with a suffix.
  function unitOf(fam, rate) {
    var u = String(fam.unit || '');
    var n = String(fam.name);
    var suffix = rate ? '/s' : '';
    if (u === 'seconds' || /_seconds(_total)?$/.test(n)) return rate ? { kind: 'si', text: 's/s' } : { kind: 'time' };
    if (u === 'bytes' || /_bytes(_total)?$/.test(n)) return { kind: 'bytes', text: suffix };
    return { kind: 'si', text: (u && u !== 'total' ? ' ' + u : '') + suffix };
  }

  var TIME_UNITS = [[1, 's'], [1e-3, 'ms'], [1e-6, 'µs'], [1e-9, 'ns']];
  var SI_UNITS = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k'], [1, '']];
  var BYTE_UNITS = [[1099511627776, 'TiB'], [1073741824, 'GiB'], [1048576, 'MiB'], [1024, 'KiB'], [1, 'B']];

  // The scale and name to write values up to |mag| in.
  function scaleFor(unit, mag) {
    var table = unit.kind === 'time' ? TIME_UNITS : unit.kind === 'bytes' ? BYTE_UNITS
      : unit.kind === 'percent' ? [[1, '%']] : SI_UNITS;
    for (var i = 0; i < table.length; i++) if (mag >= table[i][0]) return table[i];
    return table[table.length - 1];
  }

  function suffix(unit, name) {
    if (unit.kind === 'si') return (name ? ' ' + name : '') + (unit.text || '');
    if (unit.kind === 'percent') return ' %';
    return ' ' + name + (unit.text || '');
  }

  function trimZeros(s) {
    return s.indexOf('.') >= 0 ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
  }

  // One value, exactly enough to read (four significant digits).
  function fmtValue(v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var sc = scaleFor(unit, Math.abs(v));
    var x = v / sc[0];
    var a = Math.abs(x);
    var s = a === 0 ? '0' : a >= 1000 ? x.toFixed(0) : trimZeros(x.toPrecision(4));
    return s + suffix(unit, sc[1]);
  }

  // Axis ticks: one scale for the whole axis, as many decimals as the step
  // between ticks needs.
  function fmtTicks(splits, unit) {
    var mag = 0;
    splits.forEach(function (v) { if (isFinite(v)) mag = Math.max(mag, Math.abs(v)); });
    var sc = scaleFor(unit, mag);
    var step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) / sc[0] : 1;
    var dec = step > 0 ? Math.max(0, Math.min(9, -Math.floor(Math.log10(step) + 1e-9))) : 0;
    return splits.map(function (v) {
      if (v === 0) return '0';
      return (v / sc[0]).toFixed(dec) + suffix(unit, sc[1]);
    });
  }

  // Tick steps in bytes: round in KiB, MiB, GiB.
  var BYTE_INCRS = (function () {
    var out = [];
    [1, 1024, 1048576, 1073741824, 1099511627776].forEach(function (p) {
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].forEach(function (m) { out.push(p * m); });
    });
    return out;
  })();

  function clock(ms) {
    var d = new Date(ms);
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function spanText(ms) {
    var s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m >= 60) return Math.floor(m / 60) + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
    return m + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
  }

  function formatDuration(ms) {
    ms = num(ms);
    if (ms === 0) return 'none';
    if (ms >= 60000 && ms % 60000 === 0) return ms / 60000 + ' min';
    if (ms >= 1000) return ms / 1000 + ' s';
    return ms + ' ms';
  }

  // Labels as PromQL writes them: {a="x", b="y\n"}. Escaped, then shown as
  // text.
  function labelText(labels) {
    var keys = Object.keys(labels || {}).sort();
    if (!keys.length) return '{}';
    return '{' + keys.map(function (k) {
      var v = String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
      return k + '="' + v + '"';
    }).join(', ') + '}';
  }

  // ---- history to points ------------------------------------------------------

  // The epochs of a series' history: value i of each column covers the epoch
  // starting at history.start_ms + i * width. t: where its point is drawn (its
  // end, or now for the current one); cov: the ms of it the series lived.
  function epochsOf(fam, s, now) {
    var h = s.history;
    var width = num(fam.resolution_ms);
    if (!h || h.start_ms === null || !(width > 0)) return [];
    var cols = h.increase || h.count || h.last || [];
    var created = num(s.created_ms);
    var out = [];
    for (var i = 0; i < cols.length; i++) {
      var start = num(h.start_ms) + i * width;
      var t = Math.min(start + width, now);
      out.push({ i: i, start: start, t: t, cov: Math.max(0, t - Math.max(start, created)) });
    }
    return out;
  }

  // Where a series' data begins: its first epoch, or its creation if later.
  function dataStart(s) {
    var h = s.history;
    if (!h || h.start_ms === null) return null;
    return Math.max(num(h.start_ms), num(s.created_ms));
  }

  // The span a chart's data covers, widened by each series: from the data
  // received, not from the range the page asked for.
  function cover(c, s, now, width) {
    var start = dataStart(s);
    if (start === null) return c;
    if (!c) return { start: start, end: now, width: width };
    return { start: Math.min(c.start, start), end: Math.max(c.end, now), width: Math.max(c.width, width) };
  }

  // Sums a column over series, per epoch: Map(start -> {t, cov, v}), v a
  // number or (buckets) an array summed element by element.
  function sumEpochs(fam, list, now, column, into) {
    var m = into || new Map();
    list.forEach(function (s) {
      var col = (s.history && s.history[column]) || [];
      epochsOf(fam, s, now).forEach(function (e) {
        var v = col[e.i];
        var r = m.get(e.start);
        if (!r) { r = { t: e.t, cov: 0, v: Array.isArray(v) ? v.map(function () { return 0; }) : 0 }; m.set(e.start, r); }
        r.cov = Math.max(r.cov, e.cov);
        if (Array.isArray(v)) v.forEach(function (x, j) { r.v[j] += num(x); });
        else r.v += num(v);
      });
    });
    return m;
  }

  // Runs over the epochs of `m` in time order with the sums of the last k
  // (those within k epochs of width): f(sum, cov, t, last) -> y or null.
  function windowed(m, k, width, f) {
    var starts = Array.from(m.keys()).sort(function (a, b) { return a - b; });
    var out = new Map();
    starts.forEach(function (start, idx) {
      var sum = null, cov = 0;
      for (var j = idx; j >= 0 && starts[j] > start - k * width; j--) {
        var r = m.get(starts[j]);
        cov += r.cov;
        if (Array.isArray(r.v)) {
          if (!sum) sum = r.v.map(function () { return 0; });
          r.v.forEach(function (x, n) { sum[n] += x; });
        } else {
          sum = (sum || 0) + r.v;
        }
      }
      // A window that covered less than half an epoch (the current one, just
      // begun, or a series just created) would read far too low or noisy.
      if (cov < width / 2 && starts.length > 1) return;
      var y = f(sum, cov, m.get(start).t);
      if (y !== null && isFinite(y)) out.set(m.get(start).t, y);
    });
    return out;
  }

  function windowEpochs(width) {
    return Math.max(1, Math.round(state.smoothMs / Math.max(width, 1)));
  }

  function rateOf(m, width) {
    return windowed(m, windowEpochs(width), width, function (inc, cov) { return inc / (Math.max(cov, 1) / 1000); });
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

  function quantileOf(m, fam, q) {
    var width = num(fam.resolution_ms);
    var bounds = fam.bounds || [];
    return windowed(m, windowEpochs(width), width, function (buckets) {
      return histogramQuantile(q, bounds, buckets || []);
    });
  }

  // A gauge's value at each epoch: the last one set, carried over epochs in
  // which it was not set; min and max likewise.
  function gaugeLines(fam, s, now) {
    var h = s.history || {};
    var out = { last: new Map(), min: new Map(), max: new Map() };
    var prev = NaN;
    epochsOf(fam, s, now).forEach(function (e) {
      var last = num(h.last && h.last[e.i]);
      var lo = num(h.min && h.min[e.i]);
      var hi = num(h.max && h.max[e.i]);
      if (isNaN(last)) { last = prev; lo = prev; hi = prev; }
      prev = last;
      if (isFinite(last)) out.last.set(e.t, last);
      if (isFinite(lo)) out.min.set(e.t, lo);
      if (isFinite(hi)) out.max.set(e.t, hi);
    });
    return out;
  }

  // A summary's quantile q per epoch. With the server's windowed columns
  // (asked for with quantile_window, see summaryWindowMs), the quantiles over
  // the window ending with each epoch, computed by the server from the
  // summary's sketch; a window that covered less than half an epoch is left
  // out, as for histograms. Without them, the per-epoch quantiles. A native
  // histogram's windowed columns have the same shape (its family's
  // objectives, from the server's native buckets) and are read the same way.
  function summaryLine(fam, s, now, q) {
    var objectives = (fam.objectives || []).map(num);
    var j = objectives.indexOf(q);
    var out = new Map();
    if (j < 0) return out;
    var h = s.history || {};
    var windowed = Array.isArray(h.window_quantiles);
    var col = (windowed ? h.window_quantiles : h.quantiles) || [];
    var width = num(fam.resolution_ms);
    var k = windowed ? Math.max(1, Math.round(num(fam.quantile_window_ms) / Math.max(width, 1))) : 1;
    var epochs = epochsOf(fam, s, now);
    epochs.forEach(function (e, idx) {
      var cov = 0;
      for (var i = idx; i >= 0 && i > idx - k; i--) cov += epochs[i].cov;
      if (cov < width / 2 && epochs.length > 1) return;
      var v = num(col[e.i] && col[e.i][j]);
      if (isFinite(v)) out.set(e.t, v);
    });
    return out;
  }

  // The quantile_window to ask for a summary of epochs of width ms: the
  // sliding window histograms use (windowEpochs whole epochs), in ms.
  function summaryWindowMs(width) {
    return windowEpochs(width) * width;
  }

  // What a summary chart's (or a native histogram's) quantiles are over,
  // from the answer.
  function summaryHow(fam) {
    var width = num(fam.resolution_ms);
    var qw = num(fam.quantile_window_ms);
    if (!(qw > 0) || !(width > 0)) return 'quantiles per epoch, as the summary keeps them';
    var k = Math.max(1, Math.round(qw / width));
    return 'quantiles ' + (k === 1 ? 'per epoch' : 'over ' + spanText(k * width) + ' windows') +
      (fam.kind === 'histogram' ? ', merged from the native buckets' : ', merged from the summary\'s sketch');
  }

  // Whether a histogram family's answer has native windowed quantiles.
  function nativeWindowed(fam) {
    return fam.kind === 'histogram' && fam.quantile_window_ms !== undefined && Array.isArray(fam.objectives);
  }

  // ---- charts -----------------------------------------------------------------

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
  }

  // The y axis as wide as its widest tick label, so none is clipped.
  function axisSize(box) {
    return function (u, values, axisIdx, cycleNum) {
      var axis = u.axes[axisIdx];
      if (cycleNum > 1 && axis._size) return axis._size;
      var widest = 0;
      u.ctx.font = FONT;
      (values || []).forEach(function (v) { widest = Math.max(widest, u.ctx.measureText(String(v)).width); });
      var size = Math.ceil(widest + axis.ticks.size + axis.gap + 6);
      box.setAttribute('data-ylabel-px', String(Math.ceil(widest)));
      box.setAttribute('data-yticks', (values || []).join('|'));
      box.setAttribute('data-yaxis-px', String(size));
      return size;
    };
  }

  // uPlot's time axis templates, in the 24-hour clock and ISO dates the
  // captions and the legend use (14:05, 2026-12-03) rather than 2:05pm, 12/3/26.
  function tpl24(tpl) {
    return tpl.replace('{M}/{D}/{YY}', '{YYYY}-{MM}-{DD}').replace('{M}/{D}', '{MM}-{DD}')
      .replace('{h}:{mm}{aa}', '{HH}:{mm}').replace('{h}{aa}', '{HH}:00').replace('{h}:{mm}', '{HH}:{mm}')
      .replace('{aa}', '');
  }

  // A chart: a title, the uPlot canvas, a legend (text) that shows the values
  // under the crosshair, and a line stating the span its data covers.
  function makeChart(title, height) {
    var box = el('div', 'chart-box');
    var t = el('div', 'chart-title', title);
    box.appendChild(t);
    var plot = el('div', 'plot');
    box.appendChild(plot);
    var legend = el('div', 'legend');
    box.appendChild(legend);
    var note = el('div', 'chart-note');
    note.hidden = true;
    box.appendChild(note);
    var span = el('div', 'chart-span');
    box.appendChild(span);
    var c = { box: box, title: t, plot: plot, legend: legend, note: note, span: span, height: height || 170, u: null, sig: null };
    allCharts.add(c);
    // The canvas follows its box's width (the window's, a scroll bar coming
    // or going, the grid reflowing): the box is sized by the page, never by
    // the canvas, which it clips.
    if (window.ResizeObserver) {
      c.ro = new ResizeObserver(function () { fit(c); });
      c.ro.observe(plot);
    }
    return c;
  }

  function fit(c) {
    var w = Math.max(100, c.plot.clientWidth);
    if (c.u && c.u.width !== w) c.u.setSize({ width: w, height: c.height });
  }

  function destroyChart(c) {
    if (c.ro) c.ro.disconnect();
    if (c.u) c.u.destroy();
    c.u = null;
    c.sig = null;
    allCharts.delete(c);
  }

  // lines: [{name, values: Map(t ms -> y), color?, band?: 'min'|'max',
  // group?: the band's line, quiet?: left out of the legend}]
  function align(lines) {
    var ts = new Set();
    lines.forEach(function (l) { l.values.forEach(function (_, t) { ts.add(t); }); });
    var xs = Array.from(ts).sort(function (a, b) { return a - b; });
    var data = [xs.map(function (t) { return t / 1000; })];
    lines.forEach(function (l) {
      data.push(xs.map(function (t) { var v = l.values.get(t); return v === undefined ? null : v; }));
    });
    return data;
  }

  function createPlot(c, spec) {
    if (c.u) c.u.destroy();
    var muted = cssVar('--muted'), grid = cssVar('--grid');
    var unit = spec.unit;
    var series = [{}];
    var bands = [];
    spec.lines.forEach(function (l, i) {
      var color = l.color || PALETTE[i % PALETTE.length];
      l.color = color;
      series.push({
        label: 'line ' + i, // the legend is ours, written as text
        stroke: l.band ? color + '66' : color,
        width: l.band ? 1 : 1.5,
        points: { show: false },
        spanGaps: false
      });
    });
    // A band between the max and the min lines of each group.
    var groups = new Map();
    spec.lines.forEach(function (l, i) {
      if (!l.band) return;
      var g = groups.get(l.group || 0) || {};
      g[l.band] = i + 1;
      groups.set(l.group || 0, g);
    });
    groups.forEach(function (g) {
      if (g.min && g.max) bands.push({ series: [g.max, g.min], fill: spec.lines[g.max - 1].color + '22' });
    });
    var yAxis = {
      stroke: muted, font: FONT, size: axisSize(c.box),
      grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 },
      values: function (u, splits) { return fmtTicks(splits, unit); }
    };
    if (unit.kind === 'bytes') yAxis.incrs = BYTE_INCRS;
    var opts = {
      fmtDate: function (tpl) { return uPlot.fmtDate(tpl24(tpl)); },
      width: Math.max(100, c.plot.clientWidth),
      height: c.height,
      legend: { show: false },
      padding: [10, 24, 0, 0],
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 6 } },
      series: series,
      bands: bands,
      scales: {
        x: { time: true, range: function () { return [c.xmin / 1000, c.xmax / 1000]; } },
        y: {
          range: function (u, dmin, dmax) {
            if (dmin === null || dmax === null || !isFinite(dmin) || !isFinite(dmax)) return [0, 1];
            var r = uPlot.rangeNum(Math.min(0, dmin), dmax, 0.1, true);
            return r[1] > r[0] ? r : [r[0], r[0] + 1];
          }
        }
      },
      axes: [
        { stroke: muted, font: FONT, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 }, space: 60 },
        yAxis
      ],
      hooks: { setCursor: [function (u) { showLegend(c, u.cursor.idx); }] }
    };
    c.u = new uPlot(opts, c.data, c.plot);
    c.lines = spec.lines;
    c.unit = unit;
  }

  // The legend: each line's name and its value at the crosshair (or its
  // latest value when the pointer is elsewhere), as text.
  function showLegend(c, idx) {
    if (!c.u || !c.lines) return;
    var data = c.u.data;
    var hover = idx !== null && idx !== undefined && data[0] && idx < data[0].length;
    if (!c.items) {
      var frag = document.createDocumentFragment();
      c.when = el('span', 'when');
      frag.appendChild(c.when);
      c.items = c.lines.map(function (l) {
        if (l.quiet) return null;
        var item = el('span', 'item');
        var sw = el('i');
        sw.style.background = l.color;
        item.appendChild(sw);
        item.appendChild(el('span', 'name', l.name));
        var v = el('span', 'value');
        item.appendChild(v);
        frag.appendChild(item);
        return v;
      });
      c.legend.replaceChildren(frag);
    }
    c.when.textContent = hover ? 'at ' + clock(data[0][idx] * 1000) : 'latest';
    c.lines.forEach(function (l, i) {
      var col = data[i + 1] || [];
      var v = null;
      if (hover) v = col[idx];
      else for (var j = col.length - 1; j >= 0; j--) if (col[j] !== null) { v = col[j]; break; }
      if (c.items[i]) c.items[i].textContent = fmtValue(v, c.unit);
    });
  }

  // Draws `spec` ({lines, unit, cover, note}) over the chosen range: the x
  // axis spans the range (the whole retention: the data's span, at least
  // MIN_SPAN_MS), and the line under the chart says what the data covers.
  function render(c, spec, now) {
    var cv = spec.cover;
    if (state.rangeMs > 0) {
      c.xmin = now - state.rangeMs;
    } else {
      c.xmin = cv ? Math.min(cv.start, now - MIN_SPAN_MS) : now - MIN_SPAN_MS;
    }
    c.xmax = now;
    c.data = align(spec.lines);
    var points = 0;
    for (var i = 1; i < c.data.length; i++) c.data[i].forEach(function (v) { if (v !== null) points++; });
    var sig = spec.unit.kind + '|' + (spec.unit.text || '') + '|' + spec.lines.map(function (l) { return l.name + '/' + (l.band || ''); }).join('\u0000');
    if (!c.u || c.sig !== sig) {
      c.sig = sig;
      c.items = null;
      createPlot(c, spec);
    } else {
      c.lines.forEach(function (l, j) { spec.lines[j].color = l.color; });
      c.lines = spec.lines;
      c.u.setData(c.data);
    }
    showLegend(c, c.u.cursor.idx);
    c.box.setAttribute('data-points', String(points));
    c.box.setAttribute('data-lines', String(spec.lines.length));
    c.box.setAttribute('data-range-ms', String(state.rangeMs));
    c.box.setAttribute('data-x-min-ms', String(Math.round(c.xmin)));
    c.box.setAttribute('data-x-max-ms', String(Math.round(c.xmax)));
    c.note.hidden = !spec.note;
    c.note.textContent = spec.note || '';
    showSpan(c, cv, spec.how);
  }

  // States under a chart the time its data covers, as the server's answer
  // says it (the history's first epoch, or the series' creation if later, to
  // the time of the answer), which may be less than the range asked for.
  function showSpan(c, cv, how) {
    var e = c.span;
    var asked = state.rangeMs > 0 ? spanText(state.rangeMs) + ' asked' : 'all retained asked';
    if (!cv) {
      e.textContent = 'no data (' + asked + ')';
      e.removeAttribute('data-start-ms');
      e.removeAttribute('data-end-ms');
      return;
    }
    var start = state.rangeMs > 0 ? Math.max(cv.start, cv.end - state.rangeMs) : cv.start;
    e.textContent = 'data ' + clock(start) + '–' + clock(cv.end) + ' (' + spanText(cv.end - start) +
      ' of ' + asked + ', ' + formatDuration(cv.width) + ' epochs' + (how ? ', ' + how : '') + ')';
    e.setAttribute('data-start-ms', String(start));
    e.setAttribute('data-end-ms', String(cv.end));
  }

  function smoothText(width) {
    var k = windowEpochs(width);
    return k === 1 ? 'per epoch' : 'over ' + spanText(k * width) + ' windows';
  }

  window.addEventListener('resize', function () { allCharts.forEach(fit); });

  if (window.matchMedia) {
    var mq = window.matchMedia('(prefers-color-scheme: dark)');
    var redraw = function () { allCharts.forEach(function (c) { c.sig = null; }); };
    if (mq.addEventListener) mq.addEventListener('change', redraw);
  }

  // ---- the range in queries ---------------------------------------------------

  function rangeParams(q, now) {
    if (state.rangeMs > 0) q.set('start', String(now - state.rangeMs) + 'ms');
  }

  // ---- families table ---------------------------------------------------------

  var tableSig = null;

  function renderTable(families) {
    lastFamilies = families;
    // Rebuilt only when something in it changed: a row rebuilt under the
    // pointer would lose the click.
    var sig = JSON.stringify([families, state.filterText, state.family]);
    if (sig === tableSig) return;
    tableSig = sig;
    var tbody = document.querySelector('#families tbody');
    var rows = document.createDocumentFragment();
    var shown = 0;
    var f = state.filterText.toLowerCase();
    families.forEach(function (fam) {
      if (f && String(fam.name).toLowerCase().indexOf(f) < 0) return;
      shown++;
      var tr = el('tr');
      if (fam.name === state.family) tr.className = 'picked';
      var name = el('td', 'name');
      var b = el('button', '', fam.name);
      b.type = 'button';
      b.title = 'chart this family';
      b.setAttribute('data-family', fam.name);
      b.addEventListener('click', function () { pick(fam.name); });
      name.appendChild(b);
      tr.appendChild(name);
      tr.appendChild(el('td', 'kind', fam.kind));
      tr.appendChild(el('td', 'num', String(fam.series) + ' series'));
      tr.appendChild(el('td', 'unit', fam.unit === null ? '' : fam.unit));
      tr.appendChild(el('td', 'num', formatDuration(fam.resolution_ms)));
      tr.appendChild(el('td', 'help', fam.help));
      rows.appendChild(tr);
    });
    tbody.replaceChildren(rows);
    document.getElementById('family-count').textContent =
      shown === families.length ? families.length + ' families' : shown + ' of ' + families.length + ' families';
    renderPicker(families);
  }

  function renderPicker(families) {
    var sel = document.getElementById('family-pick');
    var f = state.filterText.toLowerCase();
    var names = families.filter(function (fam) {
      return !f || String(fam.name).toLowerCase().indexOf(f) >= 0 || fam.name === state.family;
    }).map(function (fam) { return fam.kind + '\u0000' + fam.name; });
    var sig = names.join('\u0001');
    if (sel.getAttribute('data-sig') !== sig) {
      var frag = document.createDocumentFragment();
      families.forEach(function (fam) {
        if (names.indexOf(fam.kind + '\u0000' + fam.name) < 0) return;
        var o = el('option', '', fam.name + ' (' + fam.kind + ')');
        o.value = fam.name;
        frag.appendChild(o);
      });
      sel.replaceChildren(frag);
      sel.setAttribute('data-sig', sig);
    }
    if (state.family !== null) sel.value = state.family;
  }

  // ---- explorer ---------------------------------------------------------------

  function pick(name) {
    if (state.family === name) return;
    state.family = name;
    state.labelFilter = '';
    document.getElementById('label-filter').value = '';
    saveHash();
    renderTable(lastFamilies);
    kick();
  }

  function quantileChoices(fam) {
    if (fam.kind === 'summary') return (fam.objectives || []).map(num);
    if (fam.kind === 'histogram') return HIST_QUANTILES;
    return [];
  }

  // The quantiles to draw: the one chosen, or all of a summary's objectives,
  // or HIST_SET of a histogram.
  function chosenQuantiles(fam) {
    if (state.quantile !== 'all') return [state.quantile];
    return fam.kind === 'summary' ? (fam.objectives || []).map(num) : HIST_SET;
  }

  function quantileName(q) {
    return 'p' + trimZeros(String(Math.round(q * 100000) / 1000));
  }

  function renderQuantiles(fam) {
    var ctl = document.getElementById('quantile-ctl');
    var sel = document.getElementById('quantile');
    var qs = quantileChoices(fam);
    ctl.hidden = qs.length === 0;
    if (!qs.length) return;
    if (state.quantile !== 'all' && qs.indexOf(state.quantile) < 0) {
      state.quantile = qs.indexOf(0.99) >= 0 ? 0.99 : qs[qs.length - 1];
    }
    var sig = fam.kind + ':' + qs.join(',');
    if (sel.getAttribute('data-sig') !== sig) {
      var frag = document.createDocumentFragment();
      qs.forEach(function (q) {
        var o = el('option', '', quantileName(q));
        o.value = String(q);
        frag.appendChild(o);
      });
      var all = el('option', '', fam.kind === 'summary' ? 'all objectives' : HIST_SET.map(quantileName).join(', '));
      all.value = 'all';
      frag.appendChild(all);
      sel.replaceChildren(frag);
      sel.setAttribute('data-sig', sig);
    }
    sel.value = String(state.quantile);
  }

  // Whether labels pass the filter: every space-separated term must appear in
  // the labels as written in the legend (name="value").
  function labelsMatch(labels) {
    var terms = state.labelFilter.trim().split(/\s+/).filter(function (x) { return x; });
    if (!terms.length) return true;
    var text = labelText(labels).toLowerCase();
    return terms.every(function (t) { return text.indexOf(t.toLowerCase()) >= 0; });
  }

  async function refreshExplorer(now) {
    var host = document.getElementById('explorer');
    var fam0 = state.family !== null ? familyByName.get(state.family) : null;
    if (!fam0) {
      if (explorerChart) { destroyChart(explorerChart); explorerChart = null; }
      host.replaceChildren(el('p', '', 'Pick a family (above, or by its name in the table) to chart its series.'));
      return;
    }
    var q = new URLSearchParams();
    q.set('name', fam0.name);
    rangeParams(q, now);
    var w0 = num(fam0.resolution_ms);
    // Summaries, and histograms with native buckets (the server adds the
    // columns only for those; classic histograms are windowed here).
    if ((fam0.kind === 'summary' || fam0.kind === 'histogram') && w0 > 0) {
      q.set('quantile_window', String(summaryWindowMs(w0)) + 'ms');
    }
    var data = await getJSON('api/v1/series?' + q.toString());
    var fam = (data.families || [])[0];
    var at = num(data.timestamp_ms);
    // From the series' answer: it has a summary's objectives, which the
    // families list has not.
    renderQuantiles(fam || fam0);
    if (!explorerChart || explorerChart.family !== fam0.name) {
      if (explorerChart) destroyChart(explorerChart);
      explorerChart = makeChart('', 260);
      explorerChart.family = fam0.name;
      explorerChart.box.setAttribute('data-family', fam0.name);
      explorerChart.table = el('table', 'series');
      host.replaceChildren(explorerChart.box, explorerChart.table);
    }
    var c = explorerChart;
    if (!fam) {
      c.title.textContent = fam0.name + ': no series';
      render(c, { lines: [], unit: unitOf(fam0, false), cover: null }, at);
      return;
    }
    var width = num(fam.resolution_ms);
    var all = (fam.series || []).filter(function (s) { return labelsMatch(s.labels); });
    var qs = fam.kind === 'histogram' || fam.kind === 'summary' ? chosenQuantiles(fam) : [null];
    // Up to MAX_LINES lines: fewer series when each draws several quantiles.
    var list = all.slice(0, Math.max(1, Math.floor(MAX_LINES / Math.max(qs.length, 1))));
    var qname = function (s, q) { return qs.length > 1 ? name(s) + ' ' + quantileName(q) : name(s); };
    var lines = [];
    var cv = null;
    var unit, how, what;
    list.forEach(function (s) { cv = cover(cv, s, at, width); });
    var name = function (s) { return list.length === 1 && !Object.keys(s.labels || {}).length ? fam.name : labelText(s.labels); };
    if (fam.kind === 'counter') {
      unit = unitOf(fam, true);
      what = 'rate per second';
      how = 'rates ' + smoothText(width);
      list.forEach(function (s) {
        lines.push({ name: name(s), values: rateOf(sumEpochs(fam, [s], at, 'increase'), width) });
      });
    } else if (fam.kind === 'gauge') {
      unit = unitOf(fam, false);
      // Bands while they stay readable: up to four series (named in the
      // legend for one series only).
      var banded = list.length <= 4;
      what = banded ? 'value, with the min to max of each epoch as a band' : 'value (last set in each epoch)';
      list.forEach(function (s, k) {
        var g = gaugeLines(fam, s, at);
        var color = PALETTE[k % PALETTE.length];
        lines.push({ name: name(s), values: g.last, color: color });
        if (banded) {
          var quiet = list.length > 1;
          lines.push({ name: 'max', values: g.max, band: 'max', group: k, color: color, quiet: quiet });
          lines.push({ name: 'min', values: g.min, band: 'min', group: k, color: color, quiet: quiet });
        }
      });
    } else if (fam.kind === 'histogram' && nativeWindowed(fam)) {
      // Native buckets: the server's quantiles over the sliding window.
      unit = unitOf(fam, false);
      what = qs.map(quantileName).join(', ');
      how = summaryHow(fam);
      c.box.setAttribute('data-quantile-window-ms', String(num(fam.quantile_window_ms)));
      list.forEach(function (s) {
        qs.forEach(function (q) { lines.push({ name: qname(s, q), values: summaryLine(fam, s, at, q) }); });
      });
    } else if (fam.kind === 'histogram') {
      unit = unitOf(fam, false);
      what = qs.map(quantileName).join(', ');
      how = 'quantiles ' + smoothText(width);
      list.forEach(function (s) {
        var b = sumEpochs(fam, [s], at, 'buckets');
        qs.forEach(function (q) { lines.push({ name: qname(s, q), values: quantileOf(b, fam, q) }); });
      });
    } else {
      unit = unitOf(fam, false);
      what = qs.map(quantileName).join(', ');
      how = summaryHow(fam);
      // The window the server merged the quantiles over, for the browser test.
      if (fam.quantile_window_ms !== undefined) c.box.setAttribute('data-quantile-window-ms', String(num(fam.quantile_window_ms)));
      list.forEach(function (s) {
        qs.forEach(function (q) { lines.push({ name: qname(s, q), values: summaryLine(fam, s, at, q) }); });
      });
    }
    if (fam.quantile_window_ms === undefined) c.box.removeAttribute('data-quantile-window-ms');
    c.title.textContent = fam.name + ' · ' + fam.kind + ' · ' + what;
    var note = '';
    if (all.length > list.length) note = 'showing ' + list.length + ' of ' + all.length + ' series: narrow them with the label filter';
    else if (!all.length && fam.series.length) note = 'no series matches the label filter';
    render(c, { lines: lines, unit: unit, cover: cv, note: note, how: how }, at);
    seriesTable(c.table, fam, all, unitOf(fam, false));
  }

  // Every series the label filter keeps (not only those charted), with its
  // cumulative value now, as text.
  function seriesTable(table, fam, list, unit) {
    var head = el('thead');
    var hr = el('tr');
    var what = fam.kind === 'counter' ? 'total' : fam.kind === 'gauge' ? 'value' : 'count, sum';
    [list.length + ' series', what].forEach(function (t) { hr.appendChild(el('th', '', t)); });
    head.appendChild(hr);
    var body = el('tbody');
    list.forEach(function (s) {
      var tr = el('tr');
      tr.appendChild(el('td', 'labels', labelText(s.labels)));
      var v;
      if (fam.kind === 'counter') v = String(s.total);
      else if (fam.kind === 'gauge') v = fmtValue(num(s.value), unit);
      else v = String(s.count) + ', ' + fmtValue(num(s.sum), unit);
      tr.appendChild(el('td', 'num', v));
      body.appendChild(tr);
    });
    table.replaceChildren(head, body);
  }

  // ---- handler preset ---------------------------------------------------------

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

  function buildModel(data, prefix, model) {
    var now = num(data.timestamp_ms);
    (data.families || []).forEach(function (fam) {
      var name = String(fam.name);
      var width = num(fam.resolution_ms);
      var byHandler = new Map();
      (fam.series || []).forEach(function (s) {
        var h = handlerOf(s.labels);
        if (h === null) return;
        if (!byHandler.has(h)) byHandler.set(h, []);
        byHandler.get(h).push(s);
      });
      byHandler.forEach(function (list, h) {
        var key = prefix + '\u0000' + h;
        var m = model.get(key);
        if (!m) {
          m = { prefix: prefix, handler: h, now: now, cover: {}, fams: {} };
          model.set(key, m);
        }
        var cv = null;
        list.forEach(function (s) { cv = cover(cv, s, now, width); });
        if (name === prefix + SUFFIX.batches) {
          m.cover.batches = cv;
          m.fams.batches = fam;
          m.total = sumEpochs(fam, list, now, 'increase');
          m.failed = sumEpochs(fam, list.filter(function (s) { return s.labels.outcome === 'failure'; }), now, 'increase');
          m.width = width;
        } else if (name === prefix + SUFFIX.records) {
          m.cover.records = cv;
          m.fams.records = fam;
          m.records = rateOf(sumEpochs(fam, list, now, 'increase'), width);
          m.recordsWidth = width;
        } else if (name === prefix + SUFFIX.duration) {
          m.cover.latency = cv;
          m.fams.latency = fam;
          var b = sumEpochs(fam, list, now, 'buckets');
          m.latency = QUANTILES.map(function (q) { return quantileOf(b, fam, q); });
          m.latencyWidth = width;
        }
      });
    });
  }

  function card(key, m) {
    var c = cards.get(key);
    if (c) return c;
    var root = el('div', 'handler');
    var title = el('h3');
    title.appendChild(document.createTextNode('handler '));
    title.appendChild(el('code', '', m.handler));
    if (m.prefix) title.appendChild(el('small', '', '  (' + m.prefix + '*)'));
    root.appendChild(title);
    var charts = el('div', 'charts');
    var c2 = {
      root: root,
      throughput: makeChart('batches per second'),
      records: makeChart('records per second'),
      errors: makeChart('error ratio (failed / all batches)'),
      latency: makeChart('batch latency')
    };
    [c2.throughput, c2.records, c2.errors, c2.latency].forEach(function (ch) { charts.appendChild(ch.box); });
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
      var w = m.width || 1000;
      var total = m.total || new Map();
      render(c.throughput, {
        lines: [{ name: 'batches/s', values: rateOf(total, w) }],
        unit: { kind: 'si', text: '/s' }, cover: m.cover.batches, how: 'rates ' + smoothText(w)
      }, m.now);
      render(c.records, {
        lines: [{ name: 'records/s', values: m.records || new Map() }],
        unit: { kind: 'si', text: '/s' }, cover: m.cover.records, how: 'rates ' + smoothText(m.recordsWidth || w)
      }, m.now);
      // Failed over all batches, summed over the same windows as the rates.
      var both = new Map();
      total.forEach(function (r, start) {
        var f = m.failed && m.failed.get(start);
        both.set(start, { t: r.t, cov: r.cov, v: [f ? f.v : 0, r.v] });
      });
      render(c.errors, {
        lines: [{ name: 'failed', values: windowed(both, windowEpochs(w), w, function (s) { return s[1] > 0 ? 100 * s[0] / s[1] : null; }) }],
        unit: { kind: 'percent' }, cover: m.cover.batches, how: 'ratios ' + smoothText(w)
      }, m.now);
      var lw = m.latencyWidth || w;
      render(c.latency, {
        lines: QUANTILES.map(function (q, i) { return { name: QUANTILE_NAMES[i], values: (m.latency && m.latency[i]) || new Map() }; }),
        unit: { kind: 'time' }, cover: m.cover.latency, how: 'quantiles ' + smoothText(lw)
      }, m.now);
    });
    cards.forEach(function (c, key) {
      if (!model.has(key)) {
        [c.throughput, c.records, c.errors, c.latency].forEach(destroyChart);
        c.root.remove();
        cards.delete(key);
      }
    });
  }

  async function refreshHandlers(families, now) {
    var model = new Map();
    var names = new Set(families.map(function (f) { return String(f.name); }));
    var ps = prefixes(families);
    for (var i = 0; i < ps.length; i++) {
      var prefix = ps[i];
      var q = new URLSearchParams();
      Object.keys(SUFFIX).forEach(function (k) {
        if (names.has(prefix + SUFFIX[k])) q.append('name', prefix + SUFFIX[k]);
      });
      // One range for every chart: the latency histogram's history is asked
      // for over the same range as the counters'.
      rangeParams(q, now);
      buildModel(await getJSON('api/v1/series?' + q.toString()), prefix, model);
    }
    renderHandlers(model);
  }

  // ---- refresh loop -----------------------------------------------------------

  async function refresh() {
    var fams = await getJSON('api/v1/families');
    var families = fams.families || [];
    familyByName = new Map(families.map(function (f) { return [String(f.name), f]; }));
    if (state.family === null) {
      // Start with something to look at: the first family with series.
      var first = families.filter(function (f) { return f.series > 0; })[0];
      if (first) state.family = first.name;
    }
    renderTable(families);
    var now = Date.now();
    // A refusal for the explorer's family (too many series or points over
    // the range) is said under its chart; the handler cards still update.
    var failed = null;
    try {
      await refreshExplorer(now);
    } catch (e) {
      failed = e;
      if (explorerChart) {
        explorerChart.note.hidden = false;
        explorerChart.note.textContent = 'query failed: ' + (e && e.message ? e.message : String(e));
      }
    }
    await refreshHandlers(families, now);
    if (failed) throw failed;
  }

  var timer = null;
  var running = false;
  var again = false;

  async function loop() {
    if (running) { again = true; return; }
    running = true;
    clearTimeout(timer);
    try {
      await refresh();
      updates++;
      document.body.setAttribute('data-updates', String(updates));
      setStatus('updated ' + clock(Date.now()), false);
    } catch (e) {
      setStatus('update failed: ' + (e && e.message ? e.message : String(e)), true);
    }
    running = false;
    if (again) { again = false; loop(); return; }
    timer = setTimeout(loop, REFRESH_MS);
  }

  // Redraw now (after a choice), not at the next tick.
  function kick() { loop(); }

  // ---- choices, kept in the URL's fragment ------------------------------------

  function saveHash() {
    var p = new URLSearchParams();
    if (state.family !== null) p.set('family', state.family);
    p.set('range', String(state.rangeMs));
    p.set('window', String(state.smoothMs));
    if (state.labelFilter) p.set('labels', state.labelFilter);
    if (history.replaceState) history.replaceState(null, '', '#' + p.toString());
  }

  function loadHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ''));
    if (p.has('family')) state.family = p.get('family');
    if (p.has('range') && isFinite(Number(p.get('range')))) state.rangeMs = Number(p.get('range'));
    if (p.has('window') && isFinite(Number(p.get('window')))) state.smoothMs = Number(p.get('window'));
    if (p.has('labels')) state.labelFilter = p.get('labels');
  }

  function showRange() {
    document.querySelectorAll('#range button').forEach(function (b) {
      b.setAttribute('aria-pressed', Number(b.getAttribute('data-range')) === state.rangeMs ? 'true' : 'false');
    });
  }

  function start() {
    loadHash();
    showRange();
    document.getElementById('smooth').value = String(state.smoothMs);
    document.getElementById('label-filter').value = state.labelFilter;
    document.querySelectorAll('#range button').forEach(function (b) {
      b.addEventListener('click', function () {
        state.rangeMs = Number(b.getAttribute('data-range'));
        showRange();
        saveHash();
        kick();
      });
    });
    document.getElementById('smooth').addEventListener('change', function (e) {
      state.smoothMs = Number(e.target.value);
      saveHash();
      kick();
    });
    document.getElementById('family-pick').addEventListener('change', function (e) { pick(e.target.value); });
    document.getElementById('quantile').addEventListener('change', function (e) {
      state.quantile = e.target.value === 'all' ? 'all' : Number(e.target.value);
      kick();
    });
    var labels = document.getElementById('label-filter');
    labels.addEventListener('input', function () {
      state.labelFilter = labels.value;
      saveHash();
      kick();
    });
    var input = document.getElementById('family-filter');
    input.addEventListener('input', function () {
      state.filterText = input.value;
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
