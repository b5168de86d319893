// Switchyard live dashboard: plain DOM + SVG, no framework, no build step.
// Every value from the server reaches the page through textContent or an attribute, never as
// markup. Data: server-sent events from dashboard/events (a snapshot a second); polling of
// dashboard/api/snapshot where EventSource is missing.

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const palette = [
    '#4f8cff',
    '#f5a524',
    '#2fbf71',
    '#e5484d',
    '#a26bff',
    '#14b8c4',
    '#f76ba8',
    '#8d99ae',
    '#c2d94c',
    '#ff8a4c',
  ];
  const colors = new Map();
  const modelRows = new Map();

  function colorOf(model) {
    if (!colors.has(model)) colors.set(model, palette[colors.size % palette.length]);
    return colors.get(model);
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    if (attrs) for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  // ---- formatting ------------------------------------------------------------------------
  function usd(value) {
    if (value === null || value === undefined) return '–';
    if (value === 0) return '$0.00';
    if (value < 0.01) return `$${value.toFixed(5)}`;
    if (value < 1) return `$${value.toFixed(4)}`;
    return `$${value.toFixed(2)}`;
  }

  function ms(value) {
    if (value === null || value === undefined) return '–';
    if (value < 1000) return `${Math.round(value)} ms`;
    return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  }

  function percent(value) {
    if (value === null || value === undefined) return '–';
    return `${(value * 100).toFixed(value === 1 ? 0 : 1)}%`;
  }

  function duration(seconds) {
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
    const hours = Math.floor(seconds / 3600);
    return `${hours}h ${Math.floor((seconds % 3600) / 60)}m`;
  }

  function clock(time) {
    return new Date(time).toLocaleTimeString([], { hour12: false });
  }

  // ---- models table ----------------------------------------------------------------------
  const modelFields = [
    'provider',
    'state',
    'breaker',
    'health',
    'in_flight',
    'rps',
    'success',
    'p50',
    'p99',
    'spend_today',
  ];
  const numeric = new Set(['health', 'in_flight', 'rps', 'success', 'p50', 'p99', 'spend_today']);

  function modelRow(model) {
    let row = modelRows.get(model);
    if (row) return row;
    const tr = el('tr', { 'data-model': model });
    const name = el('th', { scope: 'row', 'data-field': 'model' });
    const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = colorOf(model);
    name.append(swatch, document.createTextNode(model));
    tr.append(name);
    const cells = {};
    for (const field of modelFields) {
      const td = el('td', { 'data-field': field });
      if (numeric.has(field)) td.className = 'num';
      cells[field] = td;
      tr.append(td);
    }
    byId('models').tBodies[0].append(tr);
    row = { tr, cells };
    modelRows.set(model, row);
    return row;
  }

  function setCell(cell, text, state) {
    if (cell.textContent !== text) cell.textContent = text;
    if (state !== undefined && cell.getAttribute('data-state') !== state)
      cell.setAttribute('data-state', state);
  }

  function renderModels(models) {
    for (const model of models) {
      const { tr, cells } = modelRow(model.model);
      tr.setAttribute('data-state', model.state);
      setCell(cells.provider, model.provider);
      setCell(cells.state, model.state, model.state);
      setCell(cells.breaker, model.breaker.toUpperCase(), model.breaker);
      const health = model.health_score;
      setCell(cells.health, health.toFixed(2), health >= 0.8 ? 'good' : health >= 0.5 ? 'fair' : 'poor');
      setCell(cells.in_flight, String(model.in_flight));
      setCell(cells.rps, model.rps.toFixed(model.rps >= 10 ? 1 : 2));
      const success = model.success_rate_recent ?? model.success_rate;
      setCell(
        cells.success,
        percent(success),
        success === null ? 'none' : success >= 0.95 ? 'good' : success >= 0.8 ? 'fair' : 'poor',
      );
      cells.success.title =
        model.success_rate_recent === null ? 'since start (no attempts in the last minute)' : 'last minute';
      setCell(cells.p50, ms(model.p50_ms));
      setCell(cells.p99, ms(model.p99_ms));
      setCell(cells.spend_today, usd(model.spend_today_usd));
    }
  }

  // ---- charts ----------------------------------------------------------------------------
  function chartBox(node, fallbackHeight) {
    const width = Math.max(200, Math.round(node.clientWidth || 600));
    const height = Math.max(120, Math.round(node.clientHeight || fallbackHeight));
    node.setAttribute('viewBox', `0 0 ${width} ${height}`);
    node.setAttribute('preserveAspectRatio', 'xMinYMin meet');
    return { width, height, left: 48, right: 8, top: 10, bottom: 22 };
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function axes(node, box, maxY, format, buckets, bucketSeconds) {
    const plotH = box.height - box.top - box.bottom;
    const plotW = box.width - box.left - box.right;
    for (let i = 0; i <= 4; i++) {
      const y = box.top + plotH - (plotH * i) / 4;
      node.append(svg('line', { x1: box.left, x2: box.width - box.right, y1: y, y2: y, class: 'grid' }));
      node.append(
        svg(
          'text',
          { x: box.left - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' },
          format((maxY * i) / 4),
        ),
      );
    }
    const span = buckets * bucketSeconds;
    for (const minutesAgo of [10, 8, 6, 4, 2, 0]) {
      if (minutesAgo * 60 > span) continue;
      const x = box.left + plotW * (1 - (minutesAgo * 60) / span);
      node.append(
        svg(
          'text',
          { x, y: box.height - 6, class: 'tick', 'text-anchor': minutesAgo === 0 ? 'end' : 'middle' },
          minutesAgo === 0 ? 'now' : `-${minutesAgo}m`,
        ),
      );
    }
  }

  function renderTraffic(snapshot) {
    const node = byId('traffic-chart');
    const box = chartBox(node, 220);
    node.replaceChildren();
    const names = snapshot.models.map((model) => model.model);
    const series = snapshot.series;
    const length = series.models[names[0]]?.requests.length ?? 0;
    if (length === 0) return;
    const totals = new Array(length).fill(0);
    for (const name of names) {
      const values = series.models[name]?.requests ?? [];
      for (let i = 0; i < values.length; i++) totals[i] += values[i];
    }
    const maxY = niceMax(Math.max(...totals));
    axes(node, box, maxY, (value) => String(Math.round(value * 10) / 10), length, series.bucket_s);
    const plotH = box.height - box.top - box.bottom;
    const plotW = box.width - box.left - box.right;
    const x = (i) => box.left + (plotW * i) / (length - 1);
    const y = (value) => box.top + plotH - (plotH * value) / maxY;
    const base = new Array(length).fill(0);
    for (const name of names) {
      const values = series.models[name]?.requests ?? [];
      const upper = values.map((value, i) => base[i] + value);
      if (values.some((value) => value > 0)) {
        let d = `M${x(0)},${y(upper[0])}`;
        for (let i = 1; i < length; i++) d += ` L${x(i)},${y(upper[i])}`;
        for (let i = length - 1; i >= 0; i--) d += ` L${x(i)},${y(base[i])}`;
        d += ' Z';
        const area = svg('path', {
          d,
          fill: colorOf(name),
          'fill-opacity': 0.75,
          stroke: colorOf(name),
          'stroke-width': 1,
        });
        area.append(svg('title', {}, name));
        node.append(area);
      }
      for (let i = 0; i < length; i++) base[i] = upper[i];
    }
    renderShare(snapshot, names);
  }

  function renderShare(snapshot, names) {
    const bar = byId('share-bar');
    const recent = 30; // last 5 minutes of 10 s buckets
    const sums = names.map((name) => {
      const values = snapshot.series.models[name]?.requests ?? [];
      return values.slice(-recent).reduce((total, value) => total + value, 0);
    });
    const total = sums.reduce((a, b) => a + b, 0);
    bar.replaceChildren();
    if (total === 0) {
      bar.append(el('span', { class: 'share-empty' }, 'no traffic in the last 5 minutes'));
      return;
    }
    names.forEach((name, i) => {
      if (sums[i] === 0) return;
      const share = sums[i] / total;
      const segment = el('span', {
        class: 'share-segment',
        'data-model': name,
        title: `${name}: ${percent(share)}`,
      });
      segment.style.flexGrow = String(share);
      segment.style.background = colorOf(name);
      if (share >= 0.12) segment.textContent = `${name} ${Math.round(share * 100)}%`;
      else if (share >= 0.05) segment.textContent = `${Math.round(share * 100)}%`;
      bar.append(segment);
    });
  }

  function renderLatency(snapshot) {
    const node = byId('latency-chart');
    const box = chartBox(node, 250);
    node.replaceChildren();
    const names = snapshot.models.map((model) => model.model);
    const series = snapshot.series;
    const length = series.models[names[0]]?.latency_ms.length ?? 0;
    if (length === 0) return;
    let max = 0;
    for (const name of names)
      for (const value of series.models[name]?.latency_ms ?? [])
        if (value !== null) max = Math.max(max, value);
    const maxY = niceMax(max || 1000);
    axes(node, box, maxY, (value) => ms(value), length, series.bucket_s);
    const plotH = box.height - box.top - box.bottom;
    const plotW = box.width - box.left - box.right;
    const x = (i) => box.left + (plotW * i) / (length - 1);
    const y = (value) => box.top + plotH - (plotH * value) / maxY;
    for (const name of names) {
      const values = series.models[name]?.latency_ms ?? [];
      let d = '';
      let pen = false;
      values.forEach((value, i) => {
        if (value === null) {
          pen = false;
          return;
        }
        d += `${pen ? ' L' : ' M'}${x(i)},${y(value)}`;
        pen = true;
      });
      if (!d) continue;
      const line = svg('path', {
        d: d.trim(),
        fill: 'none',
        stroke: colorOf(name),
        'stroke-width': 2,
        'stroke-linejoin': 'round',
      });
      line.append(svg('title', {}, name));
      node.append(line);
      // A dot for isolated points, which a path alone would not show.
      values.forEach((value, i) => {
        const lonely = value !== null && (values[i - 1] ?? null) === null && (values[i + 1] ?? null) === null;
        if (lonely) node.append(svg('circle', { cx: x(i), cy: y(value), r: 2.5, fill: colorOf(name) }));
      });
    }
  }

  function renderLegend(id, models) {
    const list = byId(id);
    if (list.childElementCount === models.length) return;
    list.replaceChildren();
    for (const model of models) {
      const item = el('li', { 'data-model': model.model });
      const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.background = colorOf(model.model);
      item.append(swatch, document.createTextNode(model.model));
      list.append(item);
    }
  }

  // ---- decisions and breaker events ------------------------------------------------------
  function renderDecisions(decisions) {
    const body = byId('decisions').tBodies[0];
    const rows = decisions.map((decision) => {
      const tr = el('tr', {
        'data-request-id': decision.request_id,
        'data-status': decision.status >= 400 ? 'error' : 'ok',
      });
      const model = el('td', { class: 'name' });
      if (decision.model) {
        const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
        swatch.style.background = colorOf(decision.model);
        model.append(swatch, document.createTextNode(decision.model));
      } else {
        model.textContent = decision.error_code ?? 'none';
      }
      tr.append(
        el('td', { class: 'mono' }, clock(decision.time)),
        el('td', {}, decision.requested_model),
        el('td', {}, decision.task ?? '–'),
        el('td', {}, decision.priority ?? '–'),
        model,
        el(
          'td',
          { class: 'num', 'data-state': decision.fallbacks > 0 ? 'fair' : 'none' },
          decision.fallbacks,
        ),
        el('td', { class: 'num', 'data-state': decision.status >= 400 ? 'poor' : 'good' }, decision.status),
        el('td', { class: 'num' }, ms(decision.latency_ms)),
        el('td', { class: 'num' }, usd(decision.cost_usd)),
        el('td', { class: 'reason' }, decision.reason ?? decision.error_code ?? ''),
      );
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      tr.append(el('td', { colspan: 10, class: 'empty' }, 'No requests yet.'));
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  function renderBreakerEvents(events) {
    const list = byId('breaker-events');
    const items = events.map((event) => {
      const item = el('li', { 'data-model': event.model });
      item.append(
        el('span', { class: 'mono' }, clock(event.time)),
        el('strong', {}, event.model),
        el('span', { class: 'pill', 'data-state': event.from }, event.from.toUpperCase()),
        el('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'),
        el('span', { class: 'pill', 'data-state': event.to }, event.to.toUpperCase()),
        el('span', { class: 'muted' }, event.reason),
      );
      return item;
    });
    if (items.length === 0) items.push(el('li', { class: 'empty' }, 'No breaker transitions since start.'));
    list.replaceChildren(...items);
  }

  // ---- keys ------------------------------------------------------------------------------
  function budgetCell(key) {
    const cell = el('td', { 'data-field': 'budget' });
    if (key.budget_usd === null) {
      cell.textContent = 'none';
      return cell;
    }
    const spent = key.period_spend_usd ?? 0;
    const share = Math.min(1, spent / key.budget_usd);
    const bar = el('span', { class: 'budget-bar', 'aria-hidden': 'true' });
    const fill = el('span', {
      class: 'budget-fill',
      'data-state': share >= 1 ? 'poor' : share >= 0.8 ? 'fair' : 'good',
    });
    fill.style.width = `${(share * 100).toFixed(1)}%`;
    bar.append(fill);
    cell.append(
      bar,
      document.createTextNode(`${usd(spent)} of ${usd(key.budget_usd)} / ${key.budget_period}`),
    );
    return cell;
  }

  /** Today: the time; earlier: the date. */
  function lastUse(time) {
    const day = new Date(time).toDateString() === new Date().toDateString();
    return day ? clock(time) : new Date(time).toLocaleDateString();
  }

  function renderKeys(keys) {
    const rows = keys.map((key) => {
      const tr = el('tr', { 'data-key': key.id, 'data-state': key.status });
      const limit = (value) => el('td', { class: 'num' }, value ?? '–');
      tr.append(
        el('th', { scope: 'row', class: 'mono' }, key.id),
        el('td', {}, key.name),
        el('td', { 'data-state': key.status === 'active' ? 'good' : 'poor' }, key.status),
        el('td', {}, key.models ? key.models.join(', ') : 'all'),
        limit(key.rpm),
        limit(key.tpm),
        limit(key.max_concurrency),
        budgetCell(key),
        el('td', { class: 'num' }, usd(key.spend_usd)),
        el('td', { class: 'num' }, key.requests),
        el('td', { class: 'mono' }, key.last_used_at ? lastUse(key.last_used_at) : 'never'),
      );
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      tr.append(
        el(
          'td',
          { colspan: 11, class: 'empty' },
          'No virtual keys. Make one with POST /admin/keys or switchyard keys create.',
        ),
      );
      rows.push(tr);
    }
    byId('keys').tBodies[0].replaceChildren(...rows);
  }

  // ---- snapshot --------------------------------------------------------------------------
  let latest;
  function render(snapshot) {
    latest = snapshot;
    byId('spend-today').textContent = usd(snapshot.totals.spend_today_usd);
    byId('spend-today').title =
      `local day ${snapshot.totals.day}; ${usd(snapshot.totals.cost_usd)} since start`;
    byId('total-rps').textContent = snapshot.totals.rps.toFixed(2);
    byId('total-requests').textContent = String(snapshot.totals.requests);
    byId('total-errors').textContent = String(snapshot.totals.errors);
    byId('uptime').textContent = duration(snapshot.uptime_s);
    renderModels(snapshot.models);
    renderLegend('legend-traffic', snapshot.models);
    renderLegend('legend-latency', snapshot.models);
    renderTraffic(snapshot);
    renderLatency(snapshot);
    renderDecisions(snapshot.decisions);
    renderBreakerEvents(snapshot.breaker_events);
    renderKeys(snapshot.keys ?? []);
    document.body.setAttribute('data-updated', String(snapshot.time));
    // The request console (console.js) adds its model controls from the same snapshot.
    document.dispatchEvent(new CustomEvent('switchyard:snapshot', { detail: snapshot }));
  }

  function setConnection(state, text) {
    const node = byId('connection');
    node.setAttribute('data-state', state);
    node.textContent = text;
  }

  function handle(text) {
    try {
      render(JSON.parse(text));
    } catch (error) {
      console.error('dashboard: bad snapshot', error);
    }
  }

  // With an admin key configured, open the page once as /dashboard?key=<admin key>: the server
  // exchanges the key for an HttpOnly cookie and drops it from the address, and the data
  // endpoints read the cookie (the key never travels in a URL again).
  const keyHint = 'needs the admin key: open /dashboard?key=<admin key> once';

  /** The snapshot endpoint says why the stream cannot connect (EventSource hides the status). */
  function explain() {
    fetch('dashboard/api/snapshot', { cache: 'no-store' })
      .then((response) => {
        if (response.status === 401) setConnection('down', keyHint);
        else if (!response.ok) setConnection('down', `unavailable (HTTP ${response.status}); reconnecting…`);
        else setConnection('down', 'reconnecting…');
      })
      .catch(() => setConnection('down', 'gateway unreachable; reconnecting…'));
  }

  function poll() {
    fetch('dashboard/api/snapshot', { cache: 'no-store' })
      .then((response) => {
        if (response.status === 401) throw new Error(keyHint);
        if (!response.ok) throw new Error(`unavailable (HTTP ${response.status})`);
        return response.text();
      })
      .then((text) => {
        setConnection('live', 'live (polling)');
        handle(text);
      })
      .catch((error) => setConnection('down', error.message || 'disconnected'))
      .finally(() => setTimeout(poll, 1000));
  }

  function connect() {
    if (typeof EventSource !== 'function') {
      poll();
      return;
    }
    const source = new EventSource('dashboard/events');
    source.onopen = () => setConnection('live', 'live');
    source.onmessage = (event) => {
      setConnection('live', 'live');
      handle(event.data);
    };
    source.onerror = () => explain();
  }

  window.addEventListener('resize', () => {
    if (latest) {
      renderTraffic(latest);
      renderLatency(latest);
    }
  });

  // The request console (console.js, loaded next) builds its DOM with the same helpers.
  window.switchyardDom = Object.freeze({ byId, el, usd, ms });

  connect();
})();
