// Switchyard request console: the request log (filters, pages, auto-refresh), one request in
// detail (the decision with every candidate's scores, each attempt, usage per model, content when
// logged), and per-model controls in the models table (rotation, breaker reset).
// Every value from the server reaches the page through textContent or an attribute, never as
// markup. Data: dashboard/api/requests[/{id}]; controls: POST dashboard/api/models/{name}/...
// (JSON bodies from this page only; the server refuses other origins).

(() => {
  const pageSize = 25;
  const refreshMs = 2000;
  const filterNames = ['model', 'status', 'key', 'task', 'api', 'range', 'since', 'until'];
  const ranges = { '5m': 300e3, '15m': 900e3, '1h': 3600e3, '24h': 86_400e3, '7d': 7 * 86_400e3 };
  const keyHint = 'needs the admin key: open /dashboard?key=<admin key> once';

  // ---- helpers ---------------------------------------------------------------------------
  // DOM and number helpers shared with the live dashboard (app.js, loaded first).
  const { byId, el, usd, ms } = window.switchyardDom;

  function fixed(value) {
    return typeof value === 'number' ? value.toFixed(3) : '–';
  }

  /** Today: the time; earlier: date and time. */
  function when(time) {
    const date = new Date(time);
    const clock = date.toLocaleTimeString([], { hour12: false });
    return date.toDateString() === new Date().toDateString()
      ? clock
      : `${date.toLocaleDateString()} ${clock}`;
  }

  /** Why a call failed, in words (the API's error message when there is one). */
  function failure(response, body) {
    if (response.status === 401) return keyHint;
    const message = body?.error?.message;
    return message ? `HTTP ${response.status}: ${message}` : `HTTP ${response.status}`;
  }

  async function getJson(path) {
    const response = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } });
    const body = await response.json().catch(() => null);
    return { response, body };
  }

  // ---- filters ---------------------------------------------------------------------------
  const form = byId('request-filters');
  const statusLine = byId('requests-status');
  let applied = {};
  const cursors = [undefined]; // the cursor of every page visited; the last is the one shown
  let nextCursor = null;
  let generation = 0;
  let selectedId;
  // Auto-refresh asks again only when this gateway finished requests since (the live snapshot's
  // count says so), or after a while for sliding time ranges: an idle gateway is not polled.
  let requestsSeen;
  let requestsLoaded;
  let loadedAt = 0;
  let logMissing = false;

  function readFilters() {
    const filters = {};
    for (const name of filterNames) {
      const value = String(form.elements.namedItem(name)?.value ?? '').trim();
      if (value) filters[name] = value;
    }
    return filters;
  }

  function showCustomTime() {
    const custom = form.elements.namedItem('range').value === 'custom';
    for (const label of form.querySelectorAll('.custom-time')) label.hidden = !custom;
  }

  /** The query for the current filters; relative times are taken from now, at every refresh. */
  function queryOf(filters, cursor) {
    const params = new URLSearchParams();
    for (const name of ['model', 'status', 'key', 'task', 'api'])
      if (filters[name]) params.set(name, filters[name]);
    if (filters.range && ranges[filters.range])
      params.set('since', String(Date.now() - ranges[filters.range]));
    if (filters.range === 'custom') {
      for (const name of ['since', 'until']) {
        const time = filters[name] ? new Date(filters[name]).getTime() : Number.NaN;
        if (Number.isFinite(time)) params.set(name, String(time));
      }
    }
    params.set('limit', String(pageSize));
    if (cursor) params.set('cursor', cursor);
    return params.toString();
  }

  /** Filters live in the address (#requests?...), so a reload keeps them. */
  function saveFilters() {
    const params = new URLSearchParams(applied).toString();
    history.replaceState(null, '', params ? `#requests?${params}` : location.pathname);
  }

  function restoreFilters() {
    if (!location.hash.startsWith('#requests?')) return;
    const params = new URLSearchParams(location.hash.slice('#requests?'.length));
    for (const name of filterNames) {
      const field = form.elements.namedItem(name);
      if (field && params.has(name)) field.value = params.get(name);
    }
  }

  function apply() {
    showCustomTime();
    applied = readFilters();
    cursors.length = 1;
    saveFilters();
    load();
  }

  // ---- the list --------------------------------------------------------------------------
  function setStatus(text, state) {
    statusLine.textContent = text;
    statusLine.setAttribute('data-state', state ?? 'none');
  }

  async function load() {
    const ticket = ++generation;
    const seen = requestsSeen;
    try {
      const { response, body } = await getJson(
        `dashboard/api/requests?${queryOf(applied, cursors[cursors.length - 1])}`,
      );
      if (ticket !== generation) return; // a newer load (other filters, other page) is on its way
      if (!response.ok) {
        setStatus(failure(response, body), 'poor');
        logMissing = response.status === 404; // the request log is off: nothing to refresh
        return;
      }
      logMissing = false;
      requestsLoaded = seen;
      loadedAt = Date.now();
      nextCursor = body.next_cursor;
      renderRows(body.data);
      const page = cursors.length;
      byId('requests-page').textContent = `page ${page}`;
      byId('requests-newer').disabled = page === 1;
      byId('requests-older').disabled = !nextCursor;
      const count = body.data.length;
      setStatus(
        `${count === 0 ? 'no requests' : `${count} request${count === 1 ? '' : 's'}`}` +
          (page > 1 ? ' (auto-refresh pauses while you page back)' : '') +
          ` · updated ${new Date().toLocaleTimeString([], { hour12: false })}`,
      );
      document.body.setAttribute('data-requests-loaded', String(Date.now()));
    } catch {
      if (ticket === generation) setStatus('gateway unreachable; retrying…', 'poor');
    }
  }

  function modelCell(row) {
    if (row.model) return el('td', { 'data-field': 'model' }, row.model);
    return el('td', { 'data-field': 'model', 'data-state': 'poor' }, row.error_code ?? 'none');
  }

  // What the table shows now. A refresh that brings the same rows leaves them in place: rows
  // replaced under a click (pressed on the old button, released on the new) lose it.
  let renderedRows;

  function renderRows(rows) {
    const shown = `${new Date().toDateString()} ${JSON.stringify(rows)}`; // `when` leaves today's date out
    if (shown === renderedRows) return;
    renderedRows = shown;
    const body = byId('requests').tBodies[0];
    const out = rows.map((row) => {
      const tr = el('tr', {
        'data-request-id': row.request_id,
        'data-status': row.status >= 400 ? 'error' : 'ok',
      });
      if (row.request_id === selectedId) tr.setAttribute('aria-selected', 'true');
      const open = el(
        'button',
        { type: 'button', class: 'link mono', 'data-action': 'open' },
        row.request_id,
      );
      const idCell = el('td');
      idCell.append(open);
      const tried = row.models_tried.map((attempt) => attempt.model).join(' → ');
      tr.append(
        el('td', { class: 'mono' }, when(row.ts)),
        idCell,
        el('td', {}, row.api),
        el('td', {}, row.requested_model),
        modelCell(row),
        el('td', {}, row.task ?? '–'),
        el('td', { class: 'num', 'data-state': row.status >= 400 ? 'poor' : 'good' }, row.status),
        el('td', { class: 'tried', 'data-fallbacks': row.fallbacks }, tried || '–'),
        el('td', { class: 'num' }, ms(row.latency_ms)),
        el('td', { class: 'num' }, row.prompt_tokens + row.completion_tokens),
        el('td', { class: 'num' }, usd(row.cost_usd)),
        el('td', {}, row.cache ?? '–'),
        el('td', { class: 'mono' }, row.client_key_id ?? '–'),
      );
      return tr;
    });
    if (out.length === 0) {
      const tr = el('tr');
      tr.append(el('td', { colspan: 13, class: 'empty' }, 'No requests match these filters.'));
      out.push(tr);
    }
    body.replaceChildren(...out);
  }

  // ---- the detail view -------------------------------------------------------------------
  const detail = byId('request-detail');

  async function openDetail(id) {
    selectedId = id;
    for (const tr of byId('requests').tBodies[0].rows) {
      if (tr.getAttribute('data-request-id') === id) tr.setAttribute('aria-selected', 'true');
      else tr.removeAttribute('aria-selected');
    }
    const { response, body } = await getJson(`dashboard/api/requests/${encodeURIComponent(id)}`).catch(
      () => ({ response: { ok: false, status: 0 }, body: null }),
    );
    if (selectedId !== id) return;
    if (!response.ok) {
      setStatus(
        `request ${id}: ${response.status ? failure(response, body) : 'gateway unreachable'}`,
        'poor',
      );
      return;
    }
    renderDetail(body);
    detail.hidden = false;
    detail.scrollIntoView({ block: 'nearest' });
  }

  function closeDetail() {
    selectedId = undefined;
    detail.hidden = true;
    for (const tr of byId('requests').tBodies[0].rows) tr.removeAttribute('aria-selected');
  }

  function fact(list, name, value, state) {
    const wrap = el('div', { 'data-fact': name });
    wrap.append(el('dt', {}, name), el('dd', state ? { 'data-state': state } : {}, value));
    list.append(wrap);
  }

  function renderDetail(row) {
    detail.setAttribute('data-request-id', row.request_id);
    byId('detail-id').textContent = row.request_id;
    const facts = byId('detail-facts');
    facts.replaceChildren();
    fact(facts, 'Time', when(row.ts));
    facts.lastElementChild.title = new Date(row.ts).toISOString();
    fact(facts, 'API', `${row.api}${row.stream ? ' (stream)' : ''}`);
    fact(facts, 'Requested', row.requested_model);
    fact(facts, 'Answered by', row.model ?? 'none', row.model ? 'good' : 'poor');
    fact(
      facts,
      'Status',
      row.error_code ? `${row.status} ${row.error_code}` : row.status,
      row.status >= 400 ? 'poor' : 'good',
    );
    fact(facts, 'Task', row.task ?? '–');
    fact(facts, 'Priority', row.priority ?? '–');
    fact(facts, 'Latency', ms(row.latency_ms));
    fact(facts, 'First token', ms(row.ttft_ms));
    fact(facts, 'Fallbacks / retries', `${row.fallbacks} / ${row.retries}`);
    fact(
      facts,
      'Tokens',
      `${row.prompt_tokens} in, ${row.completion_tokens} out${row.usage_estimated ? ' (estimated)' : ''}`,
    );
    fact(facts, 'Cost', usd(row.cost_usd));
    fact(facts, 'Cache', row.cache ?? 'not looked up');
    fact(facts, 'Feedback', row.feedback_score === null ? 'none' : row.feedback_score.toFixed(2));
    fact(facts, 'Key', row.client_key_id ?? '–');
    if (row.client_request_id) fact(facts, 'Client request id', row.client_request_id);
    const error = byId('detail-error');
    error.hidden = !row.error_message;
    error.textContent = row.error_message ?? '';
    byId('detail-reason').textContent = row.reason ?? 'No routing decision: the request never got one.';
    renderCandidates(row);
    renderAttempts(row);
    renderUsage(row);
    renderContent(row);
  }

  function roleOf(decision, model) {
    if (model === decision.primary) return 'primary';
    const index = decision.fallbacks.indexOf(model);
    return index >= 0 ? `fallback ${index + 1}` : '–';
  }

  function renderCandidates(row) {
    const decision = row.decision;
    const rows = (decision?.candidates ?? []).map((candidate) => {
      const tr = el('tr', { 'data-model': candidate.model });
      if (candidate.model === row.model) tr.setAttribute('data-answered', 'true');
      const name = el('th', { scope: 'row' }, candidate.model);
      if (candidate.model === row.model)
        name.append(el('span', { class: 'pill', 'data-state': 'good' }, ' answered'));
      tr.append(
        name,
        el('td', { 'data-field': 'role' }, roleOf(decision, candidate.model)),
        el('td', { class: 'num', 'data-field': 'score' }, fixed(candidate.score)),
        el('td', { class: 'num', 'data-field': 'match' }, fixed(candidate.match)),
        el('td', { class: 'num', 'data-field': 'health' }, fixed(candidate.health)),
        el('td', { class: 'num', 'data-field': 'cost' }, fixed(candidate.cost)),
        el('td', { class: 'num', 'data-field': 'speed' }, fixed(candidate.speed)),
        el('td', { class: 'num', 'data-field': 'quality' }, fixed(candidate.quality)),
        el(
          'td',
          { class: 'num', 'data-field': 'predicted' },
          candidate.predicted === undefined ? '–' : fixed(candidate.predicted),
        ),
      );
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      tr.append(
        el(
          'td',
          { colspan: 9, class: 'empty' },
          decision ? 'No candidate was scored.' : 'No decision recorded.',
        ),
      );
      rows.push(tr);
    }
    byId('detail-candidates').tBodies[0].replaceChildren(...rows);
    const excluded = (decision?.excluded ?? []).map((entry) => {
      const item = el('li', { 'data-model': entry.model });
      item.append(el('strong', {}, entry.model), el('span', { class: 'muted' }, `excluded: ${entry.reason}`));
      return item;
    });
    byId('detail-excluded').replaceChildren(...excluded);
  }

  function renderAttempts(row) {
    // The log keeps attempts in the order they ended (a hedge that wins ends first): show them by start.
    const attempts = row.models_tried
      .map((attempt, index) => ({ attempt, index }))
      .sort(
        (a, b) => (a.attempt.started_at ?? a.index) - (b.attempt.started_at ?? b.index) || a.index - b.index,
      )
      .map((entry) => entry.attempt);
    // The timeline spans the request: each attempt placed at its start, as long as it took.
    let span = Math.max(1, row.latency_ms);
    for (const attempt of attempts) {
      if (attempt.started_at !== undefined)
        span = Math.max(span, attempt.started_at - row.ts + attempt.latency_ms);
    }
    const items = attempts.map((attempt, index) => {
      const item = el('li', { 'data-model': attempt.model, 'data-outcome': attempt.outcome });
      const offset = attempt.started_at === undefined ? null : Math.max(0, attempt.started_at - row.ts);
      const head = el('div', { class: 'attempt-head' });
      head.append(
        el('span', { class: 'mono' }, `#${index + 1}`),
        el('strong', {}, attempt.model),
        el(
          'span',
          {
            class: 'pill',
            'data-state': attempt.outcome === 'success' ? 'good' : 'poor',
            'data-field': 'outcome',
          },
          attempt.outcome,
        ),
        el(
          'span',
          { class: 'mono', 'data-field': 'status' },
          attempt.status === null ? '' : `HTTP ${attempt.status}`,
        ),
        el('span', { class: 'mono', 'data-field': 'latency' }, ms(attempt.latency_ms)),
        el('span', { class: 'muted', 'data-field': 'start' }, offset === null ? '' : `at +${ms(offset)}`),
      );
      if (attempt.hedge) head.append(el('span', { class: 'pill hedge', 'data-field': 'hedge' }, 'hedge'));
      const track = el('div', { class: 'timeline', 'aria-hidden': 'true' });
      const bar = el('span', {
        class: 'timeline-bar',
        'data-state': attempt.outcome === 'success' ? 'good' : 'poor',
      });
      bar.style.left = `${(((offset ?? 0) / span) * 100).toFixed(2)}%`;
      bar.style.width = `${Math.max(0.5, (attempt.latency_ms / span) * 100).toFixed(2)}%`;
      track.append(bar);
      item.append(head, track);
      if (attempt.message) item.append(el('div', { class: 'muted attempt-message' }, attempt.message));
      return item;
    });
    if (items.length === 0)
      items.push(
        el('li', { class: 'empty' }, 'No upstream attempt (answered from the cache, or refused before any).'),
      );
    byId('detail-attempts').replaceChildren(...items);
  }

  function renderUsage(row) {
    const usage = row.usage ?? [];
    const rows = usage.map((entry) => {
      const tr = el('tr', { 'data-model': entry.model });
      tr.append(
        el('th', { scope: 'row' }, entry.model),
        el('td', { class: 'num' }, entry.prompt_tokens),
        el('td', { class: 'num' }, entry.completion_tokens),
        el('td', { class: 'num' }, entry.cached_tokens),
        el('td', { class: 'num' }, usd(entry.cost_usd)),
        el('td', {}, entry.estimated ? 'estimated (tokenizer)' : 'upstream usage'),
      );
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      tr.append(el('td', { colspan: 6, class: 'empty' }, 'No model delivered any part of an answer.'));
      rows.push(tr);
    }
    byId('detail-usage').tBodies[0].replaceChildren(...rows);
  }

  function renderContent(row) {
    const box = byId('detail-content');
    if (row.content === null || row.content === undefined) {
      box.replaceChildren(
        el('p', { class: 'muted' }, 'Not logged (observability.request_log.log_content is off).'),
      );
      return;
    }
    const request = row.content.request;
    box.replaceChildren(
      el('h4', {}, 'Request'),
      el(
        'pre',
        { class: 'content', 'data-field': 'request' },
        typeof request === 'string' ? request : JSON.stringify(request, null, 2),
      ),
      el('h4', {}, 'Answer'),
      el('pre', { class: 'content', 'data-field': 'response' }, row.content.response ?? ''),
    );
  }

  // ---- model controls --------------------------------------------------------------------
  const controlMessage = byId('control-message');
  const controls = new Map();

  function say(text, state) {
    controlMessage.textContent = text;
    controlMessage.setAttribute('data-state', state ?? 'none');
  }

  function controlsOf(tr, model) {
    let entry = controls.get(model);
    if (entry && entry.tr === tr) return entry;
    const rotation = el('td', { 'data-field': 'rotation' });
    const actions = el('td', { 'data-field': 'controls', class: 'controls' });
    const toggle = el('button', { type: 'button', 'data-action': 'rotation' }, 'Take out');
    const reset = el('button', { type: 'button', 'data-action': 'reset' }, 'Reset breaker');
    actions.append(toggle, reset);
    tr.append(rotation, actions);
    entry = { tr, rotation, toggle, reset, inRotation: undefined, breaker: undefined };
    toggle.addEventListener('click', () =>
      send(
        model,
        'rotation',
        { in_rotation: entry.inRotation === false },
        entry.inRotation === false ? 'putting back' : 'taking out',
      ),
    );
    reset.addEventListener('click', () => send(model, 'breaker/reset', {}, 'resetting the breaker'));
    controls.set(model, entry);
    return entry;
  }

  function showControls(entry, inRotation, breaker) {
    entry.inRotation = inRotation;
    entry.breaker = breaker;
    const known = inRotation !== undefined;
    const text = !known ? '–' : inRotation ? 'in rotation' : 'out of rotation';
    if (entry.rotation.textContent !== text) entry.rotation.textContent = text;
    entry.rotation.setAttribute('data-state', !known ? 'none' : inRotation ? 'good' : 'poor');
    entry.tr.setAttribute('data-rotation', !known ? 'unknown' : inRotation ? 'in' : 'out');
    const label = inRotation === false ? 'Put back' : 'Take out';
    if (entry.toggle.textContent !== label) entry.toggle.textContent = label;
    if (!entry.busy) {
      entry.toggle.disabled = !known;
      entry.reset.disabled = !known || breaker === 'closed';
    }
    entry.reset.title = breaker === 'closed' ? 'the breaker is closed' : 'close the breaker now';
  }

  function renderControls(models) {
    const rows = byId('models').tBodies[0].rows;
    for (const tr of rows) {
      const model = tr.getAttribute('data-model');
      const status = models.find((entry) => entry.model === model);
      if (model === null || !status) continue;
      showControls(controlsOf(tr, model), status.in_rotation, status.breaker);
    }
  }

  async function send(model, action, payload, doing) {
    const entry = controls.get(model);
    if (!entry || entry.busy) return;
    entry.busy = true;
    entry.toggle.disabled = true;
    entry.reset.disabled = true;
    say(`${model}: ${doing}…`);
    try {
      const response = await fetch(`dashboard/api/models/${encodeURIComponent(model)}/${action}`, {
        method: 'POST',
        cache: 'no-store',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(payload),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        say(`${model}: ${doing} failed (${failure(response, body)})`, 'poor');
        return;
      }
      entry.busy = false;
      showControls(entry, body.in_rotation, body.breaker);
      const breakerCell = entry.tr.querySelector('[data-field="breaker"]');
      if (breakerCell) {
        breakerCell.textContent = body.breaker.toUpperCase();
        breakerCell.setAttribute('data-state', body.breaker);
      }
      say(
        action === 'rotation'
          ? `${model} is ${body.in_rotation ? 'back in rotation' : 'out of rotation: routing skips it on every instance'}`
          : `${model}: breaker ${body.breaker.toUpperCase()}`,
        'good',
      );
    } catch {
      say(`${model}: ${doing} failed (gateway unreachable)`, 'poor');
    } finally {
      entry.busy = false;
      showControls(entry, entry.inRotation, entry.breaker);
    }
  }

  function fillModelNames(models) {
    const list = byId('model-names');
    if (list.childElementCount === models.length) return;
    list.replaceChildren(...models.map((model) => el('option', { value: model.model })));
  }

  // ---- wiring ----------------------------------------------------------------------------
  document.addEventListener('switchyard:snapshot', (event) => {
    requestsSeen = event.detail?.totals?.requests;
    const models = event.detail?.models ?? [];
    fillModelNames(models);
    renderControls(models);
  });

  let typing;
  form.addEventListener('submit', (event) => {
    event.preventDefault(); // the page's CSP allows no form submission; filters apply in place
    apply();
  });
  form.addEventListener('reset', () => setTimeout(apply, 0)); // after the fields are cleared
  form.addEventListener('change', (event) => {
    if (event.target.name !== 'auto') apply();
  });
  form.addEventListener('input', (event) => {
    if (event.target.tagName !== 'INPUT' || event.target.type !== 'text') return;
    clearTimeout(typing);
    typing = setTimeout(apply, 300);
  });

  byId('requests-older').addEventListener('click', () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    load();
  });
  byId('requests-newer').addEventListener('click', () => {
    if (cursors.length > 1) cursors.pop();
    load();
  });
  byId('requests').tBodies[0].addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-request-id]');
    if (tr) openDetail(tr.getAttribute('data-request-id'));
  });
  // The live decisions table opens the same detail view.
  byId('decisions').tBodies[0].addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-request-id]');
    if (tr) openDetail(tr.getAttribute('data-request-id'));
  });
  byId('detail-close').addEventListener('click', closeDetail);

  setInterval(() => {
    const auto = form.elements.namedItem('auto').checked;
    if (!auto || cursors.length > 1 || document.hidden || logMissing) return;
    const news = requestsSeen === undefined || requestsSeen !== requestsLoaded;
    if (news || Date.now() - loadedAt > 30_000) load();
  }, refreshMs);

  restoreFilters();
  showCustomTime();
  applied = readFilters();
  load();
})();
