/**
 * In-memory back end of the HL7 message store (HL7_DURABLE=off): same semantics as SQLite, nothing
 * survives the process. For benchmarks (the durability-off baseline) and tests only.
 */
import type { InboundMessage, MessageStore, OutboundMessage, QueueCounts } from './queue.js';

type InRow = InboundMessage & { state: 'pending' | 'applied' | 'failed'; error?: string };
type OutRow = OutboundMessage & { state: 'pending' | 'sent' | 'failed'; nextAttemptAt: number; error?: string };

export function openMemoryQueue(): MessageStore {
  const keys = new Set<string>();
  const inbound = new Map<number, InRow>();
  // Pending rows in arrival order (a Map keeps insertion order), so `claim` never scans applied rows.
  const pendingRows = new Map<number, InRow>();
  const tally = { pending: 0, applied: 0, failed: 0 };
  const outbound = new Map<number, OutRow>();
  const outIds = new Set<string>();
  let seq = 0;
  let outSeq = 0;
  const pendingOut = () => [...outbound.values()].filter((r) => r.state === 'pending');

  return {
    durable: false,
    shared: false,
    async enqueue(items) {
      return items.map((m) => {
        if (keys.has(m.key)) return undefined;
        keys.add(m.key);
        seq++;
        const row: InRow = { key: m.key, event: m.event, raw: m.raw, seq, attempts: 0, state: 'pending' };
        inbound.set(seq, row);
        pendingRows.set(seq, row);
        tally.pending++;
        return seq;
      });
    },
    async claim(limit) {
      const out: InboundMessage[] = [];
      for (const row of pendingRows.values()) {
        if (out.length >= limit) break;
        out.push({ seq: row.seq, key: row.key, event: row.event, raw: row.raw, attempts: row.attempts });
      }
      return out;
    },
    async markApplied(s) {
      const row = inbound.get(s);
      if (row && row.state === 'pending') {
        row.state = 'applied';
        row.attempts++;
        pendingRows.delete(s);
        tally.pending--;
        tally.applied++;
        // Applied rows keep only their key (for duplicate detection), as the raw text is no longer needed.
        row.raw = '';
      }
    },
    async recordAttempt(s, error) {
      const row = inbound.get(s);
      if (row) {
        row.attempts++;
        row.error = error;
      }
    },
    async markFailed(s, error) {
      const row = inbound.get(s);
      if (row && row.state === 'pending') {
        row.state = 'failed';
        row.attempts++;
        row.error = error;
        pendingRows.delete(s);
        tally.pending--;
        tally.failed++;
      }
    },
    async enqueueOutbound(item, now) {
      if (outIds.has(item.controlId)) return;
      outIds.add(item.controlId);
      outSeq++;
      outbound.set(outSeq, { seq: outSeq, controlId: item.controlId, raw: item.raw, attempts: 0, state: 'pending', nextAttemptAt: now });
    },
    async nextOutbound(now) {
      const row = pendingOut().find((r) => r.nextAttemptAt <= now);
      return row ? { seq: row.seq, controlId: row.controlId, raw: row.raw, attempts: row.attempts } : undefined;
    },
    async nextOutboundDue() {
      const due = pendingOut().map((r) => r.nextAttemptAt);
      return due.length ? Math.min(...due) : undefined;
    },
    async markSent(s) {
      const row = outbound.get(s);
      if (row) {
        row.state = 'sent';
        row.attempts++;
      }
    },
    async retryOutbound(s, at, error) {
      const row = outbound.get(s);
      if (row) {
        row.attempts++;
        row.nextAttemptAt = at;
        row.error = error;
      }
    },
    async failOutbound(s, error) {
      const row = outbound.get(s);
      if (row) {
        row.state = 'failed';
        row.attempts++;
        row.error = error;
      }
    },
    async counts(): Promise<QueueCounts> {
      const c: QueueCounts = { ...tally, outboundPending: 0, outboundSent: 0, outboundFailed: 0 };
      for (const r of outbound.values()) {
        if (r.state === 'pending') c.outboundPending++;
        else if (r.state === 'sent') c.outboundSent++;
        else c.outboundFailed++;
      }
      return c;
    },
    async close() {},
  };
}
