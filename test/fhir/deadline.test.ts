import { getEventListeners } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { abortableSleep, startDeadline } from '../../src/fhir/deadline.js';
import { allWithDeadline } from '../../src/fhir/fhir-client.js';

const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

describe('startDeadline', () => {
  it('aborts when the time is up and says it timed out', async () => {
    const deadline = startDeadline(20);
    expect(deadline.signal.aborted).toBe(false);
    await aborted(deadline.signal);
    expect(deadline.timedOut).toBe(true);
    deadline.dispose();
  });

  it('aborts with any outer signal, which is not a time-out', () => {
    const a = new AbortController();
    const b = new AbortController();
    const deadline = startDeadline(60_000, [a.signal, undefined, b.signal]);
    b.abort();
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.timedOut).toBe(false);
    deadline.dispose();
  });

  it('is aborted at once when an outer signal already is', () => {
    const deadline = startDeadline(60_000, [AbortSignal.abort()]);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.timedOut).toBe(false);
    deadline.dispose();
  });

  it('dispose() stops the timer and detaches from the outer signals', async () => {
    const outer = new AbortController();
    const deadline = startDeadline(20, [outer.signal]);
    expect(getEventListeners(outer.signal, 'abort')).toHaveLength(1);
    deadline.dispose();
    expect(getEventListeners(outer.signal, 'abort')).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 60));
    outer.abort();
    expect(deadline.signal.aborted).toBe(false);
    expect(deadline.timedOut).toBe(false);
  });
});

describe('allWithDeadline with an outer signal that has already fired', () => {
  it('hands every query an aborted signal instead of waiting for the deadline', async () => {
    const results = await allWithDeadline({ a: async (signal) => signal.aborted }, 60_000, AbortSignal.abort());
    expect(results.a).toEqual({ ok: true, value: true });
  });
});

describe('abortableSleep', () => {
  it('resolves after the time', async () => {
    const t0 = performance.now();
    await abortableSleep(30, new AbortController().signal);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it("rejects with the signal's reason when it aborts, and at once when it already has", async () => {
    const controller = new AbortController();
    const sleeping = abortableSleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    await expect(abortableSleep(60_000, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});
