// Xen Orchestra's own client (npm xen-api, from the oracle cache) against
// xenon-xapi: node xen_api_client.mjs MODULE_DIR URL [VM_NAME XL_CFG]
//
// With its default transport (auto: JSON-RPC first) it connects, follows
// events, lists the VMs with the fields Xen Orchestra reads; with a VM
// name it runs callAsync('VM.start'), clean_shutdown, hard_shutdown, suspend/resume and
// sees each power-state change arrive by event (its object cache changes
// only through event.from), moves it with VM.pool_migrate, and makes a VM
// from a template as XO does (VM.clone, VM.provision, VM.start); with an xl.cfg it expects a VM created by
// `xl create` (done by the caller after "READY xl") to appear.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [moduleDir, url, vmName, xlDomain] = process.argv.slice(2)
const { createClient } = await import(pathToFileURL(path.join(moduleDir, 'xen-api', 'index.mjs')))

let failures = 0
const check = (what, ok, detail = '') => {
  console.log((ok ? 'ok   ' : 'FAIL ') + what + (ok || !detail ? '' : ': ' + detail))
  if (!ok) failures++
}

// A condition on the client's cache, polled until it holds.
const waitFor = (what, cond, secs = 60) => new Promise((resolve, reject) => {
  const end = Date.now() + secs * 1000
  const tick = () => {
    const v = cond()
    if (v) return resolve(v)
    if (Date.now() > end) return reject(new Error('timed out waiting for ' + what))
    setTimeout(tick, 20)
  }
  tick()
})

// XAPI_TRANSPORT=xml-rpc forces the XML-RPC transport (default: auto)
const xapi = createClient({
  url,
  auth: { user: 'root', password: 'secret' },
  allowUnauthorized: true,
  ...(process.env.XAPI_TRANSPORT ? { transport: process.env.XAPI_TRANSPORT } : {}),
})
xapi.on('eventFetchingError', e => console.log('event error', e))
await xapi.connect()
await xapi.objectsFetched
check('connected, objects fetched through events', xapi.status === 'connected')

const all = () => Object.values(xapi.objects.all)
const vms = () => all().filter(o => o.$type === 'VM')

// What xo-server's xapi-object-to-xo reads without a guard.
const VM_FIELDS = ['power_state', 'domain_type', 'memory_dynamic_min', 'memory_dynamic_max',
  'memory_static_min', 'memory_static_max', 'memory_target', 'VCPUs_max', 'VCPUs_at_startup',
  'metrics', 'guest_metrics', 'other_config', 'platform', 'is_a_template', 'is_control_domain',
  'resident_on', 'blocked_operations', 'current_operations', 'name_label', 'uuid', 'domid']
for (const vm of vms()) {
  const missing = VM_FIELDS.filter(f => vm[f] === undefined)
  check(`VM ${vm.name_label} has the fields XO reads`, missing.length === 0, missing.join(','))
}
const dom0 = vms().find(vm => vm.is_control_domain)
check('the control domain is listed', dom0 !== undefined && dom0.power_state === 'Running')
const pool = xapi.pool
check('pool record as XO reads it', pool.other_config !== undefined && Array.isArray(pool.ha_statefiles) &&
  pool.restrictions !== undefined && xapi.getObject(pool.master, undefined)?.$type === 'host')
