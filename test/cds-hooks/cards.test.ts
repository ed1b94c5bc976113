import { describe, expect, it } from '@jest/globals';
import {
  absoluteLink,
  createCard,
  createSuggestion,
  guardCdsResponse,
  ServiceOutputError,
  smartLink,
  SUMMARY_MAX,
  truncateSummary,
} from '../../src/cds-hooks/cards.js';
import { createLogger } from '../../src/logger.js';

const source = { label: 'Vigil' };

function warnings(fn: (logger: ReturnType<typeof createLogger>) => void): string[] {
  const lines: string[] = [];
  fn(createLogger('warn', { write: (l: string) => void lines.push(l) }));
  return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
}

describe('truncateSummary', () => {
  it('leaves short summaries alone and cuts long ones to <140 characters with an ellipsis', () => {
    expect(truncateSummary('NEWS2 5: urgent review')).toBe('NEWS2 5: urgent review');
    const exact = 'x'.repeat(SUMMARY_MAX);
    expect(truncateSummary(exact)).toBe(exact);
    const cut = truncateSummary('word '.repeat(60));
    expect([...cut].length).toBeLessThanOrEqual(SUMMARY_MAX);
    expect(cut.endsWith('…')).toBe(true);
  });

  it('counts code points, not UTF-16 units', () => {
    const cut = truncateSummary('🫀'.repeat(200));
    expect([...cut]).toHaveLength(SUMMARY_MAX);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('guardCdsResponse', () => {
  it('passes a valid response through and gives cards uuids', () => {
    const out = guardCdsResponse({ cards: [{ summary: 's', indicator: 'critical', source }] });
    expect(out.cards[0]).toMatchObject({ summary: 's', indicator: 'critical', source });
    expect(out.cards[0]!.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(out).not.toHaveProperty('systemActions');
  });

  it('keeps existing uuids', () => {
    const out = guardCdsResponse({ cards: [{ uuid: 'c1', summary: 's', indicator: 'info', source, suggestions: [{ label: 'x', uuid: 'u1' }], selectionBehavior: 'any' }] });
    expect(out.cards[0]!.uuid).toBe('c1');
    expect(out.cards[0]!.suggestions![0]!.uuid).toBe('u1');
    expect(out.cards[0]!.selectionBehavior).toBe('any');
  });

  it('repairs and warns: long summary, missing uuids and selectionBehavior, bad links, empty arrays', () => {
    const msgs = warnings((logger) => {
      const out = guardCdsResponse(
        {
          cards: [
            {
              summary: 'y'.repeat(150),
              indicator: 'warning',
              source: { label: 'V', url: 'not a url', icon: 'https://example.org/i.png' },
              suggestions: [{ label: 'a' }],
              links: [
                { label: 'abs', url: 'https://example.org', type: 'absolute', appContext: 'x' },
                { label: 'smart', url: 'https://app.example/launch', type: 'smart', appContext: '{"a":1}' },
                { label: 'js', url: 'javascript:alert(1)', type: 'absolute' },
                { label: 'kind', url: 'https://example.org', type: 'iframe' },
              ],
              overrideReasons: [],
            },
          ],
          systemActions: [],
        },
        { logger, serviceId: 'svc' },
      );
      const card = out.cards[0]!;
      expect([...card.summary]).toHaveLength(SUMMARY_MAX);
      expect(card.source).toEqual({ label: 'V', icon: 'https://example.org/i.png' });
      expect(card.suggestions![0]!.uuid).toBeTruthy();
      expect(card.selectionBehavior).toBe('at-most-one');
      expect(card.links).toEqual([
        { label: 'abs', url: 'https://example.org', type: 'absolute' },
        { label: 'smart', url: 'https://app.example/launch', type: 'smart', appContext: '{"a":1}' },
      ]);
      expect(card).not.toHaveProperty('overrideReasons');
      expect(out).not.toHaveProperty('systemActions');
    });
    expect(msgs.join('\n')).toMatch(/summary truncated/);
    expect(msgs.join('\n')).toMatch(/selectionBehavior/);
    expect(msgs.join('\n')).toMatch(/links\[2\] dropped/);
    expect(msgs.join('\n')).toMatch(/source.url dropped/);
  });

  it.each([
    ['not an object', null],
    ['no cards array', { cards: {} }],
    ['missing summary', { cards: [{ indicator: 'info', source }] }],
    ['unknown indicator', { cards: [{ summary: 's', indicator: 'urgent', source }] }],
    ['missing source label', { cards: [{ summary: 's', indicator: 'info', source: {} }] }],
    ['suggestion without label', { cards: [{ summary: 's', indicator: 'info', source, suggestions: [{}] }] }],
    ['bad selectionBehavior', { cards: [{ summary: 's', indicator: 'info', source, suggestions: [{ label: 'a' }], selectionBehavior: 'all' }] }],
    ['action of unknown type', { cards: [{ summary: 's', indicator: 'info', source, suggestions: [{ label: 'a', actions: [{ type: 'merge', description: 'd' }] }] }] }],
    ['create without resource', { cards: [{ summary: 's', indicator: 'info', source, suggestions: [{ label: 'a', actions: [{ type: 'create', description: 'd' }] }] }] }],
    ['delete without target', { cards: [{ summary: 's', indicator: 'info', source, suggestions: [{ label: 'a', actions: [{ type: 'delete', description: 'd' }] }] }] }],
    ['override reason without display', { cards: [{ summary: 's', indicator: 'info', source, overrideReasons: [{ code: 'c', system: 's' }] }] }],
    ['bad systemAction', { cards: [], systemActions: [{ type: 'update', description: 'd' }] }],
  ])('throws ServiceOutputError for %s', (_name, value) => {
    expect(() => guardCdsResponse(value)).toThrow(ServiceOutputError);
  });
});

describe('builders', () => {
  it('createCard fills uuid, cuts the summary and adds selectionBehavior with suggestions', () => {
    const card = createCard({ summary: 'z'.repeat(200), indicator: 'info', source, suggestions: [createSuggestion('Go')], links: [] });
    expect(card.uuid).toBeTruthy();
    expect([...card.summary].length).toBeLessThan(140);
    expect(card.selectionBehavior).toBe('at-most-one');
    expect(card).not.toHaveProperty('links');
    expect(guardCdsResponse({ cards: [card] }).cards[0]).toEqual(card);
  });

  it('link helpers produce valid links', () => {
    expect(absoluteLink('Docs', 'https://example.org')).toEqual({ label: 'Docs', url: 'https://example.org', type: 'absolute' });
    expect(smartLink('App', 'https://app.example/launch')).toEqual({ label: 'App', url: 'https://app.example/launch', type: 'smart' });
    expect(smartLink('App', 'https://app.example/launch', 'ctx').appContext).toBe('ctx');
  });

  it('suggestion uuids are unique', () => {
    expect(createSuggestion('a').uuid).not.toBe(createSuggestion('a').uuid);
  });
});
