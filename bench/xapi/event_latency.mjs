// How soon Xen Orchestra's own client (npm xen-api) sees a power-state
// change: node event_latency.mjs MODULE_DIR URL XL VM_NAME ROUNDS
//
// The client is connected and follows events (its object cache changes
// only through event.from). Each round runs `xl pause VM_NAME`, then
// `xl unpause VM_NAME` (250 ms apart), and takes the time from the command's spawn to the
// client's 'update' event carrying the new power_state. Beside it, in the
// same process and run, bare HTTP GET / requests to the same daemon.
// Prints one JSON line of milliseconds.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [moduleDir, url, xl, vmName, roundsArg] = process.argv.slice(2)
const rounds = Number(roundsArg)
const { createClient } = await import(pathToFileURL(path.join(moduleDir, 'xen-api', 'index.mjs')))

const now = () => Number(process.hrtime.bigint()) / 1e6
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const xapi = createClient({ url, auth: { user: 'root', password: 'secret' }, allowUnauthorized: true })
await xapi.connect()
await xapi.objectsFetched

const vm = () => Object.values(xapi.objects.all).find(o => o.$type === 'VM' && o.name_label === vmName)
if (vm()?.power_state !== 'Running') {
  console.error(`event_latency: ${vmName} is not Running in the client's cache`)
  process.exit(1)
}

// resolves with the time the client's cache shows the VM in `state`
const stateSeen = state => new Promise(resolve => {
  const on = items => {
    for (const o of Object.values(items)) {
      if (o.$type === 'VM' && o.name_label === vmName && o.power_state === state) {
        xapi.objects.removeListener('update', on)
        resolve(now())
        return
      }
    }
  }
  xapi.objects.on('update', on)
})

const run = args => new Promise((resolve, reject) => {
  const t0 = now()
  const p = spawn(xl, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  p.on('error', reject)
  p.on('exit', code => code === 0 ? resolve(now() - t0) : reject(new Error(`xl ${args.join(' ')}: ${code}`)))
})

// Changes 250 ms apart: the daemon rescans at most every 100 ms on the
// watches (so that a guest writing its nodes without pause cannot keep it
// rescanning), and an isolated change is what is measured here.
const gap = () => new Promise(resolve => setTimeout(resolve, 250))
const lat = []; const cmd = []
for (let i = 0; i < rounds; i++) {
  for (const [verb, state] of [['pause', 'Paused'], ['unpause', 'Running']]) {
    await gap()
    const seen = stateSeen(state)
    const t0 = now()
    const [ms] = await Promise.all([run([verb, vmName]), seen])
    lat.push((await seen) - t0)
    cmd.push(ms)
  }
}

const bare = []
for (let i = 0; i < 200; i++) {
  const t0 = now()
  const r = await fetch(url + '/')
  await r.arrayBuffer()
  bare.push(now() - t0)
}
await xapi.disconnect()
console.log(JSON.stringify({
  changes: lat.length,
  event_ms_median: median(lat), event_ms_max: Math.max(...lat),
  xl_command_ms_median: median(cmd), bare_http_ms_median: median(bare),
}))
