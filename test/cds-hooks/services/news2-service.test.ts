import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { FhirResource, Observation, Patient, ServiceRequest } from 'fhir/r4';
import { guardCdsResponse } from '../../../src/cds-hooks/cards.js';
import { createServices } from '../../../src/cds-hooks/services/index.js';
import { ageInYears, createNews2Service, type News2Options } from '../../../src/cds-hooks/services/news2/index.js';
import type { Card, HookInvocation } from '../../../src/cds-hooks/types.js';
import { createLogger } from '../../../src/logger.js';
import { ICD10CM } from '../../../src/fhir/codes.js';
import { ago, condition, NOW, obs, qty, searchset, vitalsSet } from './news2-fixtures.js';

const patient: Patient = { resourceType: 'Patient', id: 'p1', birthDate: '1950-06-01' };

/** Builds the prefetch the way an EHR would: each Observation in the Bundle of the key that asks for it. */
function prefetchFor(observations: Observation[], extra: Record<string, FhirResource | null> = {}): Record<string, FhirResource | null> {
  const keyOf = (o: Observation): string => {
    const code = o.code.coding?.[0]?.code;
    switch (code) {
      case '9279-1':
        return 'respiratoryRate';
      case '59408-5':
      case '2708-6':
        return 'spo2';
      case '3150-0':
      case '3151-8':
        return 'inspiredOxygen';
      case '85354-9':
      case '55284-4':
      case '8480-6':
        return 'systolicBp';
      case '8867-4':
        return 'heartRate';
      case '8310-5':
        return 'temperature';
      case '9269-2':
        return 'glasgowComaScore';
      default:
        return 'consciousness';
    }
  };
  const keys = ['respiratoryRate', 'spo2', 'inspiredOxygen', 'systolicBp', 'heartRate', 'temperature', 'consciousness', 'glasgowComaScore'];
  const prefetch: Record<string, FhirResource | null> = { patient, spo2Scale2Conditions: searchset([]) };
  for (const key of keys) prefetch[key] = searchset(observations.filter((o) => keyOf(o) === key));
  return { ...prefetch, ...extra };
}

function invocation(prefetch: Record<string, FhirResource | null>): HookInvocation {
  return {
    request: { hook: 'patient-view', hookInstance: 'b6f5a1a4-0000-4000-8000-000000000001', context: { patientId: 'p1', userId: 'Practitioner/dr1' }, prefetch },
    prefetch,
    baseUrl: 'http://localhost:8080',
    logger: createLogger('silent'),
    now: NOW,
  };
}

async function cardFor(observations: Observation[], extra: Record<string, FhirResource | null> = {}, options?: News2Options): Promise<Card> {
  const response = await createNews2Service(options).handle(invocation(prefetchFor(observations, extra)));
  expect(response.cards).toHaveLength(1);
  // Whatever we answer must pass the shared output guard unchanged.
  const warnings: string[] = [];
  const guarded = guardCdsResponse(response, { logger: { warn: (_: unknown, m: string) => warnings.push(m) } as never });
  expect(warnings).toEqual([]);
  expect(guarded).toEqual(response);
  return response.cards[0]!;
}

function tableRows(card: Card): string[] {
  return (card.detail ?? '').split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Parameter') && !l.startsWith('| ---'));
}

describe('vigil-news2 definition', () => {
  const service = createNews2Service();

  it('is registered under its id for patient-view', () => {
    expect(createServices().map((s) => s.definition.id)).toContain('vigil-news2');
    expect(service.definition).toMatchObject({ id: 'vigil-news2', hook: 'patient-view', title: expect.any(String), description: expect.any(String), usageRequirements: expect.any(String) });
  });

  it('requires only the patient, so missing vitals never cause a 412', () => {
    expect(service.requiredPrefetch).toEqual(['patient']);
  });

  it('asks for the single latest usable Observation per parameter', () => {
    const prefetch = service.definition.prefetch!;
    expect(prefetch.patient).toBe('Patient/{{context.patientId}}');
    expect(prefetch.respiratoryRate).toBe(
      'Observation?patient={{context.patientId}}&code=http://loinc.org|9279-1&status=final,amended,corrected,preliminary&_sort=-date&_count=1',
    );
    for (const key of ['respiratoryRate', 'spo2', 'inspiredOxygen', 'systolicBp', 'heartRate', 'temperature', 'consciousness', 'glasgowComaScore']) {
      expect(prefetch[key]).toMatch(/^Observation\?patient=\{\{context\.patientId\}\}&code=.+&_sort=-date&_count=1$/);
    }
    expect(prefetch.spo2).toContain('http://loinc.org|59408-5,http://loinc.org|2708-6');
    expect(prefetch.inspiredOxygen).toContain('http://loinc.org|3150-0,http://loinc.org|3151-8');
    expect(prefetch.systolicBp).toContain('http://loinc.org|85354-9,http://loinc.org|55284-4,http://loinc.org|8480-6');
    expect(prefetch.consciousness).toContain('http://loinc.org|67775-7');
    expect(prefetch.glasgowComaScore).toContain('http://loinc.org|9269-2');
    expect(prefetch.spo2Scale2Conditions).toMatch(/^Condition\?patient=\{\{context\.patientId\}\}&code=http:\/\/snomed\.info\/sct\|\d+,.*&clinical-status=active/);
  });
});

