/*
 * A plain-SVG line plot for the ThingPark sidebar: no library, no CDN. ThingParkPlot.draw(series, opts)
 * returns an <svg> element; each series is {name, cls, points: [{x, y}]} (y null = no value). Every
 * point is drawn as a small circle on top of the line, with its value in a <title>.
 */
(function () {
  'use strict';
  if (window.ThingParkPlot) return;
  var NS = 'http://www.w3.org/2000/svg';
  var document = window.document;

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) {
      e.setAttribute(k, String(attrs[k]));
    });
    if (parent) parent.appendChild(e);
    return e;
  }

  function draw(series, opts) {
    opts = opts || {};
    var w = opts.width || 280;
    var h = opts.height || 80;
    var pad = { l: 34, r: 6, t: 6, b: 14 };
    var svg = el('svg', { class: 'thingpark-plot', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h });
    var xs = [];
    var ys = [];
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (p.y === null || p.y === undefined) return;
        xs.push(p.x);
        ys.push(p.y);
      });
    });
    if (xs.length === 0) {
      var none = el(
        'text',
        { x: w / 2, y: h / 2, 'text-anchor': 'middle', class: 'thingpark-plot-empty' },
        svg,
      );
      none.textContent = opts.empty || '';
      return svg;
    }
    var x0 = opts.xMin !== undefined ? opts.xMin : Math.min.apply(null, xs);
    var x1 = opts.xMax !== undefined ? opts.xMax : Math.max.apply(null, xs);
    var y0 = Math.min(opts.yZero === false ? Infinity : 0, Math.min.apply(null, ys));
    var y1 = Math.max.apply(null, ys);
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) y1 = y0 + 1;
    var sx = function (x) {
      return pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
    };
    var sy = function (y) {
      return h - pad.b - ((y - y0) / (y1 - y0)) * (h - pad.t - pad.b);
    };
    el('line', { x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b, class: 'thingpark-plot-axis' }, svg);
    el('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: h - pad.b, class: 'thingpark-plot-axis' }, svg);
    [y0, y1].forEach(function (v) {
      var label = el(
        'text',
        { x: pad.l - 3, y: sy(v) + 3, 'text-anchor': 'end', class: 'thingpark-plot-label' },
        svg,
      );
      label.textContent = String(Math.round(v * 10) / 10);
    });
    if (opts.xLabel) {
      var xl = el(
        'text',
        { x: w - pad.r, y: h - 2, 'text-anchor': 'end', class: 'thingpark-plot-label' },
        svg,
      );
      xl.textContent = opts.xLabel;
    }
    series.forEach(function (s) {
      var g = el('g', { class: 'thingpark-plot-series ' + (s.cls || ''), 'data-series': s.name }, svg);
      var pts = s.points.filter(function (p) {
        return p.y !== null && p.y !== undefined;
      });
      el(
        'polyline',
        {
          points: pts
            .map(function (p) {
              return sx(p.x).toFixed(1) + ',' + sy(p.y).toFixed(1);
            })
            .join(' '),
        },
        g,
      );
      pts.forEach(function (p) {
        var c = el('circle', { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 2 }, g);
        el('title', {}, c).textContent = s.name + ': ' + p.y;
      });
    });
    return svg;
  }

  window.ThingParkPlot = { draw: draw };
})();
