// Xen Orchestra's client (npm xen-api) takes snapshots and checkpoints
// of a running VM and reverts to them:
//   node snapshot.mjs MODULE_DIR URL DISK CONSOLE_LOG SUSPEND_DIR FIFO
// DISK is the raw disk of the VM "ctr" (a counting guest), whose first
// 4 KiB this script sets (A, B, C) between the steps as the guest's
// writes would; CONSOLE_LOG its console ("count N" every 2 ms).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [moduleDir, url, disk, consoleLog, suspendDir, fifo, qcImage] = process.argv.slice(2)
const { createClient } = await import(pathToFileURL(path.join(moduleDir, 'xen-api', 'index.mjs')))

let failures = 0
const check = (what, ok, detail = '') => {
  console.log((ok ? 'ok   ' : 'FAIL ') + what + (ok || !detail ? '' : ': ' + detail))
  if (!ok) failures++
}
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
const soon = (what, cond, secs) => waitFor(what, cond, secs).catch(() => undefined)
const fails = async (p) => {
  try { await p; return { code: 'none' } } catch (e) { return e }
}

const xapi = createClient({ url, auth: { user: 'root', password: 'secret' }, allowUnauthorized: true })
await xapi.connect()
await xapi.objectsFetched
const vms = () => Object.values(xapi.objects.all).filter(o => o.$type === 'VM')
const get = (ref) => xapi.getObject(ref, undefined)

