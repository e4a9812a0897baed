#!/usr/bin/env node
// Launches tplink-smarthome-simulator devices on loopback as an independent interop peer.
//
// usage: node sim-peer.js [--delay MS] [--garbage P] DEVICE...
//   DEVICE = MODEL[:PORT][,KEY=VALUE]...   (port 0 or absent: ephemeral)
//   KEY    = alias | relay (0|1) | power (W) | voltage (V) | current (A) | total (kWh)
//            reading keys apply to the device itself, or to every outlet of an hs300
//
// stdout: "ready MODEL ADDR PORT DEVICEID" per device, in argument order, then "ready all".
// stdin, one command per line, each answered "ok" or "error <why>":
//   set INDEX[/OUTLET] KEY VALUE    change a reading or the relay of one device (or outlet)
// Exits 0 on SIGTERM/SIGINT within 1 s, even with clients still connected.
//
// Needs the package on the module path: run with NODE_PATH=<dir>/node_modules.
'use strict';

const net = require('net');
const readline = require('readline');
const { Device } = require('tplink-smarthome-simulator');

const ADDRESS = '127.0.0.1'; // loopback only, whatever the caller asks
const MODELS = new Set(['hs100', 'hs105', 'hs110', 'hs110v2', 'hs200', 'hs300']);
const READINGS = new Set(['power', 'voltage', 'current', 'total']);

function die(msg) {
  process.stderr.write(`sim-peer: ${msg}\n`);
  process.exit(2);
}

function parseNumber(key, text) {
  const v = Number(text);
  if (text === '' || !Number.isFinite(v)) throw new Error(`${key}: not a number: ${text}`);
  return v;
}

function parseSpec(spec) {
  const [head, ...opts] = spec.split(',');
  const [model, portText = '0', extra] = head.split(':');
  if (!MODELS.has(model)) throw new Error(`unknown model "${model}"`);
  if (extra !== undefined) throw new Error(`bad device "${spec}" (the address is always ${ADDRESS})`);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port "${portText}"`);
  const set = [];
  let alias;
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    if (eq <= 0) throw new Error(`bad option "${opt}"`);
    const key = opt.slice(0, eq);
    const value = opt.slice(eq + 1);
    if (key === 'alias') alias = value;
    else if (key === 'relay' || READINGS.has(key)) set.push([key, parseNumber(key, value)]);
    else throw new Error(`unknown option "${key}"`);
  }
  return { model, port, alias, set };
}

// A target is a single plug, or one outlet of a strip; both carry state and emeter.realtime.
function targets(dev, outlet) {
  if (!dev.children) {
    if (outlet !== undefined) throw new Error('not a strip');
    // The package keeps an emeter object even on hs100; 'ENE' in feature says it is real.
    const metered = /(^|:)ENE(:|$)/.test(dev.data.system.sysinfo.feature || '');
    return [{ sysinfo: dev.data.system.sysinfo, realtime: metered ? dev.data.emeter.realtime : undefined }];
  }
  const kids = outlet === undefined ? dev.children : [dev.children[outlet]];
  if (kids.some((c) => c === undefined)) throw new Error(`no outlet ${outlet}`);
  return kids.map((c) => ({ child: c, realtime: c.emeter && c.emeter.realtime }));
}

function apply(dev, outlet, key, value) {
  for (const t of targets(dev, outlet)) {
    if (key === 'relay') {
      if (value !== 0 && value !== 1) throw new Error('relay must be 0 or 1');
      if (t.child) t.child.sysinfo.state = value;
      else t.sysinfo.relay_state = value;
    } else if (READINGS.has(key)) {
      if (!t.realtime) throw new Error(`${dev.model} has no energy meter`);
      t.realtime[key] = value;
    } else {
      throw new Error(`unknown key "${key}"`);
    }
  }
}

// A TCP port that is free right now. The package binds UDP first and then TCP on the same
// number, so a port 0 from the UDP side may already be someone's TCP port; start from a
// free TCP port instead.
function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen({ port: 0, host: ADDRESS }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts a device made by make(port); with port 0 asked, retries on a port taken meanwhile.
async function startDevice(spec, make) {
  for (let attempt = 1; ; attempt += 1) {
    const dev = make(spec.port || (await freeTcpPort()));
    try {
      await dev.start();
      return dev;
    } catch (e) {
      const dn = dev.deviceNetworking;
      // The package retries listen() on its own 500 ms later; this device is abandoned.
      if (dn.server) dn.server.listen = () => dn.server;
      await dev.stop().catch(() => {});
      if (e.code !== 'EADDRINUSE' || spec.port !== 0 || attempt >= 10) throw e;
    }
  }
}

async function main() {
  const opt = { delay: 0, garbage: 0 };
  const specs = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 1) {
    const m = /^--(delay|garbage)$/.exec(argv[i]);
    if (m) {
      if (i + 1 >= argv.length) die(`${argv[i]} needs a value`);
      i += 1;
      opt[m[1]] = parseNumber(m[1], argv[i]);
    } else if (argv[i].startsWith('-')) {
      die(`unknown flag ${argv[i]}`);
    } else {
      try {
        specs.push(parseSpec(argv[i]));
      } catch (e) {
        die(e.message);
      }
    }
  }
  if (specs.length === 0) die('no devices given');

  const devices = [];
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Device.stop() waits for connected clients to go away; never wait longer than this.
    setTimeout(() => process.exit(0), 800).unref();
    await Promise.allSettled(devices.map((d) => d.stop()));
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (const [n, spec] of specs.entries()) {
    const num = String(n + 1);
    const deviceId = `8006${num.padStart(36, '0')}`; // 40 hex digits like real ids
    const mac = `50:C7:BF:00:${num.padStart(4, '0').slice(0, 2)}:${num.padStart(4, '0').slice(2)}`;
    const dev = await startDevice(spec, (port) => {
      const d = new Device({
        model: spec.model,
        address: ADDRESS,
        port,
        responseDelay: opt.delay,
        unreliablePercent: opt.garbage,
        data: { alias: spec.alias !== undefined ? spec.alias : `peer ${spec.model} ${num}`, deviceId, mac },
      });
      // Without a listener an 'error' event (bad request, client reset) would kill node.
      d.deviceNetworking.on('error', (e) => process.stderr.write(`sim-peer: ${spec.model}: ${e.message}\n`));
      // After construction: hs110v2 merges its defaults over the data passed in.
      apply(d, undefined, 'relay', 1);
      for (const [key, value] of spec.set) apply(d, undefined, key, value);
      return d;
    });
    devices.push(dev);
    process.stdout.write(`ready ${spec.model} ${dev.address} ${dev.port} ${deviceId}\n`);
  }
  process.stdout.write('ready all\n');

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    const words = line.trim().split(/\s+/);
    if (words.length === 1 && words[0] === '') return;
    try {
      if (words[0] !== 'set' || words.length !== 4) throw new Error('usage: set INDEX[/OUTLET] KEY VALUE');
      const [idxText, outletText] = words[1].split('/');
      const dev = devices[Number(idxText)];
      if (!/^\d+$/.test(idxText) || dev === undefined) throw new Error(`no device ${idxText}`);
      let outlet;
      if (outletText !== undefined) {
        if (!/^\d+$/.test(outletText)) throw new Error(`bad outlet ${outletText}`);
        outlet = Number(outletText);
      }
      apply(dev, outlet, words[2], parseNumber(words[2], words[3]));
      process.stdout.write('ok\n');
    } catch (e) {
      process.stdout.write(`error ${e.message}\n`);
    }
  });
}

main().catch((e) => die(e.message));
