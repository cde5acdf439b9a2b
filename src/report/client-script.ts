/**
 * The browser side of the report, the comparison and the dashboard: one plain script (no build
 * step, no network) that draws every chart with uPlot from the JSON payload in the page, or, in
 * the dashboard, from snapshots the server pushes. Kept as a string so the HTML can inline it;
 * it must not contain backticks or dollar-brace sequences.
 *
 * Every chart is a `figure.chart` with `data-points` (values drawn), which the browser tests read.
 */
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  var SPECIAL_KEYS = { step: 1, time_s: 1, grad_norm: 1, steps_per_s: 1 };
  var plots = [];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else if (key === 'html') node.innerHTML = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined || typeof value !== 'number' || !isFinite(value)) return '–';
    var abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
    return value.toFixed(digits === undefined ? (abs >= 100 ? 1 : 3) : digits);
  }

  /** three significant digits, so small learning rates do not all read 0.001 */
  function tickLabel(value) {
    if (value === 0) return '0';
    var abs = Math.abs(value);
    return abs < 1e-2 || abs >= 1e5 ? value.toExponential(1) : String(Number(value.toPrecision(3)));
  }

  function fmtDuration(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds)) return '–';
    if (seconds < 60) return seconds.toFixed(1) + ' s';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + Math.round(seconds % 60) + ' s';
    return Math.floor(seconds / 3600) + ' h ' + Math.round((seconds % 3600) / 60) + ' min';
  }

  function hexToRgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + alpha + ')';
  }

  function section(parent, title) {
    var body = el('div', { class: 'grid' });
    parent.appendChild(el('section', {}, [el('h2', { text: title }), body]));
    return body;
  }

  function table(rows, header) {
    var head = header ? el('thead', {}, [el('tr', {}, header.map(function (h) { return el('th', { text: h }); }))]) : null;
    var body = el('tbody', {}, rows.map(function (row) {
      return el('tr', {}, row.map(function (cell) { return el('td', { text: String(cell) }); }));
    }));
    return el('table', {}, [head, body]);
  }

  function figure(parent, id, title, caption) {
    var fig = el('figure', { class: 'chart', 'data-chart': id, 'data-points': '0' });
    fig.appendChild(el('figcaption', { text: title }));
    var body = el('div', { class: 'plot' });
    fig.appendChild(body);
    if (caption) fig.appendChild(el('p', { class: 'note', text: caption }));
    parent.appendChild(fig);
    return { fig: fig, body: body };
  }

  /**
   * spec: { id, title, caption, xLabel, yLabel, x: [...], series: [{ label, values, color, dash, pointsOnly, size, width, band }],
   *         bands: [{ upper: i, lower: i, color }] (indices into series), categories: names of x = 0, 1, ...,
   *         errorBars: { low: [...], high: [...], color } (drawn at each x; the figure's data-error-bars counts them) }
   */
  function lineChart(parent, spec) {
    var f = figure(parent, spec.id, spec.title, spec.caption);
    var points = 0;
    spec.series.forEach(function (s) {
      if (s.band) return;
      s.values.forEach(function (v) { if (typeof v === 'number' && isFinite(v)) points += 1; });
    });
    f.fig.setAttribute('data-points', String(points));
    if (spec.x.length === 0 || points === 0) {
      f.body.appendChild(el('p', { class: 'empty', text: 'no data yet' }));
      return;
    }
    var width = Math.max(280, Math.min(540, (parent.clientWidth || 540) - 16));
    var series = [{ label: spec.xLabel }].concat(spec.series.map(function (s) {
      var options = { label: s.label, stroke: s.color, width: s.width || 1.5 };
      if (s.dash) options.dash = s.dash;
      if (s.band) { options.width = 0.5; options.stroke = hexToRgba(s.color, 0.5); options.points = { show: false }; }
      if (s.pointsOnly) { options.paths = function () { return null; }; options.points = { show: true, size: s.size || 9, fill: s.color, stroke: s.color }; }
      return options;
    }));
    var bands = (spec.bands || []).map(function (b) {
      return { series: [b.upper + 1, b.lower + 1], fill: hexToRgba(b.color, 0.18) };
    });
    var xAxis = { label: spec.xLabel, size: 40 };
    var xScale = { time: false };
    if (spec.categories) {
      // one whole-number position per category, named on the axis
      xAxis.incrs = [1];
      xAxis.values = function (u, ticks) { return ticks.map(function (t) { return spec.categories[t] || ''; }); };
      xScale.range = [-0.5, spec.categories.length - 0.5];
    }
    var hooks = {};
    if (spec.errorBars) {
      // vertical bar with caps from low to high at each x, drawn over the series (uPlot has no error bars)
      hooks.draw = [function (u) {
        var ctx = u.ctx;
        var cap = 6 * devicePixelRatio;
        var drawn = 0;
        ctx.save();
        ctx.strokeStyle = spec.errorBars.color;
        ctx.lineWidth = 2 * devicePixelRatio;
        spec.x.forEach(function (x, i) {
          var low = spec.errorBars.low[i];
          var high = spec.errorBars.high[i];
          if (typeof low !== 'number' || typeof high !== 'number' || !isFinite(low) || !isFinite(high)) return;
          var cx = u.valToPos(x, 'x', true);
          var top = u.valToPos(high, 'y', true);
          var bottom = u.valToPos(low, 'y', true);
          ctx.beginPath();
          ctx.moveTo(cx, top); ctx.lineTo(cx, bottom);
          ctx.moveTo(cx - cap, top); ctx.lineTo(cx + cap, top);
          ctx.moveTo(cx - cap, bottom); ctx.lineTo(cx + cap, bottom);
          ctx.stroke();
          drawn += 1;
        });
        ctx.restore();
        f.fig.setAttribute('data-error-bars', String(drawn));
      }];
    }
    var yScale = {};
    if (spec.errorBars) {
      // the y range must hold the whole bars, not only the points
      yScale.range = function (u, min, max) {
        var lows = spec.errorBars.low.filter(isFinite);
        var highs = spec.errorBars.high.filter(isFinite);
        var lo = Math.min.apply(null, [min].concat(lows));
        var hi = Math.max.apply(null, [max].concat(highs));
        var pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
        return [lo - pad, hi + pad];
      };
    }
    var options = {
      width: width, height: 210, hooks: hooks,
      scales: { x: xScale, y: yScale },
      axes: [xAxis, { label: spec.yLabel, size: 60, values: function (u, ticks) { return ticks.map(tickLabel); } }],
      series: series, bands: bands, legend: { live: false },
    };
    plots.push(new uPlot(options, [spec.x].concat(spec.series.map(function (s) { return s.values; })), f.body));
  }

  function destroyPlots() {
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
  }

  function scoreOf(record) {
    return record.normalized_score !== null ? record.normalized_score : record.mean_return;
  }
  function scoreName(records) {
    return records.length > 0 && records[0].normalized_score === null ? 'mean return' : 'normalized score';
  }

  function flattenConfig(config) {
    var rows = [];
    Object.keys(config || {}).forEach(function (key) {
      var value = config[key];
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        Object.keys(value).forEach(function (inner) { rows.push([key + '.' + inner, JSON.stringify(value[inner])]); });
      } else rows.push([key, JSON.stringify(value)]);
    });
    return rows;
  }

  function renderSummary(root, run) {
    var config = run.config || {};
    var metrics = run.metrics;
    var lastMetrics = metrics.length > 0 ? metrics[metrics.length - 1] : null;
    var step = lastMetrics ? lastMetrics.step : 0;
    var header = el('header', {}, [
      el('h1', { text: run.name }),
      el('p', { class: 'meta' }, [
        el('span', { class: 'status status-' + run.status.replace(/ /g, '-'), text: run.status }),
        el('span', { text: ' ' + (config.algo || '?') + ' on ' + (config.env || '?') + ' · dataset ' + (config.datasetId || '?') + ' · seed ' + config.seed + ' · step ' }),
        el('span', { id: 'run-step', 'data-step': String(step), text: String(step) }),
        el('span', { text: ' / ' + (config.steps || '?') }),
      ]),
    ]);
    root.appendChild(header);
    var cards = el('div', { class: 'cards' });
    var evaluations = run.evaluations;
    var name = scoreName(evaluations);
    function card(label, value, detail) {
      cards.appendChild(el('div', { class: 'card' }, [el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }), el('div', { class: 'detail', text: detail || '' })]));
    }
    var last = run.final ? run.final.last : evaluations[evaluations.length - 1];
    var best = run.final ? run.final.best : null;
    if (last) card('last ' + name, fmt(scoreOf(last), 1) + ' ± ' + fmt(last.normalized_score !== null ? last.normalized_std : last.std_return, 1), 'step ' + last.step + ' · ' + last.headline);
    if (best) card('best ' + name, fmt(scoreOf(best), 1), 'step ' + best.step + ' (selected on the test task: optimistic)');
    if (lastMetrics) card('wall time', fmtDuration(lastMetrics.time_s), 'evaluation and checkpoints included');
    var rates = metrics.map(function (m) { return m.steps_per_s; }).filter(function (v) { return typeof v === 'number' && v > 0; });
    if (rates.length > 0) card('throughput', fmt(rates.reduce(function (a, b) { return a + b; }, 0) / rates.length, 1) + ' steps/s', 'mean over logged intervals');
    root.appendChild(cards);
    if (run.problems.length > 0) root.appendChild(el('p', { class: 'warning', text: run.problems.join('; ') }));
  }

  function renderSetup(root, run) {
    var grid = section(root, 'Config and dataset');
    grid.appendChild(el('div', { class: 'panel' }, [el('h3', { text: 'config.json' }), table(flattenConfig(run.config))]));
    var dataset = run.extras && run.extras.dataset;
    if (dataset) {
      grid.appendChild(el('div', { class: 'panel' }, [el('h3', { text: 'dataset' }), table([
        ['file', dataset.path], ['id', dataset.format], ['rows', dataset.rows], ['episodes', dataset.episodes],
        ['observation / action dims', dataset.obsDim + ' / ' + dataset.actionDim],
        ['mean episode length', fmt(dataset.meanEpisodeLength, 1)],
        ['episode return mean ± std', fmt(dataset.returnMean, 2) + ' ± ' + fmt(dataset.returnStd, 2)],
        ['episode return min / max', fmt(dataset.returnMin, 2) + ' / ' + fmt(dataset.returnMax, 2)],
      ])]));
    }
    if (run.extras && run.extras.notes.length > 0) grid.appendChild(el('p', { class: 'note', text: run.extras.notes.join('; ') }));
  }

  function renderTraining(root, run) {
    var metrics = run.metrics;
    var steps = metrics.map(function (m) { return m.step; });
    var keys = [];
    metrics.forEach(function (m) { Object.keys(m).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
    var lossKeys = keys.filter(function (k) { return !SPECIAL_KEYS[k] && k !== 'lr' && k.indexOf('lr_') !== 0; });
    var lrKeys = keys.filter(function (k) { return k === 'lr' || k.indexOf('lr_') === 0; });
    var column = function (key) { return metrics.map(function (m) { return typeof m[key] === 'number' ? m[key] : null; }); };
    var losses = section(root, 'Training terms');
    lossKeys.forEach(function (key, i) {
      lineChart(losses, { id: 'term-' + key, title: key, xLabel: 'step', yLabel: key, x: steps, series: [{ label: key, values: column(key), color: COLORS[i % COLORS.length] }] });
    });
    var optimisation = section(root, 'Optimisation');
    lineChart(optimisation, { id: 'lr', title: 'learning rate', xLabel: 'step', yLabel: 'lr', x: steps,
      series: lrKeys.map(function (key, i) { return { label: key, values: column(key), color: COLORS[i % COLORS.length] }; }) });
    lineChart(optimisation, { id: 'grad-norm', title: 'gradient norm (before clipping)', xLabel: 'step', yLabel: 'global norm', x: steps,
      series: [{ label: 'grad_norm', values: column('grad_norm'), color: COLORS[3] }] });
    var throughput = section(root, 'Throughput');
    lineChart(throughput, { id: 'steps-per-s', title: 'throughput (updates only)', xLabel: 'step', yLabel: 'steps/s', x: steps,
      series: [{ label: 'steps/s', values: column('steps_per_s'), color: COLORS[2] }] });
    lineChart(throughput, { id: 'wall-time', title: 'wall time', xLabel: 'step', yLabel: 'seconds', x: steps,
      series: [{ label: 'time_s', values: column('time_s'), color: COLORS[4] }] });
  }

  function renderEvaluation(root, run) {
    var evaluations = run.evaluations;
    var grid = section(root, 'Evaluation');
    var name = scoreName(evaluations);
    var steps = evaluations.map(function (e) { return e.step; });
    var normalized = evaluations.length > 0 && evaluations[0].normalized_score !== null;
    var scores = evaluations.map(scoreOf);
    var spread = evaluations.map(function (e) { return normalized ? e.normalized_std : e.std_return; });
    var last = evaluations.length - 1;
    var best = -1;
    evaluations.forEach(function (e, i) { if (best < 0 || scoreOf(e) > scoreOf(evaluations[best])) best = i; });
    if (run.final) evaluations.forEach(function (e, i) { if (e.step === run.final.best.step) best = i; });
    lineChart(grid, {
      id: 'eval-score', title: name + ' over training (± std over episodes)', xLabel: 'step', yLabel: name, x: steps,
      caption: evaluations.length > 0 ? 'last: ' + fmt(scores[last], 1) + ' at step ' + steps[last] + ' · best: ' + fmt(scores[best], 1) + ' at step ' + steps[best] : '',
      series: [
        { label: evaluations.length > 0 ? evaluations[0].headline : name, values: scores, color: COLORS[0], width: 2 },
        { label: '+std', values: scores.map(function (s, i) { return s + spread[i]; }), color: COLORS[0], band: true },
        { label: '-std', values: scores.map(function (s, i) { return s - spread[i]; }), color: COLORS[0], band: true },
        { label: 'last', values: scores.map(function (s, i) { return i === last ? s : null; }), color: COLORS[3], pointsOnly: true },
        { label: 'best', values: scores.map(function (s, i) { return i === best ? s : null; }), color: COLORS[2], pointsOnly: true },
      ],
      bands: [{ upper: 1, lower: 2, color: COLORS[0] }],
    });
    var conditions = evaluations.length > 0 ? evaluations[0].conditions : [];
    if (conditions.length > 1) {
      lineChart(grid, { id: 'eval-conditions', title: 'mean return per condition', xLabel: 'step', yLabel: 'return', x: steps,
        series: conditions.map(function (c, ci) {
          return { label: c.label, values: evaluations.map(function (e) { return e.conditions[ci] ? e.conditions[ci].mean_return : null; }), color: COLORS[ci % COLORS.length] };
        }) });
    }
    var targeted = evaluations.length > 0 ? evaluations[last].conditions.filter(function (c) { return typeof c.target_return === 'number'; }) : [];
    if (targeted.length > 0) {
      var sorted = targeted.slice().sort(function (a, b) { return a.target_return - b.target_return; });
      var targets = sorted.map(function (c) { return c.target_return; });
      lineChart(grid, {
        id: 'return-calibration', title: 'achieved vs requested return (step ' + steps[last] + ', ± std)', xLabel: 'requested return', yLabel: 'achieved return', x: targets,
        caption: 'On the dashed line the policy gets the return it is asked for.',
        series: [
          { label: 'achieved', values: sorted.map(function (c) { return c.mean_return; }), color: COLORS[1], width: 2 },
          { label: '+std', values: sorted.map(function (c) { return c.mean_return + c.std_return; }), color: COLORS[1], band: true },
          { label: '-std', values: sorted.map(function (c) { return c.mean_return - c.std_return; }), color: COLORS[1], band: true },
          { label: 'requested', values: targets, color: '#555555', dash: [6, 4] },
          { label: 'achieved (points)', values: sorted.map(function (c) { return c.mean_return; }), color: COLORS[1], pointsOnly: true },
        ],
        bands: [{ upper: 1, lower: 2, color: COLORS[1] }],
      });
      grid.appendChild(el('div', { class: 'panel' }, [table(sorted.map(function (c) {
        return [c.label, fmt(c.target_return, 1), fmt(c.mean_return, 2) + ' ± ' + fmt(c.std_return, 2), fmt(c.normalized_score, 1)];
      }), ['condition', 'requested', 'achieved', 'normalized'])]));
    }
  }

  function renderPredictions(root, run) {
    var extras = run.extras;
    if (!extras || !extras.rollouts || !extras.dataset) return;
    var episodes = extras.rollouts.episodes.filter(function (e) { return typeof e.predictedReturn === 'number'; });
    if (episodes.length === 0) return;
    var grid = section(root, 'Predicted max return');
    var percentiles = extras.dataset.returnPercentiles.map(function (_, p) { return p; });
    var predicted = episodes.map(function (e) { return e.predictedReturn; });
    var achieved = episodes.map(function (e) { return e.return; });
    var meanOf = function (values) { return values.reduce(function (a, b) { return a + b; }, 0) / values.length; };
    var meanPredicted = meanOf(predicted);
    var meanAchieved = meanOf(achieved);
    lineChart(grid, {
      id: 'predicted-return', title: 'predicted return at t = 0 against the dataset\u2019s episode returns', xLabel: 'percentile of dataset episodes', yLabel: 'return', x: percentiles,
      caption: 'Reinformer predicts the in-distribution maximal return; mean prediction ' + fmt(meanPredicted, 2) + ', mean achieved ' + fmt(meanAchieved, 2) + ' over ' + episodes.length + ' episodes of the final policy.',
      series: [
        { label: 'dataset episode returns', values: extras.dataset.returnPercentiles, color: COLORS[7], width: 2 },
        { label: 'predicted (mean)', values: percentiles.map(function () { return meanPredicted; }), color: COLORS[4], dash: [6, 4] },
        { label: 'achieved (mean)', values: percentiles.map(function () { return meanAchieved; }), color: COLORS[2], dash: [2, 3] },
      ],
    });
    grid.appendChild(el('div', { class: 'panel' }, [table(episodes.map(function (e) {
      return [e.episode, fmt(e.predictedReturn, 2), fmt(e.return, 2), e.length];
    }), ['episode', 'predicted', 'achieved', 'length'])]));
  }

  function renderRollouts(root, run) {
    var extras = run.extras;
    if (!extras || !extras.maze || !extras.rollouts) return;
    var maze = extras.maze;
    var episodes = extras.rollouts.episodes.filter(function (e) { return e.points && e.points.length > 0; });
    var grid = section(root, 'Rollouts');
    var drawing = el('figure', { class: 'chart maze', 'data-chart': 'maze-rollouts', 'data-points': String(episodes.length) }, [
      el('figcaption', { text: episodes.length + ' episodes of ' + extras.rollouts.condition + ' (policy at step ' + extras.policyStep + ', evaluation seed ' + extras.rollouts.seed + ')' }),
      el('div', { class: 'svg', html: maze.rolloutsSvg }),
    ]);
    grid.appendChild(drawing);
    if (episodes.length === 0) return;
    // the player: one episode at a time, a dot moving along its path with the trail behind it
    var player = el('figure', { class: 'chart maze player', 'data-chart': 'rollout-player', 'data-points': String(episodes[0].points.length / 2) });
    player.appendChild(el('figcaption', { text: 'rollout player' }));
    var stage = el('div', { class: 'svg', html: maze.backgroundSvg });
    player.appendChild(stage);
    var svg = stage.querySelector('svg');
    var ns = 'http://www.w3.org/2000/svg';
    var trail = document.createElementNS(ns, 'polyline');
    trail.setAttribute('fill', 'none'); trail.setAttribute('stroke', COLORS[0]); trail.setAttribute('stroke-width', '2');
    var dot = document.createElementNS(ns, 'circle');
    dot.setAttribute('r', '6'); dot.setAttribute('fill', COLORS[3]);
    svg.appendChild(trail); svg.appendChild(dot);
    var select = el('select', { 'aria-label': 'episode' }, episodes.map(function (e, i) {
      return el('option', { value: String(i), text: 'episode ' + e.episode + ' (return ' + fmt(e.return, 1) + ', ' + e.length + ' steps)' });
    }));
    var slider = el('input', { type: 'range', min: '0', max: '0', value: '0', 'aria-label': 'time step' });
    var button = el('button', { type: 'button', text: 'play' });
    var label = el('span', { class: 'note' });
    player.appendChild(el('div', { class: 'controls' }, [select, button, slider, label]));
    grid.appendChild(player);
    var current = episodes[0];
    var timer = null;
    function toPicture(points, t) {
      return [(points[2 * t + 1] + maze.offset) * maze.cellSize, (points[2 * t] + maze.offset) * maze.cellSize];
    }
    function show(t) {
      var coords = [];
      for (var k = 0; k <= t; k++) coords.push(toPicture(current.points, k).map(function (v) { return v.toFixed(1); }).join(','));
      trail.setAttribute('points', coords.join(' '));
      var at = toPicture(current.points, t);
      dot.setAttribute('cx', String(at[0])); dot.setAttribute('cy', String(at[1]));
      slider.value = String(t);
      label.textContent = 't = ' + t;
    }
    function choose(index) {
      current = episodes[index];
      slider.max = String(current.points.length / 2 - 1);
      show(0);
    }
    function stop() { if (timer !== null) { clearInterval(timer); timer = null; button.textContent = 'play'; } }
    select.addEventListener('change', function () { stop(); choose(Number(select.value)); });
    slider.addEventListener('input', function () { stop(); show(Number(slider.value)); });
    button.addEventListener('click', function () {
      if (timer !== null) { stop(); return; }
      button.textContent = 'pause';
      timer = setInterval(function () {
        var t = Number(slider.value) + 1;
        if (t > Number(slider.max)) { stop(); return; }
        show(t);
      }, 30);
    });
    choose(0);
  }

  function renderRun(root, run) {
    destroyPlots();
    root.textContent = '';
    renderSummary(root, run);
    renderEvaluation(root, run);
    renderPredictions(root, run);
    renderRollouts(root, run);
    renderTraining(root, run);
    renderSetup(root, run);
  }

  function renderComparison(root, comparison) {
    destroyPlots();
    root.appendChild(el('header', {}, [el('h1', { text: 'Comparison of ' + comparison.runs.length + ' runs' }),
      el('p', { class: 'meta', text: 'final score: each run\u2019s last evaluation (' + comparison.scoreName + '); IQM with a ' + Math.round(comparison.level * 100) + '% percentile bootstrap interval over runs (' + comparison.resamples + ' resamples)' })]));
    if (comparison.skipped.length > 0) {
      root.appendChild(el('p', { class: 'warning', id: 'skipped-runs', text: 'skipped (unfinished): ' + comparison.skipped.map(function (r) { return r.name + ' (' + r.reason + ')'; }).join('; ') }));
    }
    var grid = section(root, 'Final scores');
    var differing = comparison.differingFields;
    grid.appendChild(el('div', { class: 'panel wide' }, [table(comparison.groups.map(function (g) {
      var interval = g.singleRun ? fmt(g.iqm, 1) + ' (one run: no interval)' : fmt(g.iqm, 1) + ' [' + fmt(g.iqmLow, 1) + ', ' + fmt(g.iqmHigh, 1) + ']';
      return [g.label, g.singleRun ? '1 (single run)' : g.runs.length, fmt(g.mean, 1) + ' ± ' + fmt(g.std, 1), interval, g.runs.map(function (r) { return fmt(r.final, 1); }).join(', ')].concat(g.settings);
    }), ['group', 'runs', 'mean ± std', 'IQM [' + Math.round(comparison.level * 100) + '% CI]', 'per run'].concat(differing))]));
    if (differing.length > 0) grid.appendChild(el('p', { class: 'note', id: 'differing-fields', text: 'groups are runs with the same config except the seed; they differ in ' + differing.join(', ') }));
    var indices = comparison.groups.map(function (_, i) { return i; });
    lineChart(grid, {
      id: 'final-scores', title: 'final score per group: IQM with its bootstrap interval as an error bar, mean', xLabel: 'group', yLabel: comparison.scoreName, x: indices,
      categories: comparison.groups.map(function (g) { return g.shortLabel; }),
      series: [
        { label: 'IQM', values: comparison.groups.map(function (g) { return g.iqm; }), color: COLORS[0], pointsOnly: true },
        { label: 'mean', values: comparison.groups.map(function (g) { return g.mean; }), color: COLORS[1], pointsOnly: true, size: 6 },
      ],
      errorBars: { low: comparison.groups.map(function (g) { return g.iqmLow; }), high: comparison.groups.map(function (g) { return g.iqmHigh; }), color: COLORS[0] },
    });
    var curves = section(root, 'Evaluation over training (mean ± std over runs)');
    comparison.groups.forEach(function (g, gi) {
      lineChart(curves, {
        id: 'curve-' + gi, title: g.label, xLabel: 'step', yLabel: comparison.scoreName, x: g.curve.steps,
        series: [
          { label: 'mean', values: g.curve.mean, color: COLORS[gi % COLORS.length], width: 2 },
          { label: '+std', values: g.curve.mean.map(function (m, i) { return m + g.curve.std[i]; }), color: COLORS[gi % COLORS.length], band: true },
          { label: '-std', values: g.curve.mean.map(function (m, i) { return m - g.curve.std[i]; }), color: COLORS[gi % COLORS.length], band: true },
        ].concat(g.runs.map(function (r, ri) {
          return { label: r.name, values: r.curve, color: COLORS[(gi + ri + 1) % COLORS.length], width: 0.8, dash: [3, 3] };
        })),
        bands: [{ upper: 1, lower: 2, color: COLORS[gi % COLORS.length] }],
      });
    });
    var runs = section(root, 'Runs');
    runs.appendChild(el('div', { class: 'panel wide' }, [table(comparison.runs.map(function (r) {
      return [r.name, r.algo, r.env, r.seed, r.step, fmt(r.final, 1), fmt(r.best, 1)];
    }), ['run', 'algorithm', 'env', 'seed', 'last step', 'final', 'best'])]));
  }

  function renderDashboard(app) {
    var list = document.getElementById('run-list');
    var selected = null;
    var source = null;
    function select(name) {
      if (source) source.close();
      selected = name;
      Array.prototype.forEach.call(list.querySelectorAll('a'), function (a) { a.classList.toggle('active', a.getAttribute('data-run') === name); });
      app.textContent = '';
      app.appendChild(el('p', { class: 'note', text: 'loading ' + name + '…' }));
      source = new EventSource('/api/runs/' + encodeURIComponent(name) + '/events');
      source.addEventListener('snapshot', function (event) {
        var run = JSON.parse(event.data);
        renderRun(app, run);
        if (run.hasReport) app.insertBefore(el('p', {}, [el('a', { href: '/files/' + encodeURIComponent(name) + '/report.html', text: 'open report.html' })]), app.children[1]);
      });
      source.addEventListener('gone', function () {
        destroyPlots();
        app.textContent = '';
        app.appendChild(el('p', { class: 'warning', id: 'run-gone', text: name + ': the run directory is gone' }));
      });
    }
    function refresh() {
      fetch('/api/runs').then(function (response) { return response.json(); }).then(function (runs) {
        list.textContent = '';
        runs.forEach(function (r) {
          var link = el('a', { href: '#' + encodeURIComponent(r.name), 'data-run': r.name }, [
            el('span', { class: 'name', text: r.name }),
            el('span', { class: 'status status-' + r.status.replace(/ /g, '-'), text: r.status + ' · ' + r.step + '/' + (r.steps === null ? '?' : r.steps) }),
          ]);
          if (r.name === selected) link.classList.add('active');
          list.appendChild(el('li', {}, [link]));
        });
        var wanted = decodeURIComponent(location.hash.slice(1));
        // a run asked for by the address may appear only once its training writes config.json
        if (wanted && wanted !== selected && runs.some(function (r) { return r.name === wanted; })) select(wanted);
        else if (selected === null && runs.length > 0) {
          var first = runs.filter(function (r) { return r.name === wanted; })[0] || runs.filter(function (r) { return r.status === 'in progress'; })[0] || runs[0];
          select(first.name);
        }
      }).catch(function () { /* the server is restarting; the next refresh tries again */ });
    }
    window.addEventListener('hashchange', function () {
      var name = decodeURIComponent(location.hash.slice(1));
      if (name && name !== selected) select(name);
    });
    refresh();
    setInterval(refresh, 3000);
  }

  var payload = JSON.parse(document.getElementById('stitch-data').textContent);
  var app = document.getElementById('app');
  if (payload.mode === 'report') renderRun(app, payload.run);
  else if (payload.mode === 'compare') renderComparison(app, payload.comparison);
  else renderDashboard(app);
  document.body.setAttribute('data-rendered', 'true');
})();
`;
