/**
 * Test helpers for the explanation view: a tiny cookie-keeping HTTP "browser" (no redirects followed, so each
 * hop can be asserted), the sandbox's EHR launch, a full launch down to the view's context id, and the rig the
 * chromium suites share (built view, sandbox Vigil, headless browser).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { createVigil, type Vigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

export class CookieBrowser {
  readonly cookies = new Map<string, string>();

  private cookieHeader(): string | undefined {
    return this.cookies.size ? [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const cookie = this.cookieHeader();
    const headers = new Headers(init.headers);
    if (cookie) headers.set('Cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.remember(res);
    return res;
  }

  get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(url, { headers });
  }

  postForm(url: string, form: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }
}

export function locationOf(res: Response): URL {
  const location = res.headers.get('location');
  if (!location) throw new Error(`no Location (status ${res.status})`);
  return new URL(location);
}

function hidden(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]+)"`).exec(html);
  if (!match) throw new Error(`no ${name} in page`);
  return match[1]!;
}

/** What the sandbox page does for a card's SMART link: POST /sandbox/auth/launch, then the app's launch URL. */
export async function ehrLaunchUrl(origin: string, patientId: string, appContext?: string): Promise<string> {
  const res = await fetch(`${origin}/sandbox/auth/launch`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ patientId, ...(appContext ? { appContext } : {}) }),
  });
  expect(res.status).toBe(200);
  const { launch, iss } = (await res.json()) as { launch: string; iss: string };
  return `${origin}/app/launch?iss=${encodeURIComponent(iss)}&launch=${encodeURIComponent(launch)}`;
}

/**
 * Follows /app/launch to the authorization server and, for a standalone launch, through sign-in and the
 * patient picker; returns the redirect back to /app/callback (not yet followed).
 */
export async function toCallback(browser: CookieBrowser, launchUrl: string, pickPatient?: string): Promise<URL> {
  const launched = await browser.get(launchUrl);
  expect(launched.status).toBe(302);
  const authorize = await browser.get(locationOf(launched).toString());
  if (authorize.status === 303) return locationOf(authorize);
  expect(authorize.status).toBe(200);
  const login = await authorize.text();
  const origin = new URL(launchUrl).origin;
  const tx = hidden(login, 'tx');
  const afterLogin = await browser.postForm(`${origin}/sandbox/auth/login`, { tx, user: 'Practitioner/sandbox-clinician', decision: 'allow' });
  if (afterLogin.status === 303) return locationOf(afterLogin);
  expect(afterLogin.status).toBe(200);
  if (!pickPatient) throw new Error('picker shown but no patient to pick');
  const picked = await browser.postForm(`${origin}/sandbox/auth/pick`, { tx, patient: pickPatient });
  expect(picked.status).toBe(303);
  return locationOf(picked);
}

/** Completes the callback; returns the view's context id from the redirect's fragment. */
export async function finishCallback(browser: CookieBrowser, callback: URL): Promise<string> {
  const res = await browser.get(callback.toString());
  expect(res.status).toBe(303);
  const to = locationOf(res);
  expect(to.pathname).toBe('/app/');
  const ctx = /^#ctx=([A-Za-z0-9_-]+)$/.exec(to.hash)?.[1];
  if (!ctx) throw new Error(`no ctx in ${to.toString()}`);
  return ctx;
}

/**
 * Builds the view (src/web) with Vite into `outDir` — a temp dir: tests never write into the repo. A child
 * process, because Vite's native bundler does not belong inside jest's VM modules.
 */
export async function buildWeb(outDir: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  await promisify(execFile)(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'src/web/vite.config.ts'], {
    env: { ...process.env, WEB_OUT_DIR: outDir },
    timeout: 120_000,
  });
}

export interface FiredCard {
  summary: string;
  uuid?: string;
  links?: Array<{ label: string; url: string; type: string; appContext?: string }>;
}

/** Fires patient-view at a service the way the sandbox page does (signed hook call from the sandbox API). */
export async function firePatientView(origin: string, serviceId: string, patientId: string): Promise<FiredCard[]> {
  const call = (await (
    await fetch(`${origin}/sandbox/api/hook-request`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ serviceId, hook: 'patient-view', patientId, prefetch: 'fill' }),
    })
  ).json()) as { url: string; headers: Record<string, string>; body: unknown };
  const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(call.body) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { cards: FiredCard[] }).cards;
}

/** The explanation id of the first card carrying a SMART link, firing again while the models still load. */
export async function explanationIdFor(origin: string, patientId: string, serviceId = 'vigil-deterioration', timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cards = await firePatientView(origin, serviceId, patientId);
    const link = cards.flatMap((c) => c.links ?? []).find((l) => l.type === 'smart' && l.appContext);
    if (link) return (JSON.parse(link.appContext!) as { explanationId: string }).explanationId;
    if (Date.now() > deadline) throw new Error(`no SMART link from ${serviceId}: ${cards.map((c) => c.summary).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** What a browser suite runs against: the built view served by a sandbox Vigil, and a headless chromium. */
export interface BrowserRig {
  /** Temp dir holding DATA_DIR and the built view. */
  tmp: string;
  /** Where screenshots go: SCREENSHOTS_DIR if set (`npm run screenshots`), else under `tmp`. */
  shots: string;
  vigil: Vigil;
  server: Server;
  origin: string;
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Builds the view and launches chromium side by side (both slow), then starts Vigil with the sandbox EHR on
 * an ephemeral port. playwright-core is imported here, not at the top, so non-browser suites never load it.
 */
export async function startBrowserRig(tmpPrefix: string): Promise<BrowserRig> {
  const { chromium } = await import('playwright-core');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  const shots = process.env.SCREENSHOTS_DIR ? path.resolve(process.env.SCREENSHOTS_DIR) : path.join(tmp, 'shots');
  fs.mkdirSync(shots, { recursive: true });
  const [, browser] = await Promise.all([buildWeb(path.join(tmp, 'web')), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true })]);
  const vigil = await createVigil(loadConfig({ DATA_DIR: tmp, SANDBOX: 'on', LOG_LEVEL: 'silent' }), { webDir: path.join(tmp, 'web') });
  const server = vigil.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    tmp,
    shots,
    vigil,
    server,
    origin,
    browser,
    async close() {
      await browser.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await vigil.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