const host = xapi.getObject(pool.master)
check('host record as XO reads it', host.software_version?.product_version !== undefined &&
  host.other_config?.boot_time !== undefined && Array.isArray(host.PIFs) &&
  xapi.getObject(host.metrics, undefined)?.memory_total !== undefined)
{
  const cpus = host.host_CPUs.map(r => xapi.getObject(r, undefined))
  check('host_cpu: one record per host CPU, on the host', cpus.length === Number(host.cpu_info.cpu_count) &&
    cpus.every(c => c?.host === host.$ref && c.modelname !== undefined), cpus.length)
  const roles = all().filter(o => o.$type === 'role').map(r => r.name_label).sort()
  check("role: XAPI's six roles", JSON.stringify(roles) === JSON.stringify(['pool-admin', 'pool-operator',
    'read-only', 'vm-admin', 'vm-operator', 'vm-power-admin']), roles.join(','))
}
// A halted VM with a disk and a vif (defined by the caller): the links
// between the device, storage and network records resolve in the
// client's own object cache.
const stor = vms().find(vm => vm.name_label === 'stor')
if (stor) {
  const vbds = stor.VBDs.map(r => xapi.getObject(r, undefined))
  const vdi = vbds[0] && xapi.getObject(vbds[0].VDI, undefined)
  const sr = vdi && xapi.getObject(vdi.SR, undefined)
  const pbd = sr && xapi.getObject(sr.PBDs[0], undefined)
  check("VBD -> VDI -> SR -> PBD -> host resolve in the client's cache", vbds.length === 1 &&
    vbds[0].VM === stor.$ref && vdi?.virtual_size !== undefined && sr?.VDIs.includes(vdi.$ref) &&
    pbd?.host === host.$ref && vdi.VBDs.includes(vbds[0].$ref))
  const vif = xapi.getObject(stor.VIFs[0], undefined)
  const net = vif && xapi.getObject(vif.network, undefined)
  check('VIF -> network resolve', vif?.VM === stor.$ref && net?.VIFs.includes(vif.$ref) &&
    net.bridge === 'xenbr9')
  // A disk and a vif added as XO adds them: Async.VDI.create in the
  // pool's default SR (the image directory; stor's disk is outside it),
  // VBD.create and VIF.create with the fields XO sends; each new object
  // reaches the client's cache by event, and goes again on destroy.
  const dsr = pool.default_SR
  const vdiRef = await xapi.callAsync('VDI.create', { name_label: 'from-xo', name_description: '',
    other_config: {}, read_only: false, sharable: false, SR: dsr, type: 'user',
    virtual_size: 2 << 20 })
  const nv = await waitFor('the new VDI', () => xapi.getObject(vdiRef, undefined)).catch(() => undefined)
  check('Async.VDI.create: the VDI arrives by event, in the SR', Number(nv?.virtual_size) === 2 << 20 &&
    nv.SR === dsr && nv.name_label === 'from-xo')
  const vbdRef = await xapi.call('VBD.create', { bootable: false, empty: false, mode: 'RW',
    other_config: {}, qos_algorithm_params: {}, qos_algorithm_type: '', type: 'Disk',
    unpluggable: true, userdevice: '1', VDI: vdiRef, VM: stor.$ref })
  const nvif = await xapi.call('VIF.create', { device: '1', MAC: '', MTU: 1500, network: net.$ref,
    other_config: {}, qos_algorithm_params: {}, qos_algorithm_type: '', VM: stor.$ref })
  await waitFor('the new devices', () => xapi.getObject(stor.$ref).VBDs.length === 2 &&
    xapi.getObject(stor.$ref).VIFs.length === 2).catch(() => undefined)
  const v2 = xapi.getObject(vbdRef, undefined), f2 = xapi.getObject(nvif, undefined)
  check('VBD.create and VIF.create: the devices arrive by event, on the VM',
    v2?.VDI === vdiRef && v2.device === 'xvdb' && f2?.network === net.$ref &&
    /^00:16:3e:/.test(f2.MAC) && xapi.getObject(stor.$ref).VBDs.includes(vbdRef))
  await xapi.call('VBD.destroy', vbdRef)
  await xapi.call('VIF.destroy', nvif)
  await xapi.call('VDI.destroy', vdiRef)
  await waitFor('their removal', () => xapi.getObject(vdiRef, undefined) === undefined &&
    xapi.getObject(stor.$ref).VBDs.length === 1 && xapi.getObject(stor.$ref).VIFs.length === 1)
    .catch(() => undefined)
  check('VBD/VIF/VDI.destroy: gone by event', xapi.getObject(vdiRef, undefined) === undefined &&
    xapi.getObject(vbdRef, undefined) === undefined && xapi.getObject(stor.$ref).VBDs.length === 1)
  const pifs = host.PIFs.map(r => xapi.getObject(r, undefined))
  check('host.PIFs resolve, each on its network', pifs.every(p => p !== undefined &&
    xapi.getObject(p.network, undefined)?.PIFs.includes(p.$ref)))
}
if (dom0) {
  const m = xapi.getObject(dom0.metrics, undefined)
  check('VM_metrics of the control domain', m !== undefined && m.VCPUs_number !== undefined)
}

