// CPU and memory of one VM from /rrd_updates (XAPI's XML: <meta> with a
// <legend> of "CF:vm:UUID:NAME" entries, <data> with <row><t/><v/>...),
// polled every 5 s and drawn as lines. When the server has no
// /rrd_updates the panel says so and keeps asking.
const PERIOD_MS = 5000;

function draw(canvas, values, max, label) {
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#888';
  g.strokeRect(0.5, 0.5, w - 1, h - 1);
  g.fillStyle = '#222';
  g.font = '12px sans-serif';
  g.fillText(label, 6, 14);
  if (values.length < 2 || !(max > 0)) return;
  g.strokeStyle = '#1565c0';
  g.beginPath();
  values.forEach((v, i) => {
    const x = (i / (values.length - 1)) * (w - 2) + 1;
    const y = h - 1 - Math.min(v / max, 1) * (h - 20);
    if (i) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.stroke();
}

export function parseRrd(text, uuid) {
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const legend = [...doc.querySelectorAll('meta legend entry')].map((e) => e.textContent);
  const rows = [...doc.querySelectorAll('data row')].map((r) => ({
    t: Number(r.querySelector('t').textContent),
    v: [...r.querySelectorAll('v')].map((v) => Number(v.textContent)),
  })).sort((a, b) => a.t - b.t);
  const col = (pred) => legend.map((l, i) => [l.split(':'), i]).filter(([p]) => p[1] === 'vm' &&
    p[2] === uuid && pred(p[3])).map(([, i]) => i);
  const cpus = col((n) => /^cpu\d+$/.test(n));
  const [mem] = col((n) => n === 'memory');
  return {
    cpu: rows.map((r) => (cpus.length ? cpus.reduce((s, i) => s + r.v[i], 0) / cpus.length : 0)),
    mem: rows.map((r) => (mem === undefined ? 0 : r.v[mem])),
  };
}

export function startGraphs(session, vm, els) {
  let stopped = false, timer = null;
  async function tick() {
    const start = Math.floor(Date.now() / 1000) - 600;
    const q = new URLSearchParams({ start, cf: 'AVERAGE', interval: '5', vm_uuid: vm.uuid,
                                    session_id: session });
    try {
      const r = await fetch('/rrd_updates?' + q);
      if (r.status === 404 || r.status === 405) {
        els.state.textContent = 'This server has no /rrd_updates yet: no graphs.';
      } else if (!r.ok) {
        els.state.textContent = `/rrd_updates: HTTP ${r.status}`;
      } else {
        const d = parseRrd(await r.text(), vm.uuid);
        els.state.textContent = `${d.cpu.length} samples`;
        draw(els.cpu, d.cpu, 1, 'CPU');
        draw(els.mem, d.mem, vm.memory_static_max || Math.max(...d.mem), 'Memory');
      }
    } catch (e) {
      els.state.textContent = '/rrd_updates: ' + e.message;
    }
    if (!stopped) timer = setTimeout(tick, PERIOD_MS);
  }
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