describe('vigil-news2 handler', () => {
  it('high risk: critical card, emergency summary, table rows citing each Observation, outreach suggestion', async () => {
    const observations = vitalsSet({ rr: 28, spo2: 91, fio2: 40, sbp: 88, hr: 125, acvpu: '130987000', temp: 39.2 });
    const card = await cardFor(observations);

    expect(card.indicator).toBe('critical');
    expect(card.summary).toBe('NEWS2 18 — high clinical risk: emergency assessment');
    expect(card.summary.length).toBeLessThan(140);

    const rows = tableRows(card);
    expect(rows).toHaveLength(7);
    for (const o of observations) expect(card.detail).toContain(`Observation/${o.id}`);
    expect(rows[0]).toMatch(/^\| Respiration rate \| 28 \/min \| 2025-03-10 11:30 UTC \(30 min ago\) \| 3 \| Observation\/obs-\d+ \|$/);
    expect(rows[2]).toMatch(/^\| Air or oxygen \| Oxygen \(FiO2 40 %\) \| .* \| 2 \| Observation\/obs-\d+ \|$/);
    expect(rows[5]).toMatch(/^\| Consciousness \| New confusion \| .* \| 3 \|/);
    expect(rows[6]).toMatch(/^\| Temperature \| 39\.2 °C \| .* \| 2 \|/);

    expect(card.source).toEqual({
      label: 'Vigil · NEWS2 (RCP 2017)',
      url: expect.stringMatching(/^https:\/\/www\.rcp\.ac\.uk\//),
      topic: { system: 'http://snomed.info/sct', code: '1104051000000101', display: expect.any(String) },
    });
    expect(card.links).toEqual([{ label: expect.any(String), url: expect.stringMatching(/^https:\/\//), type: 'absolute' }]);
    expect(card.overrideReasons?.map((r) => r.code)).toEqual(['already-under-review', 'palliative-care', 'chronic-baseline', 'measurement-error']);

    expect(card.selectionBehavior).toBe('at-most-one');
    expect(card.suggestions).toHaveLength(1);
    const action = card.suggestions![0]!.actions![0]!;
    expect(action.type).toBe('create');
    const request = action.resource as ServiceRequest;
    expect(request).toMatchObject({
      resourceType: 'ServiceRequest',
      status: 'draft',
      intent: 'proposal',
      priority: 'stat',
      subject: { reference: 'Patient/p1' },
      reasonCode: [{ text: 'NEWS2 18 — high clinical risk' }],
    });
    expect(request.supportingInfo).toHaveLength(7);
  });

  it('medium risk (5): warning card with an urgent-review suggestion', async () => {
    const card = await cardFor(vitalsSet({ rr: 22, spo2: 95, sbp: 105, hr: 95 }));
    expect(card.indicator).toBe('warning');
    expect(card.summary).toBe('NEWS2 5 — medium clinical risk: urgent response');
    expect(card.suggestions?.[0]?.label).toBe('Request urgent clinical review');
    expect((card.suggestions?.[0]?.actions?.[0]?.resource as ServiceRequest).priority).toBe('urgent');
  });

  it('low–medium (single 3): warning card without a suggestion', async () => {
    const card = await cardFor(vitalsSet({ acvpu: '300202002' }));
    expect(card.indicator).toBe('warning');
    expect(card.summary).toBe('NEWS2 3 — low–medium clinical risk: urgent ward-based response');
    expect(card.suggestions).toBeUndefined();
    expect(card.overrideReasons).toBeDefined();
  });

  it('low risk: info card, routine monitoring, no suggestion', async () => {
    const card = await cardFor(vitalsSet());
    expect(card.indicator).toBe('info');
    expect(card.summary).toBe('NEWS2 0 — low clinical risk: continue routine monitoring');
    expect(card.suggestions).toBeUndefined();
    expect(card.detail).not.toContain('Missing');
  });

  it('incomplete: says so in the summary and lists the missing parameters', async () => {
    const card = await cardFor(vitalsSet({ rr: 26, hr: 115, acvpu: undefined, temp: undefined }));
    expect(card.summary).toBe('NEWS2 5 (incomplete) — medium clinical risk: urgent response');
    expect(card.detail).toContain('**Missing:** Consciousness, Temperature.');
    expect(card.detail).toContain('2 of 7 parameters are missing');
    expect(tableRows(card).filter((r) => r.includes('not recorded'))).toHaveLength(2);
  });

  it('stale readings are scored and flagged', async () => {
    const card = await cardFor(vitalsSet({}, 14 * 60));
    expect(card.summary).toBe('NEWS2 0 (stale data) — low clinical risk: continue routine monitoring');
    expect(card.detail).toContain('**Stale (older than 12 h):**');
    expect(card.detail).toContain('⚠ older than 12 h');
  });

  it('the staleness limit is a service option', async () => {
    const card = await cardFor(vitalsSet({}, 14 * 60), {}, { staleAfterMs: 24 * 3_600_000 });
    expect(card.summary).not.toContain('stale');
  });

  it('reports unusable readings on the card instead of failing', async () => {
    const observations = vitalsSet({ temp: undefined, hr: undefined });
    observations.push(obs('8310-5', qty(37.5, 'mg'), { effectiveDateTime: ago(5) }));
    observations.push(obs('8867-4', qty(900, '/min'), { effectiveDateTime: ago(5) }));
    const card = await cardFor(observations);
    expect(card.summary).toContain('(incomplete)');
    expect(card.detail).toContain('**Readings not used:**');
    expect(card.detail).toContain('temperature unit "mg" is not supported');
    expect(card.detail).toContain('pulse 900 /min is outside the plausible range');
  });

  it('uses SpO2 scale 2 when the patient has hypercapnic respiratory failure', async () => {
    const observations = vitalsSet({ spo2: 96, fio2: 28 });
    const scale1 = await cardFor(observations);
    expect(scale1.summary).toMatch(/^NEWS2 2 /);
    const cond = condition(ICD10CM, 'J96.12');
    const scale2 = await cardFor(observations, { spo2Scale2Conditions: searchset([cond]) });
    expect(scale2.summary).toMatch(/^NEWS2 4 /);
    expect(scale2.detail).toContain(`SpO2 scale 2 (hypercapnic respiratory failure: Condition/${cond.id})`);
  });

  it('stays on scale 1 for a provisional hypercapnic respiratory failure, and says why', async () => {
    // SpO2 88 % on air: 3 on scale 1, 0 on scale 2 — the case where a wrong scale 2 would hide a red score.
    const observations = vitalsSet({ spo2: 88 });
    const provisional = condition(ICD10CM, 'J96.02', { verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'provisional' }] } });
    const card = await cardFor(observations, { spo2Scale2Conditions: searchset([provisional]) });
    expect(card.summary).toMatch(/^NEWS2 3 /);
    expect(card.detail).toContain(`SpO2 scale 1 (hypercapnic respiratory failure is recorded as provisional: Condition/${provisional.id}; scale 2 needs a confirmed diagnosis)`);
    const confirmed = await cardFor(observations, { spo2Scale2Conditions: searchset([provisional, condition(ICD10CM, 'J96.02')]) });
    expect(confirmed.summary).toMatch(/^NEWS2 0 /);
  });

  it('reads a systolic BP out of a panel even when it came under another key', async () => {
    const observations = vitalsSet({ sbp: undefined });
    const panel = vitalsSet({ sbp: 85 }).find((o) => o.code.coding?.[0]?.code === '85354-9')!;
    const card = await cardFor(observations, { heartRate: searchset([...observations.filter((o) => o.code.coding?.[0]?.code === '8867-4'), panel]) });
    expect(card.detail).toMatch(/\| Systolic blood pressure \| 85 mmHg \| .* \| 3 \| Observation\/obs-\d+ \|/);
  });

  it('no vitals at all (null and empty prefetch): an info card, not an error', async () => {
    const prefetch: Record<string, FhirResource | null> = { patient, respiratoryRate: null, spo2: searchset([]) };
    const response = await createNews2Service().handle(invocation(prefetch));
    expect(response.cards).toHaveLength(1);
    expect(response.cards[0]).toMatchObject({ indicator: 'info', summary: 'NEWS2 not available: no usable vital signs recorded' });
  });

  it('patients under 16 get a not-applicable card', async () => {
    const child: Patient = { resourceType: 'Patient', id: 'p1', birthDate: '2015-01-01' };
    const response = await createNews2Service().handle(invocation(prefetchFor(vitalsSet({ rr: 30 }), { patient: child })));
    expect(response.cards[0]).toMatchObject({ indicator: 'info', summary: 'NEWS2 not applicable: patient is under 16' });
  });

  it('never throws on malformed prefetch content (bad values and wrongly shaped JSON)', async () => {
    const service = createNews2Service();
    const junkQuantity = fc.record(
      { value: fc.oneof(fc.double(), fc.constant(undefined)), unit: fc.oneof(fc.string(), fc.constantFrom('%', '/min', 'Cel', '[degF]', 'mm[Hg]', 'kPa')), code: fc.option(fc.string(), { nil: undefined }) },
      { requiredKeys: [] },
    );
    const junkObservation = fc.record(
      {
        resourceType: fc.constantFrom('Observation', 'Condition', 'Patient', 'OperationOutcome'),
        id: fc.option(fc.string(), { nil: undefined }),
        status: fc.constantFrom('final', 'amended', 'preliminary', 'entered-in-error', 'bogus'),
        code: fc.record({ coding: fc.array(fc.record({ system: fc.constantFrom('http://loinc.org', 'http://snomed.info/sct', 'x'), code: fc.constantFrom('9279-1', '59408-5', '3150-0', '3151-8', '85354-9', '8480-6', '8867-4', '8310-5', '67775-7', '9269-2', '248234008', 'J96.02') }), { maxLength: 2 }) }, { requiredKeys: [] }),
        effectiveDateTime: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
        valueQuantity: junkQuantity,
        valueCodeableConcept: fc.record({ coding: fc.array(fc.record({ system: fc.string(), code: fc.string() }), { maxLength: 2 }) }),
        component: fc.array(fc.record({ code: fc.record({ coding: fc.constant([{ system: 'http://loinc.org', code: '8480-6' }]) }), valueQuantity: junkQuantity }), { maxLength: 2 }),
        birthDate: fc.string(),
        // Wrong JSON types where FHIR expects objects, arrays or strings.
        meta: fc.anything(),
        dataAbsentReason: fc.anything(),
        issued: fc.anything(),
        effectivePeriod: fc.anything(),
        clinicalStatus: fc.anything(),
      },
      { requiredKeys: ['resourceType'] },
    );
    const malformed = junkObservation.chain((o) =>
      fc.record({ field: fc.constantFrom('code', 'component', 'valueQuantity', 'valueCodeableConcept', 'effectiveDateTime', 'id', 'status'), junk: fc.anything() }).map(
        ({ field, junk }) => ({ ...o, [field]: junk }),
      ),
    );
    const bundle = fc.record(
      {
        resourceType: fc.constant('Bundle'),
        entry: fc.oneof(fc.array(fc.oneof(fc.record({ resource: fc.oneof(junkObservation, malformed) }), fc.anything()), { maxLength: 6 }), fc.anything()),
      },
      { requiredKeys: ['resourceType'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('patient', 'spo2', 'heartRate', 'x'), fc.oneof(bundle, junkObservation, malformed, fc.constant(null))), async (prefetch) => {
        const response = await service.handle(invocation(prefetch as unknown as Record<string, FhirResource | null>));
        expect(response.cards).toHaveLength(1);
        expect(response.cards[0]!.summary.length).toBeLessThan(140);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ageInYears', () => {
  it.each([
    ['2009-03-10', 16],
    ['2009-03-11', 15],
    // Partial dates are read at their latest possible day, so age is never overstated.
    ['2009-02', 16],
    ['2009-03', 15],
    ['2009', 15],
    ['1950', 74],
    ['not a date', undefined],
    [undefined, undefined],
  ] as const)('%p on 2025-03-10 → %p', (birthDate, age) => {
    expect(ageInYears(birthDate, NOW)).toBe(age);
  });
});