// The guest's console: its counts from byte `from` on (from 0 when the
// file was started anew).
const logText = () => { try { return fs.readFileSync(consoleLog, 'latin1') } catch { return '' } }
const counts = (from = 0) => {
  const t = logText()
  return [...t.slice(t.length >= from ? from : 0).matchAll(/^count (\d+)\r?$/gm)].map(m => Number(m[1]))
}
const lastCount = () => { const c = counts(); return c.length ? c[c.length - 1] : -1 }
// A FIFO's reader on a thread of its own, so that its blocking open
// and reads never stall the client's event loop: opened() resolves once
// a writer has opened the FIFO; drain() reads it to its end and resolves
// with the byte count; close() lets it go unread.
const fifoReader = (file) => {
  const w = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const fs = require('node:fs')
    const fd = fs.openSync(workerData, 'r')
    parentPort.postMessage('opened')
    parentPort.once('message', (m) => {
      let got = 0
      const buf = Buffer.alloc(1 << 16)
      if (m === 'drain') for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) got += n
      fs.closeSync(fd)
      parentPort.postMessage(got)
    })`, { eval: true, workerData: file })
  const next = () => new Promise(resolve => w.once('message', resolve))
  const opened = next()
  const finish = (m) => { const r = next(); w.postMessage(m); return r }
  return { opened, drain: () => finish('drain'), close: () => finish('close') }
}
const block = (c) => Buffer.alloc(4096, c)
// Live qemu-nbd processes whose command line names the image.
const servers = (image) => fs.readdirSync('/proc').filter(p => /^\d+$/.test(p)).filter(p => {
  try {
    const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0')
    const st = fs.readFileSync(`/proc/${p}/stat`, 'latin1')
    return argv[0].endsWith('qemu-nbd') && argv.includes(image) && st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch { return false }
}).map(Number)
const setDisk = (c) => { const fd = fs.openSync(disk, 'r+'); fs.writeSync(fd, block(c), 0, 4096, 0); fs.closeSync(fd) }
const diskIs = (file, c) => {
  try {
    const fd = fs.openSync(file, 'r'); const b = Buffer.alloc(4096)
    fs.readSync(fd, b, 0, 4096, 0); fs.closeSync(fd); return b.equals(block(c))
  } catch { return false }
}
// the file of a VM's first disk, from the client's own records
const diskOf = (vm) => get(get(get(vm)?.VBDs?.[0])?.VDI)?.location

const vm = (await soon('ctr', () => vms().find(v => v.name_label === 'ctr'), 20))?.$ref
const qc = (await soon('qc', () => vms().find(v => v.name_label === 'qc'), 20))?.$ref
check('the VMs are listed', vm !== undefined && qc !== undefined)
if (!vm || !qc) process.exit(1)
const state = () => get(vm).power_state

{
  const e = await fails(xapi.callAsync('VM.checkpoint', vm, 'ck-halted'))
  check('VM.checkpoint of a Halted VM: VM_BAD_POWER_STATE [vm, running, halted]',
    e.code === 'VM_BAD_POWER_STATE' && e.params?.join() === [vm, 'running', 'halted'].join(), e.code)
}
await xapi.callAsync('VM.start', vm, false, false)
await soon('Running', () => state() === 'Running')
check('the guest counts', await soon('counts', () => counts().length > 50, 60) !== undefined)
const domid = get(vm).domid

// VM.snapshot of the running VM: paused for the copy, then runs on.
const snap = await xapi.callAsync('VM.snapshot', vm, 'snap1')
const after1 = lastCount()
const s = await soon('the snapshot', () => get(snap)?.snapshot_of === vm && get(vm).snapshots?.includes(snap) ? get(snap) : undefined, 10)
check('Async.VM.snapshot of a Running VM: its ref; snapshot_of, snapshots, by event',
  s !== undefined, JSON.stringify(get(snap)?.snapshot_of))
check('... is_a_snapshot, is_a_template, Halted, a snapshot_time, its own uuid',
  s?.is_a_snapshot === true && s.is_a_template === true && s.power_state === 'Halted' &&
  /^\d{8}T\d\d:\d\d:\d\dZ$/.test(s.snapshot_time) && s.snapshot_time !== '19700101T00:00:00Z' &&
  s.uuid !== get(vm).uuid, JSON.stringify(s && [s.is_a_snapshot, s.is_a_template, s.power_state, s.snapshot_time]))
check('... the VM runs on under its domid, counting on',
  await soon('counting on', () => lastCount() > after1 + 100, 30) !== undefined &&
  state() === 'Running' && get(vm).domid === domid, `${after1} -> ${lastCount()}`)
const snapDisk = diskOf(snap)
check("... the snapshot's disk is a copy of the VM's (A), in a file of its own",
  snapDisk && snapDisk !== disk && diskIs(snapDisk, 'A'), snapDisk)
{
  // A Paused VM's snapshot leaves it paused: no count while it is taken
  // and for a second after.
  await xapi.callAsync('VM.pause', vm)
  await soon('Paused', () => state() === 'Paused')
  const at = lastCount()
  const p = await xapi.callAsync('VM.snapshot', vm, 'psnap')
  await new Promise(resolve => setTimeout(resolve, 1000))
  check('Async.VM.snapshot of a Paused VM: a snapshot of it; the VM stays Paused, not counting',
    get(p)?.snapshot_of === vm && state() === 'Paused' && lastCount() === at, `${at} -> ${lastCount()}`)
  await xapi.callAsync('VM.destroy', p)
  await xapi.callAsync('VM.unpause', vm)
  await soon('Running', () => state() === 'Running')
}
setDisk('B')

// VM.checkpoint: the memory too; Suspended while its image is there.
const before2 = lastCount()
const ck = await xapi.callAsync('VM.checkpoint', vm, 'ck1')
const after2 = lastCount()
const c = await soon('the checkpoint', () => get(ck)?.snapshot_of === vm && get(vm).snapshots?.includes(ck) ? get(ck) : undefined, 10)
check('Async.VM.checkpoint: a snapshot of the VM, Suspended, with a suspend_VDI, by event',
  c?.is_a_snapshot === true && c.power_state === 'Suspended' && c.suspend_VDI !== 'OpaqueRef:NULL' &&
  get(c.suspend_VDI)?.type === 'suspend', JSON.stringify(c && [c.is_a_snapshot, c.power_state, c.suspend_VDI]))
check('... its memory image is SUSPEND_DIR/<its uuid>.xl, mode 0600',
  c && (fs.statSync(path.join(suspendDir, c.uuid + '.xl'), { throwIfNoEntry: false })?.mode & 0o777) === 0o600)
check('... a checkpoint may only be reverted to', c?.allowed_operations?.join() === 'revert',
  c?.allowed_operations?.join())
check('... the VM runs on under its domid, counting on',
  await soon('counting on', () => lastCount() > after2 + 100, 30) !== undefined &&
  state() === 'Running' && get(vm).domid === domid, `${after2} -> ${lastCount()}`)
check("... the checkpoint's disk is the VM's at that moment (B)", diskIs(diskOf(ck), 'B'), diskOf(ck))
for (const [op, args] of [['VM.resume', [false, false]], ['VM.start', [false, false]]]) {
  const e = await fails(xapi.callAsync(op, ck, ...args))
  check(`${op} of a checkpoint: VM_IS_TEMPLATE`, e.code === 'VM_IS_TEMPLATE', e.code)
}
setDisk('C')

{
  const e = await fails(xapi.callAsync('VM.revert', vm))
  check('VM.revert of a VM that is no snapshot: OPERATION_NOT_ALLOWED', e.code === 'OPERATION_NOT_ALLOWED', e.code)
}
// Revert to the snapshot: the running VM is stopped, its disk is A again.
await xapi.callAsync('VM.revert', snap)
check('Async.VM.revert to the snapshot: the running VM Halted, by event',
  await soon('Halted', () => state() === 'Halted', 10) !== undefined, state())
check("... its disk is the snapshot's (A), the same file", diskIs(disk, 'A'))
check('... the snapshots stay', get(vm).snapshots?.includes(snap) && get(vm).snapshots?.includes(ck) &&
  get(snap)?.is_a_snapshot && get(ck)?.power_state === 'Suspended')

// Revert to the checkpoint: Suspended at its moment; resumed, the guest
// counts on from where the checkpoint was taken.
await xapi.callAsync('VM.revert', ck)
check('Async.VM.revert to the checkpoint: the VM Suspended, with a suspend_VDI, by event',
  await soon('Suspended', () => state() === 'Suspended' && get(vm).suspend_VDI !== 'OpaqueRef:NULL', 10) !== undefined,
  state())
check("... its disk is the checkpoint's (B)", diskIs(disk, 'B'))
check('... the checkpoint keeps its image', get(ck)?.power_state === 'Suspended' &&
  fs.existsSync(path.join(suspendDir, get(ck).uuid + '.xl')))
const mark = logText().length
const highest = Math.max(...counts())
await xapi.callAsync('VM.resume', vm, false, false)
await soon('Running', () => state() === 'Running')
const resumed = await soon('counts after the resume', () => counts(mark).length > 20 ? counts(mark) : undefined, 30)
check('VM.resume: Running, counting on from the checkpoint (not from 0, not from where it was stopped)',
  resumed !== undefined && resumed[0] >= before2 && resumed[0] <= after2 + 1 && resumed[0] < highest,
  `checkpoint between ${before2} and ${after2}, stopped at ${highest}, resumed at ${resumed?.[0]}`)

{
  // task.cancel of Async VM.start, suspend and pool_migrate queued behind
  // a VM.revert that holds the image lock (its snapshot's disk is a FIFO
  // nobody writes, so its qemu-img blocks opening it): each ends
  // cancelled with TASK_CANCELLED [task], and nothing was done.
  const blk = vms().find(v => v.name_label === 'blk')?.$ref
  const bsnap = vms().find(v => v.name_label === 'blksnap')?.$ref
  check('a hand-written snapshot of blk', get(bsnap)?.snapshot_of === blk && blk !== undefined)
  const rtask = await xapi.call('Async.VM.revert', bsnap)
  const blocked = () => fs.readdirSync('/proc').some(p => {
    try { return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0').includes(fifo) } catch { return false }
  })
  check("the revert's qemu-img waits on the FIFO", await soon('qemu-img on the FIFO', blocked, 20) !== undefined)
  const domid3 = get(vm).domid
  const host = xapi.pool.master
  const tasks = {
    start: await xapi.call('Async.VM.start', qc, false, false),
    suspend: await xapi.call('Async.VM.suspend', vm),
    pool_migrate: await xapi.call('Async.VM.pool_migrate', vm, host, {}),
  }
  for (const t of Object.values(tasks)) await xapi.call('task.cancel', t)
  const status = async (t) => [await xapi.call('task.get_status', t), await xapi.call('task.get_error_info', t)]
  const pendingAll = await Promise.all(Object.values(tasks).map(status))
  check('... the queued tasks are cancelling while the lock is held',
    pendingAll.every(([st]) => st === 'cancelling'), JSON.stringify(pendingAll))
  await xapi.call('task.cancel', rtask)
  const ended = (t) => soon('the task to end', () => {
    const o = get(t)
    return o && o.status !== 'pending' && o.status !== 'cancelling' ? o : undefined
  }, 30)
  const r = await ended(rtask)
  check('task.cancel of the blocked Async.VM.revert: cancelled, TASK_CANCELLED, by event',
    r?.status === 'cancelled' && r.error_info?.[0] === 'TASK_CANCELLED' && r.error_info?.[1] === rtask,
    JSON.stringify(r && [r.status, r.error_info]))
  for (const [op, t] of Object.entries(tasks)) {
    const o = await ended(t)
    check(`task.cancel of a queued Async.VM.${op}: cancelled, TASK_CANCELLED [task], by event`,
      o?.status === 'cancelled' && o.error_info?.join() === ['TASK_CANCELLED', t].join(),
      JSON.stringify(o && [o.status, o.error_info]))
    await xapi.call('task.destroy', t)
  }
  await xapi.call('task.destroy', rtask)
  check('... and none of them was done: qc Halted, ctr Running under its domid, no suspend image',
    get(qc).power_state === 'Halted' && state() === 'Running' && get(vm).domid === domid3 &&
    !fs.existsSync(path.join(suspendDir, get(vm).uuid + '.xl')),
    JSON.stringify([get(qc).power_state, state(), domid3, get(vm).domid]))
  check("... blk's disk is untouched", diskIs(diskOf(blk), 'K'))
  await xapi.callAsync('VM.destroy', bsnap)

  // task.cancel of an Async.VM.suspend under way: its image's .part is
  // a FIFO here, opened (so the save has begun) but not read until the
  // task is cancelling; then the written image is discarded and the
  // guest runs on.
  const part = path.join(suspendDir, get(vm).uuid + '.xl.part')
  execFileSync('mkfifo', [part])
  const st = await xapi.call('Async.VM.suspend', vm)
  const rd = fifoReader(part)
  await rd.opened                         // the daemon opened it to write
  await xapi.call('task.cancel', st)
  check('... an Async.VM.suspend under way is cancelling', (await xapi.call('task.get_status', st)) === 'cancelling')
  const got = await rd.drain()
  const o = await ended(st)
  const at = lastCount()
  check('task.cancel of an Async.VM.suspend under way: cancelled, TASK_CANCELLED [task], by event',
    o?.status === 'cancelled' && o.error_info?.join() === ['TASK_CANCELLED', st].join() && got > 1 << 16,
    JSON.stringify(o && [o.status, o.error_info, got]))
  check('... the guest runs on under its domid, no image, no .part',
    await soon('counting on', () => lastCount() > at + 100, 30) !== undefined && state() === 'Running' &&
    get(vm).domid === domid3 && !fs.existsSync(part) && !fs.existsSync(part.slice(0, -5)),
    `${at} -> ${lastCount()}`)
  await xapi.call('task.destroy', st)

  // task.cancel of an Async.VM.start under way: the domain's xl log is a
  // FIFO here, which its creation opens (so the start has begun); the
  // new domain is destroyed and the VM stays Halted, as XAPI's.
  const xlog = path.join(path.dirname(path.dirname(consoleLog)), 'xl-qc.log')
  // qc has never run: a log here would mean one of the starts above ran
  check('qc has had no domain (no xl log)', !fs.existsSync(xlog),
    fs.existsSync(xlog) && fs.readFileSync(xlog, 'latin1').slice(-2000))
  fs.rmSync(xlog, { force: true })
  execFileSync('mkfifo', [xlog])
  const t = await xapi.call('Async.VM.start', qc, false, false)
  const lr = fifoReader(xlog)
  await lr.opened                         // the domain's creation opened it
  await xapi.call('task.cancel', t)
  const ot = await ended(t)
  await lr.close()
  fs.unlinkSync(xlog)
  check('task.cancel of an Async.VM.start under way: cancelled, TASK_CANCELLED [task]; the VM Halted, no domain',
    ot?.status === 'cancelled' && ot.error_info?.join() === ['TASK_CANCELLED', t].join() &&
    await soon('Halted', () => get(qc).power_state === 'Halted' && get(qc).domid === -1, 10) !== undefined,
    JSON.stringify([ot?.status, ot?.error_info, get(qc).power_state, get(qc).domid]))
  await xapi.call('task.destroy', t)
}

// A running VM with a writable qcow2 disk: its qemu-nbd caches the image.
await xapi.callAsync('VM.start', qc, false, false)
await soon('qc Running', () => get(qc).power_state === 'Running')
// Its snapshot: the server flushed (NBD_CMD_FLUSH) while the VM is
// paused, the image read beside it (qemu-img -U): a consistent qcow2
// with what the disk held.
let qsnap
{
  const qdomid = get(qc).domid
  qsnap = await xapi.callAsync('VM.snapshot', qc, 'qsnap')
  const file = await soon('its disk', () => diskOf(qsnap), 10)
  let ok = false, detail = ''
  const out = qcImage + '.snap0'
  try {
    execFileSync('qemu-img', ['check', '-q', '-f', 'qcow2', file])
    execFileSync('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', 'bs=4096', 'count=1', 'if=' + file, 'of=' + out])
    ok = fs.readFileSync(out).equals(block(0x51))
  } catch (e) { detail = String(e) }
  check('VM.snapshot of a running VM with a writable qcow2 disk: its own qcow2 image, consistent, as the disk was',
    ok && file !== qcImage && get(qsnap)?.snapshot_of === qc, detail + ' ' + file)
  check('... the VM runs on under its domid', get(qc).power_state === 'Running' && get(qc).domid === qdomid,
    JSON.stringify([get(qc).power_state, qdomid, get(qc).domid]))
}
// It moves to a new domain on this host: the incoming one takes over the
// old one's qemu-nbd (QEMU's image lock admits one server), so while it
// runs one server serves the image, and after its shutdown the image
// holds what it held and is consistent (qemu-img check).
{
  const qdomid = get(qc).domid
  const before = servers(qcImage)
  await xapi.callAsync('VM.pool_migrate', qc, xapi.pool.master, {})
  check('VM.pool_migrate of a VM with a writable qcow2 disk: Running, same reference, a new domid',
    await soon('moved', () => get(qc).power_state === 'Running' && get(qc).domid >= 0 &&
      get(qc).domid !== qdomid, 20) !== undefined, JSON.stringify([get(qc).power_state, qdomid, get(qc).domid]))
  const after = servers(qcImage)
  check('... one qemu-nbd serves its image before and after, the same one',
    before.length === 1 && after.length === 1 && after[0] === before[0], JSON.stringify([before, after]))
}
await xapi.callAsync('VM.hard_shutdown', qc)
await soon('qc Halted', () => get(qc).power_state === 'Halted')
check('after its shutdown no qemu-nbd serves the qcow2 image',
  await soon('no server', () => servers(qcImage).length === 0, 10) !== undefined, JSON.stringify(servers(qcImage)))
{
  let ok = false, detail = ''
  const out = qcImage + '.block0'
  try {
    execFileSync('qemu-img', ['check', '-q', '-f', 'qcow2', qcImage])
    execFileSync('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', 'bs=4096', 'count=1', 'if=' + qcImage, 'of=' + out])
    const raw = fs.readFileSync(out)
    ok = raw.equals(block(0x51)); detail = raw.subarray(0, 8).toString('hex')
  } catch (e) { detail = String(e) }
  check('the qcow2 image after the move: consistent, its first block as written before', ok, detail)
}

// Snapshots go with VM.destroy, a checkpoint with its image.
await xapi.callAsync('VM.hard_shutdown', vm)
const ckImage = path.join(suspendDir, get(ck).uuid + '.xl')
await xapi.callAsync('VM.destroy', ck)
await xapi.callAsync('VM.destroy', snap)
await xapi.callAsync('VM.destroy', qsnap)
check('VM.destroy of the checkpoint and the snapshot: gone by event, the memory image too',
  await soon('gone', () => !get(ck) && !get(snap) && !get(vm).snapshots?.length, 10) !== undefined &&
  !fs.existsSync(ckImage), JSON.stringify(get(vm).snapshots))

await xapi.disconnect()
console.log(failures ? `${failures} failed` : 'all passed')
process.exit(failures ? 1 : 0)