// Power states as the event loop delivers them, per VM ref.
const seen = {}
const note = items => {
  for (const o of Object.values(items)) {
    if (o.$type === 'VM') (seen[o.$ref] ??= []).push(o.power_state)
  }
}
xapi.objects.on('add', note)
xapi.objects.on('update', note)
const added = []
xapi.objects.on('add', items => { for (const o of Object.values(items)) if (o.$type === 'VM') added.push(o.name_label) })
const removed = []
xapi.objects.on('remove', items => { for (const [id, o] of Object.entries(items)) removed.push(o?.name_label ?? id) })

if (vmName) {
  // The definition was written just before this client connected; the
  // daemon picks up its VM directory within a second and the client sees
  // the VM arrive by event, as it would any new VM.
  const vm = await waitFor(`VM ${vmName} to be listed`,
    () => vms().find(v => v.name_label === vmName), 30).catch(() => undefined)
  check(`VM ${vmName} defined and Halted`, vm?.power_state === 'Halted')
  if (!vm) process.exit(1)
  const ref = vm.$ref
  const state = () => xapi.getObject(ref).power_state
  const cycle = async (op, want) => {
    const before = (seen[ref] ?? []).length
    await xapi.callAsync(op, ref, ...(op === 'VM.start' || op === 'VM.resume' ? [false, false] : []))
    await waitFor(`${op} -> ${want}`, () => state() === want)
    check(`${op}: the task succeeded and ${want} arrived by event`,
      (seen[ref] ?? []).slice(before).includes(want))
  }
  await cycle('VM.start', 'Running')
  check('a running VM has a domid and resides on the host',
    xapi.getObject(ref).domid > 0 && xapi.getObject(ref).resident_on === host.$ref)
  // The caller writes the guest's data/ and attr/ nodes as an agent would.
  console.log('READY gm ' + xapi.getObject(ref).domid)
  // The agent's nodes are written one by one and each may arrive in its
  // own event: wait for all of them, not for the first one written.
  const complete = (g) => g?.os_version?.name === 'TestOS' &&
    g?.PV_drivers_version?.major === '9' && g?.networks?.['0/ipv4/0'] === '10.0.0.2' &&
    g?.os_version?.uname?.length === 256 && g?.PV_drivers_detected === true
  let last
  const gm = await waitFor('guest metrics', () => {
    last = xapi.getObject(xapi.getObject(ref).guest_metrics, undefined)
    return complete(last) ? last : undefined
  }).catch(() => undefined)
  check('VM_guest_metrics from the guest\'s nodes arrive by event',
    complete(gm), JSON.stringify(gm ?? last))
  await cycle('VM.pause', 'Paused')
  await cycle('VM.unpause', 'Running')
  const domid = xapi.getObject(ref).domid
  await xapi.callAsync('VM.clean_reboot', ref)
  await waitFor('the reboot', () => xapi.getObject(ref).domid !== domid && state() === 'Running')
    .catch(() => undefined)
  check('VM.clean_reboot: Running again under a new domid, by event',
    xapi.getObject(ref).domid !== domid && state() === 'Running')
  const domid2 = xapi.getObject(ref).domid
  await xapi.callAsync('VM.hard_reboot', ref)
  await waitFor('the hard reboot', () => xapi.getObject(ref).domid !== domid2 && state() === 'Running')
    .catch(() => undefined)
  check('VM.hard_reboot: Running again under a new domid, by event',
    xapi.getObject(ref).domid !== domid2 && state() === 'Running')
  await cycle('VM.clean_shutdown', 'Halted')
  await cycle('VM.start', 'Running')
  // Suspend and resume twice: the image is the Suspended VM (the guest
  // is asked through PV control if it answers, else paused and saved).
  for (let i = 0; i < 2; i++) {
    await cycle('VM.suspend', 'Suspended')
    check('a suspended VM has no domid and resides nowhere',
      xapi.getObject(ref).domid === -1 && xapi.getObject(ref).resident_on === 'OpaqueRef:NULL')
    await cycle('VM.resume', 'Running')
  }
  {
    // VM.pool_migrate to the pool's one host, as XO calls it: the VM
    // keeps its ref and uuid, runs on under a new domid, and its power
    // state never leaves Running; neither copy shows up as a VM.
    const { uuid, domid } = xapi.getObject(ref)
    const before = (seen[ref] ?? []).length
    const addedBefore = added.length
    await xapi.callAsync('VM.pool_migrate', ref, host.$ref, { force: 'false' })
    await waitFor('the migrated domain', () => xapi.getObject(ref).domid !== domid).catch(() => undefined)
    const now = xapi.getObject(ref)
    check('VM.pool_migrate: same ref and uuid, Running under a new domid, seen by event',
      now.uuid === uuid && now.power_state === 'Running' && now.domid !== domid &&
      now.resident_on === host.$ref && (seen[ref] ?? []).length > before, JSON.stringify(now.domid))
    check('... its power state stayed Running throughout',
      (seen[ref] ?? []).slice(before).every(p => p === 'Running'), (seen[ref] ?? []).slice(before).join(','))
    check('... and no copy of it was listed as a VM of its own', added.length === addedBefore,
      added.slice(addedBefore).join(','))
    try {
      await xapi.callAsync('VM.pool_migrate', ref, 'OpaqueRef:nosuch', {})
      check('pool_migrate to no such host fails', false)
    } catch (e) {
      check('pool_migrate to no such host: HANDLE_INVALID', e.code === 'HANDLE_INVALID', e.code)
    }
  }
  // the migrated guest answers PV control: it runs
  await cycle('VM.clean_shutdown', 'Halted')
  try {
    await xapi.callAsync('VM.pool_migrate', ref, host.$ref, {})
    check('pool_migrate of a halted VM fails', false)
  } catch (e) {
    check('pool_migrate of a halted VM: VM_BAD_POWER_STATE', e.code === 'VM_BAD_POWER_STATE', e.code)
  }
  try {
    await xapi.callAsync('VM.hard_shutdown', ref)
    check('hard_shutdown of a halted VM fails', false)
  } catch (e) {
    check('hard_shutdown of a halted VM: VM_BAD_POWER_STATE', e.code === 'VM_BAD_POWER_STATE' &&
      e.params[0] === ref && e.params[1] === 'running' && e.params[2] === 'halted', e.code)
  }
}

