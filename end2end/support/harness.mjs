// Test harness: starts an SMTP sink and the Gatehouse server (fresh SQLite database,
// fresh mail folder, free ports) and a headless Debian Chromium, and tears all of it down.
//
// Paths are resolved relative to this file: end2end/support/ -> end2end/ -> repository root.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const END2END_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(END2END_DIR, '..');
export const SCREENSHOT_DIR = path.join(END2END_DIR, 'screenshots');
export const SERVER_BINARY = path.join(REPO_ROOT, 'target', 'release', 'gatehouse');
export const SMTP_SINK = path.join(REPO_ROOT, 'tests', 'support', 'smtp_sink.py');

const READY_TIMEOUT_MS = 30_000;
const SINK_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Children still alive when the test process exits for any reason get killed here.
const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});
// A signal ends Node without 'exit' handlers; turning it into an exit lets them (here and in
// sso-peers.mjs) stop the servers, so an interrupted run leaves nothing listening.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(signal, () => process.exit(code));
}

/** A free TCP port on 127.0.0.1, found by binding port 0. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function track(child) {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopChild(child) {
  if (!child || hasExited(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  try { child.kill('SIGTERM'); } catch { /* gone */ }
  let timer;
  const timedOut = new Promise((r) => { timer = setTimeout(() => r('timeout'), STOP_GRACE_MS); });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout' && !hasExited(child)) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
    await exited;
  }
}

/** The last `lines` lines of a text file ('' if unreadable). */
export function tail(file, lines = 60) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function startSmtpSink(port, dir) {
  const child = track(spawn('python3', [SMTP_SINK, '--port', String(port), '--dir', dir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `SMTP sink did not print "ready" within ${SINK_TIMEOUT_MS} ms\nstdout: ${out}\nstderr: ${err}`)), SINK_TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      out += d;
      if (/^ready$/m.test(out)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`SMTP sink exited early (code ${code}, signal ${signal})\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  // Keep draining its pipes so it can never block on a full pipe.
  child.stdout.resume();
  return child;
}

async function waitReady(baseUrl, server, logFile) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (hasExited(server)) {
      throw new Error(`gatehouse exited during startup (code ${server.exitCode}, signal ${server.signalCode}).\n` +
        `--- tail of ${logFile} ---\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code || e.message;
    }
    await sleep(200);
  }
  throw new Error(`GET ${baseUrl}/readyz did not answer 200 within ${READY_TIMEOUT_MS} ms (last: ${last}).\n` +
    `--- tail of ${logFile} ---\n${tail(logFile)}`);
}

/**
 * Start an SMTP sink and a Gatehouse server on free ports, with a fresh temp dir.
 * Returns { baseUrl, mailDir, tmpDir, logFile, logTail(), stop() }.
 */
export async function startApp() {
  if (!fs.existsSync(SERVER_BINARY)) {
    throw new Error(`server binary not found: ${SERVER_BINARY} (build it with cargo leptos build --release)`);
  }
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-'));
  const mailDir = path.join(tmpDir, 'mail');
  fs.mkdirSync(mailDir);
  const logFile = path.join(tmpDir, 'server.log');

  let sink;
  let server;
  let logFd;
  const stop = async ({ keepTmp = false } = {}) => {
    await Promise.all([stopChild(server), stopChild(sink)]);
    if (logFd !== undefined) { try { fs.closeSync(logFd); } catch { /* closed */ } logFd = undefined; }
    if (!keepTmp) fs.rmSync(tmpDir, { recursive: true, force: true });
  };

  try {
    const smtpPort = await freePort();
    sink = await startSmtpSink(smtpPort, mailDir);

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    logFd = fs.openSync(logFile, 'a');
    server = track(spawn(SERVER_BINARY, [
      'serve',
      '--listen', `127.0.0.1:${port}`,
      '--database-url', `sqlite://${tmpDir}/gh.db`,
      '--public-url', baseUrl,
    ], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        GATEHOUSE_DATA_DIR: tmpDir,
        // Webhook tests deliver to a receiver on loopback over plain http.
        GATEHOUSE_WEBHOOK_ALLOW_PRIVATE: 'true',
        GATEHOUSE_WEBHOOK_ALLOW_HTTP: 'true',
      },
      stdio: ['ignore', logFd, logFd],
    }));
    await waitReady(baseUrl, server, logFile);

    return {
      baseUrl,
      mailDir,
      tmpDir,
      logFile,
      logTail: (lines = 60) => tail(logFile, lines),
      stop,
    };
  } catch (e) {
    await stop({ keepTmp: true });
    process.stderr.write(`[harness] startup failed; files kept in ${tmpDir}\n`);
    throw e;
  }
}

/** Launch headless Debian Chromium through playwright-core. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/**
 * A new browser context + page with sensible timeouts; page errors and console errors are
 * collected into `page.problems` so that failures can show them.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...options });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = await context.newPage();
  page.problems = [];
  page.jsEnabled = options.javaScriptEnabled !== false;
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console.error: ${m.text()}`); });
  return { context, page };
}

/** Full-page screenshot into end2end/screenshots/NAME.png; returns the path. */
export async function shot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
  } catch (e) {
    process.stderr.write(`[harness] screenshot ${file} failed: ${e.message}\n`);
  }
  return file;
}

const randomWord = () => Math.random().toString(36).slice(2, 10);

/** A strong password that shares nothing with the user's name or email. */
export function strongPassword(stem = 'Tr0ub4dor&3-horse') {
  return `${stem}-${randomWord()}`;
}

/** Unique, strong credentials for one test. */
export function uniqueUser(label = 'user') {
  const rand = randomWord();
  return {
    name: `E2E ${label} ${rand}`,
    email: `${label}-${Date.now()}-${rand}@example.com`,
    password: strongPassword(),
    rand,
  };
}

/**
 * Per-file setup for node:test: `const env = {}; before(() => setUp(env)); after(() => tearDown(env));`
 * Fills env.app (see startApp) and env.browser.
 */
export async function setUp(env = {}) {
  try {
    env.app = await startApp();
    env.browser = await launchBrowser();
  } catch (e) {
    await tearDown(env);
    throw e;
  }
  return env;
}

export async function tearDown(env) {
  if (!env) return;
  try { await env.browser?.close(); } catch { /* ignore */ }
  await env.app?.stop({ keepTmp: env.failed === true });
  if (env.failed && env.app) process.stderr.write(`[harness] test failed; server log and mail kept in ${env.app.tmpDir}\n`);
}
