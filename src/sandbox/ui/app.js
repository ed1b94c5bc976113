// Sandbox EHR page. Behaves like a browser-based EHR: it asks its own server for a signed hook call
// (POST /sandbox/api/hook-request), then POSTs that call from the browser straight to the CDS service
// and renders the cards (CDS Hooks 2.0.1 §CDS Service Response, §Feedback); a card's SMART link is opened
// through an EHR launch (launchSmartApp). No framework, no build.
import { renderMarkdown, safeUrl } from './markdown.js';

const API = new URL('./api/', window.location.href);
const INDICATOR_LABELS = { info: 'Info', warning: 'Warning', critical: 'Critical' };

const state = {
  /** @type {Array<{id:string,name:string,gender:string,birthDate:string,age:number,scenario:string}>} */
  patients: [],
  /** @type {Array<{id:string,hook:string,title?:string,description:string}>} */
  services: [],
  /** @type {Array<{key:string,label:string,resourceType:string}>} */
  draftOrders: [],
  /** The service the last cards came from (for feedback). */
  lastServiceId: '',
  /** The patient the last cards are about (a SMART link launches for them, whatever is selected now). */
  lastPatientId: '',
  /** @type {Array<{id:string,patientId:string,label:string}>} Shipped ECG tracings (GET /api/ecg-tracings). */
  tracings: [],
};

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** document.createElement with text and attributes; never sets innerHTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = String(value);
    else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJson(path) {
  const res = await fetch(new URL(path, API), { headers: { Accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${res.status} ${body.message ?? res.statusText}`);
  return body;
}

async function postJson(path, payload) {
  const res = await fetch(new URL(path, API), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(payload),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new HttpProblem(res.status, body);
  return body;
}

class HttpProblem extends Error {
  constructor(status, body) {
    super(typeof body?.message === 'string' ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// ---------------------------------------------------------------- patients, services, orders

function renderPatients() {
  const list = $('patients');
  list.querySelectorAll('.patient').forEach((n) => n.remove());
  state.patients.forEach((p, i) => {
    const id = `patient-${i}`;
    list.append(
      el(
        'div',
        { class: 'patient' },
        el('input', { type: 'radio', name: 'patient', id, value: p.id, checked: i === 0 }),
        el(
          'label',
          { for: id },
          el('span', { class: 'name' }, p.name),
          ` — ${p.age} y, ${p.gender}`,
          el('span', { class: 'scenario' }, p.scenario),
        ),
      ),
    );
  });
  $('patients-status').textContent = state.patients.length
    ? `${state.patients.length} synthetic patients.`
    : 'No patients loaded.';
}

function selectedPatientId() {
  const checked = /** @type {HTMLInputElement | null} */ (document.querySelector('input[name="patient"]:checked'));
  return checked?.value ?? '';
}

function renderServices() {
  const hook = /** @type {HTMLSelectElement} */ ($('hook')).value;
  const select = /** @type {HTMLSelectElement} */ ($('service'));
  const previous = select.value;
  select.replaceChildren();
  const matching = state.services.filter((s) => s.hook === hook);
  for (const s of matching) select.append(el('option', { value: s.id, selected: s.id === previous }, s.title ? `${s.title} (${s.id})` : s.id));
  if (!matching.length) select.append(el('option', { value: '' }, `No service listens on ${hook}`));
  $('orders').hidden = hook === 'patient-view';
  /** @type {HTMLButtonElement} */ ($('fire')).disabled = !matching.length;
}

function renderOrderChoices() {
  const box = $('order-choices');
  box.replaceChildren();
  state.draftOrders.forEach((o, i) => {
    const id = `order-${o.key}`;
    box.append(
      el(
        'div',
        { class: 'field checkbox' },
        el('input', { type: 'checkbox', id, name: 'draftOrder', value: o.key, checked: i === 0 }),
        el('label', { for: id }, `${o.label} (${o.resourceType})`),
      ),
    );
  });
}

function selectedOrders() {
  return [...document.querySelectorAll('input[name="draftOrder"]:checked')].map((n) => /** @type {HTMLInputElement} */ (n).value);
}

// ---------------------------------------------------------------- firing a hook

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(message) {
  $('call-status').textContent = message;
}

async function fireHook(event) {
  event.preventDefault();
  showError('');
  const hook = /** @type {HTMLSelectElement} */ ($('hook')).value;
  const serviceId = /** @type {HTMLSelectElement} */ ($('service')).value;
  const patientId = selectedPatientId();
  if (!patientId || !serviceId) {
    showError('Choose a patient and a service first.');
    return;
  }
  const request = {
    serviceId,
    hook,
    patientId,
    prefetch: /** @type {HTMLInputElement} */ ($('send-prefetch')).checked ? 'fill' : 'none',
    ...(hook === 'patient-view' ? {} : { draftOrders: selectedOrders() }),
  };
  const button = /** @type {HTMLButtonElement} */ ($('fire'));
  button.disabled = true;
  setStatus('Preparing the hook call…');
  try {
    const call = await postJson('hook-request', request);
    await sendHookCall(call, serviceId, patientId);
  } catch (err) {
    const status = err instanceof HttpProblem ? `${err.status}: ` : '';
    showError(`Could not fire the hook — ${status}${err instanceof Error ? err.message : String(err)}`);
    setStatus('');
  } finally {
    button.disabled = false;
  }
}

/** POSTs a signed hook call (from /api/hook-request or /api/ecg-filing) to the CDS service and renders the answer. */
async function sendHookCall(call, serviceId, patientId) {
  setStatus(`Calling ${call.url}…`);
  const started = performance.now();
  const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(call.body) });
  const text = await res.text();
  const elapsed = performance.now() - started;
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  showRaw(call, res.status, body, elapsed);
  state.lastServiceId = serviceId;
  state.lastPatientId = patientId;
  if (!res.ok) {
    const message = body && typeof body === 'object' && typeof body.message === 'string' ? body.message : res.statusText;
    showError(`The CDS service answered ${res.status}: ${message}`);
    renderCards([]);
    setStatus(`Failed after ${elapsed.toFixed(0)} ms.`);
    return;
  }
  const cards = Array.isArray(body?.cards) ? body.cards : [];
  renderCards(cards);
  setStatus(`${cards.length} card${cards.length === 1 ? '' : 's'} in ${elapsed.toFixed(0)} ms.`);
}

// ---------------------------------------------------------------- filing an ECG, the inbox

/** The ECG panel shows for patients with a shipped tracing; any shipped tracing can be filed for them. */
function renderEcgPanel() {
  const patientId = selectedPatientId();
  $('ecg-panel').hidden = !state.tracings.some((t) => t.patientId === patientId);
  const select = /** @type {HTMLSelectElement} */ ($('ecg-tracing'));
  if (select.childElementCount !== state.tracings.length) {
    select.replaceChildren(...state.tracings.map((t) => el('option', { value: t.id }, t.label)));
  }
}

async function loadInbox() {
  const patientId = selectedPatientId();
  const list = $('inbox');
  if (!patientId) return [];
  try {
    const { riskAssessments } = await getJson(`patients/${encodeURIComponent(patientId)}/risk-assessments`);
    list.replaceChildren(
      ...riskAssessments.map((ra) =>
        el(
          'li',
          {},
          el('strong', {}, `${ra.outcome ?? 'Risk assessment'}${typeof ra.probability === 'number' ? ` ${(ra.probability * 100).toFixed(1)} %` : ''}`),
          ` — ${ra.method ?? 'unknown method'}, ${ra.status}${ra.occurrence ? `, ${new Date(ra.occurrence).toLocaleString()}` : ''}`,
          ra.basis.length ? el('span', { class: 'muted' }, ` (basis: ${ra.basis.join(', ')})`) : null,
        ),
      ),
    );
    $('inbox-status').textContent = riskAssessments.length ? '' : 'No risk assessments for this patient.';
    return riskAssessments;
  } catch (err) {
    $('inbox-status').textContent = `Could not load the inbox: ${err instanceof Error ? err.message : String(err)}`;
    return [];
  }
}

/** Refreshes the inbox until a RiskAssessment based on `reference` appears (AF only) or ~20 s pass. */
async function watchInbox(reference) {
  for (let i = 0; i < 20; i++) {
    const items = await loadInbox();
    if (items.some((ra) => ra.basis.includes(reference))) {
      $('ecg-status').textContent = `A RiskAssessment based on ${reference} arrived in the inbox.`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  $('ecg-status').textContent = `No RiskAssessment for ${reference} (one is written only for atrial fibrillation).`;
}

async function fileNewEcg(event) {
  event.preventDefault();
  showError('');
  const patientId = selectedPatientId();
  const tracingId = /** @type {HTMLSelectElement} */ ($('ecg-tracing')).value;
  const button = /** @type {HTMLButtonElement} */ ($('file-ecg'));
  button.disabled = true;
  try {
    const { observation, call } = await postJson('ecg-filing', { patientId, tracingId });
    $('ecg-status').textContent = `Filed ${observation.reference}.`;
    if (call) {
      const serviceId = decodeURIComponent(new URL(call.url).pathname.split('/').pop() ?? '');
      await sendHookCall(call, serviceId, patientId);
    } else {
      setStatus('No CDS service listens on the filed-ECG hook.');
    }
    await watchInbox(observation.reference);
  } catch (err) {
    const status = err instanceof HttpProblem ? `${err.status}: ` : '';
    showError(`Could not file the ECG — ${status}${err instanceof Error ? err.message : String(err)}`);
  } finally {
    button.disabled = false;
  }
}

function showRaw(call, status, body, elapsed) {
  $('raw').hidden = false;
  $('timing').textContent = `HTTP ${status} in ${elapsed.toFixed(1)} ms (measured in the browser).`;
  $('raw-request').textContent = JSON.stringify({ url: call.url, headers: call.headers, body: call.body }, null, 2);
  $('raw-response').textContent = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
}

// ---------------------------------------------------------------- cards

function renderCards(cards) {
  const box = $('cards');
  box.replaceChildren();
  if (!cards.length) {
    box.append(el('p', { class: 'muted' }, 'No cards: the service found nothing to report for this patient.'));
    return;
  }
  cards.forEach((card, i) => box.append(renderCard(card, i)));
}

function renderCard(card, index) {
  const indicator = Object.hasOwn(INDICATOR_LABELS, card.indicator) ? card.indicator : 'info';
  const headingId = `card-${index}-summary`;
  const node = el('article', { class: `card ${indicator}`, 'aria-labelledby': headingId });
  node.append(
    el('span', { class: `indicator ${indicator}` }, INDICATOR_LABELS[indicator]),
    el('h3', { id: headingId }, card.summary ?? ''),
  );
  if (card.detail) {
    const detail = el('div', { class: 'detail' });
    detail.innerHTML = renderMarkdown(card.detail); // renderMarkdown escapes all HTML first
    node.append(detail);
  }
  if (card.source) node.append(renderSource(card.source));

  const outcome = el('p', { class: 'outcome', role: 'status' });
  const row = el('div', { class: 'actions-row' });
  for (const suggestion of card.suggestions ?? []) row.append(renderSuggestion(card, suggestion, node, outcome));
  for (const link of card.links ?? []) row.append(renderLink(link, outcome));
  if (card.uuid) row.append(renderOverrideButton(card, node, outcome));
  if (row.childElementCount) node.append(row);
  node.append(outcome);
  return node;
}

function renderSource(source) {
  const p = el('p', { class: 'source' }, 'Source: ');
  const icon = source.icon ? safeUrl(source.icon) : null;
  if (icon && /^https:\/\//i.test(icon)) p.append(el('img', { src: icon, alt: '' }));
  const url = source.url ? safeUrl(source.url) : null;
  p.append(url ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, source.label) : source.label ?? '');
  return p;
}

function renderSuggestion(card, suggestion, cardNode, outcome) {
  return el(
    'button',
    {
      type: 'button',
      class: `suggestion${suggestion.isRecommended ? ' recommended' : ''}`,
      onclick: async () => {
        const actions = el('div', { class: 'accepted-actions' }, el('strong', {}, `Accepted: ${suggestion.label}`));
        const list = el('ul');
        for (const action of suggestion.actions ?? []) {
          const item = el('li', {}, `${action.type}: ${action.description ?? ''}`);
          if (action.resource) item.append(el('pre', {}, JSON.stringify(action.resource, null, 2)));
          list.append(item);
        }
        if (!list.childElementCount) list.append(el('li', {}, 'No actions.'));
        actions.append(list);
        cardNode.querySelector('.accepted-actions')?.remove();
        cardNode.insertBefore(actions, outcome);
        if (card.uuid && suggestion.uuid) {
          await sendFeedback({ card: card.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: suggestion.uuid }] }, outcome);
        } else {
          outcome.textContent = 'No feedback sent (the card or suggestion has no uuid).';
        }
      },
    },
    suggestion.label,
  );
}

function renderLink(link, outcome) {
  const url = safeUrl(link.url ?? '');
  if (link.type === 'smart') {
    if (!url) return el('span', { class: 'muted' }, `${link.label} (unsafe link hidden)`);
    return el('button', { type: 'button', class: 'smart-link', onclick: () => launchSmartApp(link, url, outcome) }, link.label);
  }
  if (!url) return el('span', { class: 'muted' }, `${link.label} (unsafe link hidden)`);
  return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, link.label);
}

/**
 * EHR launch of a card's SMART link (SMART App Launch v2.2 §EHR Launch; CDS Hooks 2.0.1 §Link): the sandbox's
 * authorization server records the launch context (this patient, the link's appContext) under an opaque
 * `launch` id, and the app is opened at the link URL with `iss` (our FHIR base) and `launch` added.
 */
async function launchSmartApp(link, url, outcome) {
  // Opened before the await so the browser still counts it as a user action (no pop-up blocking).
  const win = window.open('about:blank', '_blank');
  try {
    const res = await fetch(new URL('./auth/launch', window.location.href), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ patientId: state.lastPatientId || selectedPatientId(), ...(typeof link.appContext === 'string' ? { appContext: link.appContext } : {}) }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error_description ?? `HTTP ${res.status}`);
    const target = new URL(url);
    target.searchParams.set('iss', body.iss);
    target.searchParams.set('launch', body.launch);
    if (win) win.location.href = target.toString();
    else window.location.href = target.toString();
    outcome.textContent = `Opened ${link.label}.`;
  } catch (err) {
    win?.close();
    outcome.textContent = `Could not open the app: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function renderOverrideButton(card, cardNode, outcome) {
  return el(
    'button',
    {
      type: 'button',
      onclick: () => {
        cardNode.querySelector('.override-form')?.remove();
        const formId = `override-${card.uuid}`;
        const reasons = Array.isArray(card.overrideReasons) ? card.overrideReasons : [];
        const select = el(
          'select',
          { id: `${formId}-reason` },
          el('option', { value: '' }, reasons.length ? 'Choose a reason…' : 'No reasons offered'),
          reasons.map((r, i) => el('option', { value: String(i) }, r.display ?? r.code)),
        );
        const comment = el('textarea', { id: `${formId}-comment`, rows: '2', cols: '40', maxlength: '2000' });
        const form = el(
          'form',
          { class: 'override-form', 'aria-label': 'Override this card' },
          el('label', { for: `${formId}-reason` }, 'Override reason'),
          select,
          el('label', { for: `${formId}-comment` }, 'Comment (optional)'),
          comment,
          el('div', { class: 'actions-row' }, el('button', { type: 'submit', class: 'primary' }, 'Send override')),
        );
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          const reason = reasons[Number(/** @type {HTMLSelectElement} */ (select).value)];
          const text = /** @type {HTMLTextAreaElement} */ (comment).value.trim();
          const overrideReason = {
            ...(select.value !== '' && reason ? { reason } : {}),
            ...(text ? { userComment: text } : {}),
          };
          await sendFeedback({ card: card.uuid, outcome: 'overridden', overrideReason }, outcome);
          form.remove();
        });
        cardNode.insertBefore(form, outcome);
        /** @type {HTMLElement} */ (select).focus();
      },
    },
    'Override',
  );
}

async function sendFeedback(entry, outcome) {
  try {
    const call = await postJson('feedback-request', { serviceId: state.lastServiceId, feedback: [entry] });
    const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(call.body) });
    outcome.textContent = res.ok ? `Feedback "${entry.outcome}" sent (HTTP ${res.status}).` : `Feedback failed: HTTP ${res.status}.`;
  } catch (err) {
    outcome.textContent = `Feedback failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

// ---------------------------------------------------------------- start

async function start() {
  $('hook').addEventListener('change', renderServices);
  $('hook-form').addEventListener('submit', fireHook);
  $('ecg-form').addEventListener('submit', fileNewEcg);
  $('patients').addEventListener('change', () => {
    renderEcgPanel();
    loadInbox();
  });
  const [patients, services, orders, tracings] = await Promise.allSettled([getJson('patients'), getJson('services'), getJson('draft-orders'), getJson('ecg-tracings')]);
  if (tracings.status === 'fulfilled') state.tracings = tracings.value.tracings ?? [];
  if (patients.status === 'fulfilled') state.patients = patients.value.patients ?? [];
  else $('patients-status').textContent = `Could not load patients: ${patients.reason.message}`;
  if (services.status === 'fulfilled') state.services = services.value.services ?? [];
  else showError(`Could not load CDS services: ${services.reason.message}`);
  if (orders.status === 'fulfilled') state.draftOrders = orders.value.draftOrders ?? [];
  renderPatients();
  renderOrderChoices();
  renderServices();
  renderEcgPanel();
  loadInbox();
}

start();