if (vmName) {
  // A VM made from a record, started, stopped and destroyed by the client.
  const kernel = xapi.getObject(vms().find(v => v.name_label === vmName).$ref).PV_kernel
  const ref = await xapi.call('VM.create', { name_label: 'fromapi', PV_kernel: kernel,
    memory_static_max: String(16 << 20), VCPUs_at_startup: 1, VCPUs_max: 1 })
  await waitFor('the created VM', () => xapi.getObject(ref, undefined)?.power_state === 'Halted')
  check('VM.create: the new VM arrives by event, Halted', xapi.getObject(ref, undefined) !== undefined)
  {
    // As XO makes a VM from a template: VM.clone of the template (a
    // template too), VM.provision (now a VM), VM.start.
    await xapi.call('VM.set_is_a_template', ref, true)
    await waitFor('a template', () => xapi.getObject(ref).is_a_template).catch(() => undefined)
    check('VM.set_is_a_template: is_a_template arrives by event', xapi.getObject(ref).is_a_template)
    try {
      await xapi.callAsync('VM.start', ref, false, false)
      check('VM.start of a template fails', false)
    } catch (e) {
      check('VM.start of a template: VM_IS_TEMPLATE', e.code === 'VM_IS_TEMPLATE', e.code)
    }
    const nref = await xapi.callAsync('VM.clone', ref, 'fromtemplate')
    const n = await waitFor('the clone', () => xapi.getObject(nref, undefined)).catch(() => undefined)
    check('Async.VM.clone of a template: its ref, a template, by event',
      n?.is_a_template === true && n.uuid !== xapi.getObject(ref).uuid && n.name_label === 'fromtemplate')
    await xapi.callAsync('VM.provision', nref)
    await waitFor('provisioned', () => xapi.getObject(nref).is_a_template === false).catch(() => undefined)
    check('Async.VM.provision: no longer a template', xapi.getObject(nref).is_a_template === false)
    await xapi.callAsync('VM.start', nref, false, false)
    await waitFor('the new VM running', () => xapi.getObject(nref).power_state === 'Running')
      .catch(() => undefined)
    check('VM.start of the provisioned clone: Running by event', xapi.getObject(nref).power_state === 'Running')
    await xapi.callAsync('VM.hard_shutdown', nref)
    await waitFor('it halted', () => xapi.getObject(nref).power_state === 'Halted')
    await xapi.callAsync('VM.destroy', nref)
    await xapi.call('VM.set_is_a_template', ref, false)
    await waitFor('a VM again', () => !xapi.getObject(ref).is_a_template)
  }
  await xapi.callAsync('VM.start', ref, false, false)
  await waitFor('it running', () => xapi.getObject(ref).power_state === 'Running')
  try {
    await xapi.callAsync('VM.destroy', ref)
    check('VM.destroy of a running VM fails', false)
  } catch (e) {
    check('VM.destroy of a running VM: VM_BAD_POWER_STATE', e.code === 'VM_BAD_POWER_STATE', e.code)
  }
  await xapi.callAsync('VM.hard_shutdown', ref)
  await waitFor('it halted', () => xapi.getObject(ref).power_state === 'Halted')
  await xapi.callAsync('VM.destroy', ref)
  await waitFor('its removal', () => xapi.getObject(ref, undefined) === undefined).catch(() => undefined)
  check('VM.destroy: it goes by event', xapi.getObject(ref, undefined) === undefined)
}

