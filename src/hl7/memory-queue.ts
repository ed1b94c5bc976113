/**
 * In-memory back end of the HL7 message store (HL7_DURABLE=off): same semantics as SQLite, nothing
 * survives the process. For benchmarks (the durability-off baseline) and tests only.
 */
import { COUNT_CAP, type InboundMessage, type MessageStore, type OutboundMessage, type QueueCounts } from './queue.js';

type InRow = InboundMessage & { state: 'pending' | 'applied' | 'failed'; receivedAt: number; error?: string };
type OutRow = OutboundMessage & { state: 'pending' | 'sent' | 'failed'; createdAt: number; nextAttemptAt: number; error?: string };

export function openMemoryQueue(options: { countCap?: number } = {}): MessageStore {
  const cap = options.countCap ?? COUNT_CAP;
  const keys = new Set<string>();
  const inbound = new Map<number, InRow>();
  // Pending rows in arrival order (a Map keeps insertion order), so `claim` never scans applied rows.
  const pendingRows = new Map<number, InRow>();
  const tally = { pending: 0, applied: 0, failed: 0 };
  const outTally = { outboundPending: 0, outboundSent: 0, outboundFailed: 0 };
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
        const row: InRow = { key: m.key, event: m.event, raw: m.raw, seq, attempts: 0, state: 'pending', receivedAt: Date.now() };
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
      outbound.set(outSeq, { seq: outSeq, controlId: item.controlId, raw: item.raw, attempts: 0, state: 'pending', createdAt: now, nextAttemptAt: now });
      outTally.outboundPending++;
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
      if (row && row.state === 'pending') {
        row.state = 'sent';
        row.attempts++;
        outTally.outboundPending--;
        outTally.outboundSent++;
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
      if (row && row.state === 'pending') {
        row.state = 'failed';
        row.attempts++;
        row.error = error;
        outTally.outboundPending--;
        outTally.outboundFailed++;
      }
    },
    async counts(): Promise<QueueCounts> {
      return { ...tally, ...outTally, applied: Math.min(tally.applied, cap), outboundSent: Math.min(outTally.outboundSent, cap) };
    },
    async purgeBatch(before, limit) {
      let inDone = 0;
      // Maps iterate in insertion order, i.e. oldest first.
      for (const row of inbound.values()) {
        if (inDone >= limit || row.receivedAt >= before) break;
        if (row.state === 'pending') continue;
        inbound.delete(row.seq);
        keys.delete(row.key);
        tally[row.state]--;
        inDone++;
      }
      let outDone = 0;
      for (const row of outbound.values()) {
        if (outDone >= limit) break;
        if (row.state === 'pending' || row.createdAt >= before) continue;
        outbound.delete(row.seq);
        outIds.delete(row.controlId);
        if (row.state === 'sent') outTally.outboundSent--;
        else outTally.outboundFailed--;
        outDone++;
      }
      return { inbound: inDone, outbound: outDone, busy: false };
    },
    async close() {},
  };
}
