'use strict';
// The npm Kasa client (tplink-smarthome-api) polling plugs the way the daemon does: every
// device once per interval, phases spread evenly, one poll at a time per device, the same
// readings (sysinfo and the emeter's realtime values). Run by bench/poll_capacity.
//
//   node poll.js --targets FILE [--interval S] [--timeout S] [--mode api|send] [--report S]
//
// FILE has one "ADDR PORT [NAME]" per line; a named device polls at the phase the daemon
// gives that name (FNV-1a of the name, as daemon/poller.c does). Modes:
//   api   the library's device API: client.getDevice() on first contact, then
//         plug.getSysInfo() and plug.emeter.getRealtime() each poll (two connections,
//         as the API makes them)
//   send  one request for both through client.send(), one connection per poll, as the
//         daemon does
// Prints "stats t=S polls=N ok=N errors=N skipped=N cpu_s=S" every --report seconds.

const fs = require('fs');
const { Client } = require('tplink-smarthome-api');

function parseArgs(argv) {
  const opts = { interval: 10, timeout: 2, mode: 'api', report: 1, targets: null };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (!(key in opts) || value === undefined) {
      console.error('usage: node poll.js --targets FILE [--interval S] [--timeout S] '
        + '[--mode api|send] [--report S]');
      process.exit(2);
    }
    opts[key] = key === 'targets' || key === 'mode' ? value : Number(value);
  }
  if (!opts.targets || !['api', 'send'].includes(opts.mode) || !(opts.interval > 0)) {
    console.error('poll.js: --targets is required; --mode is api or send');
    process.exit(2);
  }
  return opts;
}

const opts = parseArgs(process.argv);
const devices = fs.readFileSync(opts.targets, 'utf8').split('\n')
  .filter((line) => line.trim() && !line.startsWith('#'))
  .map((line) => {
    const [host, port, name] = line.trim().split(/\s+/);
    return { host, port: Number(port), name, plug: null, busy: false };
  });

// The daemon's phase of a device: interval * (FNV-1a-64(name) % 10007) / 10007.
function phaseOf(name, intervalS) {
  const mask = (1n << 64n) - 1n;
  let h = 1469598103934665603n;
  for (const byte of Buffer.from(name, 'utf8')) {
    h = ((h ^ BigInt(byte)) * 1099511628211n) & mask;
  }
  return (intervalS * Number(h % 10007n)) / 10007;
}

const client = new Client({
  defaultSendOptions: { timeout: opts.timeout * 1000, transport: 'tcp' },
  logLevel: 'silent',
});
const REQUEST = '{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{}}}';
const stats = { polls: 0, ok: 0, errors: 0, skipped: 0 };
let errorsShown = 0;

async function pollApi(d) {
  if (!d.plug) {
    d.plug = await client.getDevice({ host: d.host, port: d.port });
  } else {
    await d.plug.getSysInfo();
  }
  if (!d.plug.supportsEmeter) throw new Error(`${d.host}: no emeter`);
  const rt = await d.plug.emeter.getRealtime();
  if (rt.power === undefined && rt.power_mw === undefined) throw new Error('no power reading');
}

async function pollSend(d) {
  const reply = JSON.parse(await client.send(REQUEST, d.host, d.port));
  const si = reply.system && reply.system.get_sysinfo;
  const rt = reply.emeter && reply.emeter.get_realtime;
  if (!si || si.err_code || !rt || rt.err_code) throw new Error('error in reply');
  if (rt.power === undefined && rt.power_mw === undefined) throw new Error('no power reading');
}

const poll = opts.mode === 'api' ? pollApi : pollSend;

function tick(d) {
  if (d.busy) {
    stats.skipped += 1;
    return;
  }
  d.busy = true;
  stats.polls += 1;
  poll(d).then(() => {
    stats.ok += 1;
  }, (err) => {
    stats.errors += 1;
    if (errorsShown < 5) {
      errorsShown += 1;
      console.error(`poll.js: ${d.host}:${d.port}: ${err.message.split('\n')[0]}`);
    }
  }).finally(() => {
    d.busy = false;
  });
}

const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const intervalMs = opts.interval * 1000;
devices.forEach((d, i) => {
  const offsetMs = d.name ? phaseOf(d.name, opts.interval) * 1000 : (i * intervalMs) / devices.length;
  setTimeout(() => {
    tick(d);
    setInterval(() => tick(d), intervalMs);
  }, offsetMs);
});

function report() {
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`stats t=${t.toFixed(3)} polls=${stats.polls} ok=${stats.ok} `
    + `errors=${stats.errors} skipped=${stats.skipped} `
    + `cpu_s=${((cpu.user + cpu.system) / 1e6).toFixed(3)}\n`);
}
if (opts.report > 0) setInterval(report, opts.report * 1000);
process.on('SIGTERM', () => {
  report();
  process.exit(0);
});
process.stdout.write(`ready targets=${devices.length} mode=${opts.mode}\n`);