if (xlDomain) {
  // The caller runs `xl create` when it reads this line.
  console.log('READY xl')
  const vm = await waitFor('the xl-created VM', () => vms().find(v => v.name_label === xlDomain &&
    v.power_state === 'Running'), 60).catch(() => undefined)
  check('a VM made by xl create shows up by event, Running', vm !== undefined)
  if (vm) {
    // It has no PV drivers (guest-idle): a clean_shutdown waits for it in
    // vain until task.cancel interrupts the wait.
    const task = await xapi.call('Async.VM.clean_shutdown', vm.$ref)
    await waitFor('its task', () => xapi.getObject(task, undefined), 10).catch(() => undefined)
    await xapi.call('task.cancel', task)
    const t = await waitFor('the cancelled task', () => {
      const o = xapi.getObject(task, undefined)
      return o && o.status !== 'pending' && o.status !== 'cancelling' ? o : undefined
    }, 30).catch(() => undefined)
    check('task.cancel interrupts Async.VM.clean_shutdown of a guest that ignores it: ' +
      'cancelled, TASK_CANCELLED, by event; the VM runs on', t?.status === 'cancelled' &&
      t.error_info?.[0] === 'TASK_CANCELLED' && xapi.getObject(vm.$ref).power_state === 'Running',
      JSON.stringify(t && { status: t.status, error_info: t.error_info }))
    await xapi.call('task.destroy', task)
  }
  console.log('READY destroyed?')
  await waitFor('its removal', () => removed.includes(xlDomain) ||
    !vms().some(v => v.name_label === xlDomain), 60).catch(() => undefined)
  check('xl destroy removes it by event', !vms().some(v => v.name_label === xlDomain))
}

await xapi.disconnect()
console.log(failures ? `${failures} failed` : 'all passed')
process.exit(failures ? 1 : 0)
