// The create form: VM.create from its fields, then for each disk row a
// VBD.create (of an existing VDI, or of a new one VDI.create makes in the
// pool's default SR) and for each network row a VIF.create (a random MAC
// in Xen's OUI, given by the server). A failure part way takes back what
// was made (VM.destroy drops the definition and so its VBDs and VIFs; the
// new VDIs are destroyed), so the form leaves a whole VM or none.
import { call } from './api.js';

const GiB = 1 << 30;

function option(value, text) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

// The VDIs a new VM may take (user disks of the image SR, not read-only,
// in no VM yet) and the networks with a bridge, as <option>s.
async function choices(session) {
  const pool = Object.values(await call('pool.get_all_records', session))[0];
  const vdis = await call('VDI.get_all_records', session);
  const nets = await call('network.get_all_records', session);
  const disks = Object.entries(vdis)
    .filter(([, v]) => v.SR === pool.default_SR && v.type === 'user' && !v.read_only &&
            v.VBDs.length === 0)
    .sort(([, a], [, b]) => a.name_label.localeCompare(b.name_label))
    .map(([ref, v]) => [ref, `${v.name_label} (${(Number(v.virtual_size) / GiB).toFixed(1)} GiB)`]);
  const networks = Object.entries(nets).filter(([, n]) => n.bridge)
    .sort(([, a], [, b]) => a.bridge.localeCompare(b.bridge))
    .map(([ref, n]) => [ref, n.name_label === n.bridge ? n.bridge : `${n.name_label} (${n.bridge})`]);
  return { sr: pool.default_SR, disks, networks };
}

export function createForm(form, getSession, showError) {
  const diskList = form.querySelector('#disk-rows');
  const netList = form.querySelector('#net-rows');
  let known = { sr: null, disks: [], networks: [] };

  async function refresh() {
    try {
      known = await choices(getSession());
    } catch (e) {
      showError(e);
    }
  }

  function removable(row, what) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Remove';
    b.setAttribute('aria-label', `Remove ${what}`);
    b.addEventListener('click', () => row.remove());
    row.appendChild(b);
  }

  function addDisk() {
    const n = diskList.children.length + 1;
    const row = document.createElement('div');
    row.className = 'disk-row';
    const sel = document.createElement('select');
    sel.name = 'disk-source';
    sel.setAttribute('aria-label', `Disk ${n}`);
    sel.appendChild(option('new', 'New disk'));
    for (const [ref, label] of known.disks) sel.appendChild(option(ref, label));
    const size = document.createElement('input');
    size.type = 'number';
    size.name = 'disk-size';
    size.min = '1';
    size.max = '65536';
    size.value = '1';
    size.required = true;
    size.setAttribute('aria-label', `Size of disk ${n} (GiB)`);
    const unit = document.createElement('span');
    unit.textContent = ' GiB ';
    sel.addEventListener('change', () => {
      size.hidden = unit.hidden = sel.value !== 'new';
      size.required = sel.value === 'new';
    });
    row.append(sel, ' ', size, unit);
    removable(row, `disk ${n}`);
    diskList.appendChild(row);
  }

  function addNetwork() {
    const n = netList.children.length + 1;
    const row = document.createElement('div');
    row.className = 'net-row';
    const sel = document.createElement('select');
    sel.name = 'network';
    sel.setAttribute('aria-label', `Network ${n}`);
    for (const [ref, label] of known.networks) sel.appendChild(option(ref, label));
    if (!known.networks.length) sel.appendChild(option('', 'no network on this host'));
    row.append(sel, ' ');
    removable(row, `network ${n}`);
    netList.appendChild(row);
  }

  form.querySelector('#add-disk').addEventListener('click', async () => {
    await refresh();
    addDisk();
  });
  form.querySelector('#add-network').addEventListener('click', async () => {
    await refresh();
    addNetwork();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const session = getSession();
    const f = new FormData(form);
    showError(null);
    const name = f.get('name');
    const disks = [...diskList.children].map((r) => ({
      source: r.querySelector('select').value,
      gib: Number(r.querySelector('input').value),
    }));
    const nets = [...netList.children].map((r) => r.querySelector('select').value);
    if (nets.some((n) => !n)) return showError(new Error('pick a network for each row'));
    const picked = disks.filter((d) => d.source !== 'new').map((d) => d.source);
    if (new Set(picked).size !== picked.length) {
      return showError(new Error('each existing disk can be picked once'));
    }
    let vm = null;
    const made = [];
    try {
      vm = await call('VM.create', session, {
        name_label: name, PV_kernel: f.get('kernel'), PV_args: f.get('args') || '',
        memory_static_max: String(Number(f.get('memory')) * (1 << 20)),
        VCPUs_at_startup: String(f.get('vcpus')), VCPUs_max: String(f.get('vcpus')),
      });
      for (const [i, d] of disks.entries()) {
        let vdi = d.source;
        if (vdi === 'new') {
          vdi = await call('VDI.create', session, {
            SR: known.sr, virtual_size: String(d.gib * GiB), name_label: `${name}-disk${i}`,
            name_description: `made with the VM ${name}`, type: 'user', sharable: false,
            read_only: false, other_config: {}, xenstore_data: {}, sm_config: {}, tags: [],
          });
          made.push(vdi);
        }
        await call('VBD.create', session, {
          VM: vm, VDI: vdi, userdevice: String(i), bootable: i === 0, mode: 'RW', type: 'Disk',
          empty: false, unpluggable: true, other_config: {}, qos_algorithm_type: '',
          qos_algorithm_params: {},
        });
      }
      for (const [i, net] of nets.entries()) {
        await call('VIF.create', session, {
          VM: vm, network: net, device: String(i), MAC: '', MTU: '1500', other_config: {},
          qos_algorithm_type: '', qos_algorithm_params: {},
        });
      }
      form.reset();
      diskList.replaceChildren();
      netList.replaceChildren();
    } catch (err) {
      showError(err);
      if (vm) await call('VM.destroy', session, vm).catch(() => {});
      for (const vdi of made) await call('VDI.destroy', session, vdi).catch(() => {});
    }
  });

  return refresh;
}
