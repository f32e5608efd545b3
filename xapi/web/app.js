// The web console: log in, follow the host and its VMs by event.from, run
// the lifecycle calls, open a VM's console (xterm.js over the console
// WebSocket), create a VM with its disks and networks (create.js). Everything goes through the public XenAPI.
import { call, follow, XapiError } from './api.js';
import { createForm } from './create.js';
import { startGraphs } from './graph.js';
import { FallbackTerminal } from './term-fallback.js';

const $ = (id) => document.getElementById(id);
let session = sessionStorage.getItem('xenon-session');
let generation = 0;                 // bumped on logout: old loops stop
const vms = new Map();              // ref -> record
let openConsole = null, stopGraphs = null;

function showError(el, e) {
  el.textContent = e ? (e.desc ? e.desc.join(' ') : String(e.message || e)) : '';
}

function mib(bytes) {
  return `${Math.round(Number(bytes) / (1 << 20))} MiB`;
}

// What each power state allows, as [label, method] (XAPI's names).
const ACTIONS = {
  Halted: [['Start', 'VM.start'], ['Delete', 'VM.destroy']],
  Running: [['Console', null], ['Stats', null], ['Shut down', 'VM.clean_shutdown'],
            ['Reboot', 'VM.clean_reboot'], ['Pause', 'VM.pause'],
            ['Force shut down', 'VM.hard_shutdown']],
  Paused: [['Resume', 'VM.unpause'], ['Force shut down', 'VM.hard_shutdown']],
};

async function act(ref, label, method) {
  showError($('op-error'), null);
  const vm = vms.get(ref);
  if (label === 'Console') return showConsole(ref);
  if (label === 'Stats') return showStats(vm);
  if (method === 'VM.destroy' && !confirm(`Delete the VM ${vm.name_label}?`)) return;
  try {
    if (method === 'VM.start') await call(method, session, ref, false, false);
    else await call(method, session, ref);
  } catch (e) {
    showError($('op-error'), e);
  }
}

function render() {
  const body = $('vms').tBodies[0];
  body.replaceChildren();
  const list = [...vms.entries()].filter(([, v]) => !v.is_a_template)
    .sort(([, a], [, b]) => (b.is_control_domain - a.is_control_domain) ||
          a.name_label.localeCompare(b.name_label));
  for (const [ref, v] of list) {
    const tr = body.insertRow();
    tr.dataset.vm = v.name_label;
    tr.insertCell().textContent = v.name_label + (v.is_control_domain ? ' (control domain)' : '');
    const st = tr.insertCell();
    st.textContent = v.power_state;
    st.className = 'state ' + v.power_state.toLowerCase();
    tr.insertCell().textContent = v.VCPUs_at_startup;
    tr.insertCell().textContent = mib(v.memory_static_max);
    const cell = tr.insertCell();
    if (v.is_control_domain) continue;
    for (const [label, method] of ACTIONS[v.power_state] || []) {
      const b = document.createElement('button');
      b.textContent = label;
      b.setAttribute('aria-label', `${label} ${v.name_label}`);
      b.addEventListener('click', () => act(ref, label, method));
      cell.appendChild(b);
    }
  }
}

function closeConsole() {
  if (!openConsole) return;
  openConsole.ws.close();
  openConsole.term.dispose();
  openConsole = null;
  $('console-view').hidden = true;
}

async function showConsole(ref) {
  closeConsole();
  const vm = vms.get(ref);
  const [cons] = await call('VM.get_consoles', session, ref);
  if (!cons) return showError($('op-error'), new Error('this VM has no console'));
  const loc = await call('console.get_location', session, cons);
  $('console-title').textContent = `Console of ${vm.name_label}`;
  $('console-view').hidden = false;
  $('console-state').textContent = 'connecting';
  const T = window.Terminal || FallbackTerminal;
  const term = new T({ cols: 100, rows: 24, convertEol: true });
  term.open($('terminal'));
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}${loc}&session_id=${encodeURIComponent(session)}`);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { $('console-state').textContent = 'connected'; term.focus(); };
  ws.onmessage = (e) => term.write(new Uint8Array(e.data));
  ws.onclose = (e) => { $('console-state').textContent = `closed (${e.code}${e.reason ? ': ' + e.reason : ''})`; };
  term.onData((d) => { if (ws.readyState === WebSocket.OPEN) ws.send(d); });
  openConsole = { ref, ws, term };
}

function showStats(vm) {
  if (stopGraphs) stopGraphs();
  $('stats-view').hidden = false;
  $('stats-title').textContent = `Stats of ${vm.name_label}`;
  stopGraphs = startGraphs(session, vm, { state: $('stats-state'), cpu: $('cpu-graph'),
                                          mem: $('mem-graph') });
}

async function loggedIn() {
  const gen = ++generation;
  $('login-view').hidden = true;
  $('host-view').hidden = false;
  $('logout').hidden = false;
  const hosts = await call('host.get_all_records', session);
  const [host] = Object.values(hosts);
  $('host-name').textContent = host.name_label;
  const sv = host.software_version || {};
  $('host-info').textContent = `${sv.product_brand || ''} ${sv.product_version || ''} · ` +
    `${(host.cpu_info && host.cpu_info.cpu_count) || '?'} CPUs`;
  vms.clear();
  try {
    await follow(session, ['VM'], (ev) => {
      if (ev.class !== 'vm') return;
      if (ev.operation === 'del') vms.delete(ev.ref);
      else if (ev.snapshot) vms.set(ev.ref, ev.snapshot);
      render();
    }, () => gen !== generation);
  } catch (e) {
    if (e instanceof XapiError && e.desc[0] === 'SESSION_INVALID') logout(false);
  }
}

async function logout(tell = true) {
  generation++;
  closeConsole();
  if (stopGraphs) stopGraphs();
  if (tell && session) call('session.logout', session).catch(() => {});
  session = null;
  sessionStorage.removeItem('xenon-session');
  $('host-view').hidden = true;
  $('logout').hidden = true;
  $('login-view').hidden = false;
  $('who').textContent = '';
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  showError($('login-error'), null);
  try {
    session = await call('session.login_with_password', f.get('user'), f.get('password'),
                         '1.0', 'xenon-web');
    sessionStorage.setItem('xenon-session', session);
    $('who').textContent = f.get('user');
    loggedIn();
  } catch (err) {
    showError($('login-error'), err);
  }
});

const refreshCreate = createForm($('create-form'), () => session,
                                (e) => showError($('create-error'), e));
$('create').addEventListener('toggle', () => { if ($('create').open) refreshCreate(); });

$('logout').addEventListener('click', () => logout());
$('console-close').addEventListener('click', closeConsole);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && e.ctrlKey) closeConsole();
});

if (session) loggedIn();
