// XenAPI over JSON-RPC from the browser, as any client speaks it: the
// session from session.login_with_password is the first argument of
// every later call; errors come back as [CODE, params...].
export class XapiError extends Error {
  constructor(desc) {
    super(desc.join(' '));
    this.desc = desc;
  }
}

let id = 0;

export async function call(method, ...params) {
  const r = await fetch('/jsonrpc', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: ++id }),
  });
  if (!r.ok) throw new XapiError(['HTTP', String(r.status)]);
  const j = await r.json();
  if (j.error) throw new XapiError([j.error.message, ...(j.error.data || [])]);
  return j.result;
}

// Follow event.from for `classes`: onEvent(ev) for each event, from a
// first full snapshot ("" token) on. Stops when stop() returns true.
export async function follow(session, classes, onEvent, stop) {
  let token = '';
  while (!stop()) {
    try {
      const r = await call('event.from', session, classes, token, 30.0);
      token = r.token;
      for (const ev of r.events) onEvent(ev);
    } catch (e) {
      if (stop()) return;
      if (e.desc && e.desc[0] === 'SESSION_INVALID') throw e;
      if (e.desc && e.desc[0] === 'EVENTS_LOST') token = '';
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
}
