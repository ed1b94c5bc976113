/** Manifest and model card of the heart-disease model, filled from the training run's metrics. */
import { LABS, LOINC, VITALS } from '../../fhir/codes.js';
import { HEART_INPUTS } from '../data/uci-heart.js';
import { buildHti1, fmt, fmtInterval, type ModelCard } from '../model-card.js';
import { reliabilitySvg } from '../reliability-svg.js';
import type { InputField, ModelManifest } from '../types.js';
import { HEART_MODEL_ID, type HeartMetrics } from './pipeline.js';

const FIELD_INFO: Record<(typeof HEART_INPUTS)[number], Omit<InputField, 'name'>> = {
  age: { display: 'Age at work-up (Patient.birthDate)', unit: 'a' },
  sex: { display: 'Sex (Patient.gender: male 1, female 0)', values: [0, 1] },
  cp: { display: 'Chest pain type', values: [1, 2, 3, 4] },
  trestbps: { system: LOINC, code: VITALS.systolicBp, display: 'Resting systolic blood pressure', unit: 'mm[Hg]', plausible: { min: 50, max: 260 } },
  chol: { system: LOINC, code: LABS.cholesterolTotal, display: 'Cholesterol [Mass/volume] in Serum or Plasma', unit: 'mg/dL', plausible: { min: 50, max: 700 } },
  fbs: { display: 'Fasting glucose > 120 mg/dL', values: [0, 1] },
  restecg: { display: 'Resting ECG result', values: [0, 1, 2] },
  thalach: { display: 'Maximum heart rate on exercise', unit: '/min', plausible: { min: 50, max: 230 } },
  exang: { display: 'Exercise-induced angina', values: [0, 1] },
  oldpeak: { display: 'ST depression on exercise relative to rest', unit: 'mm', plausible: { min: -3, max: 7 } },
  slope: { display: 'Slope of peak-exercise ST segment', values: [1, 2, 3] },
  ca: { display: 'Major vessels coloured by fluoroscopy', values: [0, 1, 2, 3] },
  thal: { display: 'Thallium stress test result', values: [3, 6, 7] },
};

export function heartManifest(metrics: HeartMetrics, version: string, trainedAt: string): ModelManifest {
  return {
    id: HEART_MODEL_ID,
    version,
    title: 'Coronary artery disease probability (UCI Cleveland MLP)',
    output: { name: 'probability', description: 'Probability of angiographic coronary disease (> 50 % narrowing of a major vessel; UCI num > 0)' },
    input: {
      encoding: 'uci-heart-v1',
      fields: HEART_INPUTS.map((name) => ({ name, ...FIELD_INFO[name] })),
    },
    thresholds: metrics.thresholds,
    files: { model: 'model.json', preprocess: 'preprocess.json', quantized: 'quantized/model.json', card: 'card.json', metrics: 'metrics.json' },
    trainedAt,
    trainedOn: metrics.backend,
    seed: metrics.seed,
  };
}

export function heartCard(metrics: HeartMetrics, version: string, generatedAt: string): ModelCard {
  const mlp = metrics.test.mlp;
  const lr = metrics.test.baseline;
  const s = metrics.split;
  return {
    id: HEART_MODEL_ID,
    version,
    title: 'Coronary artery disease probability',
    summary:
      'A small multilayer perceptron (13 UCI inputs → 16 → 8 → 1) estimating the probability that a patient referred for ' +
      'cardiac work-up has angiographic coronary artery disease, with a logistic-regression baseline trained on the same encoding.',
    sections: {
      intendedUse:
        'Decision support for clinicians considering or ordering a cardiology work-up (stress test, angiography) for an adult with ' +
        'suspected coronary disease: the probability and risk band inform, and never replace, the clinical decision.',
      outOfScope:
        'Screening of asymptomatic populations; children; acute chest pain triage (acute coronary syndrome); any use as a sole basis to ' +
        'withhold or order angiography; populations unlike 1980s Cleveland Clinic referrals without local validation.',
      data:
        `UCI Heart Disease, Cleveland Clinic Foundation file (303 patients, 1981–1984, see data/raw/uci-heart-disease/SOURCE.md). ` +
        `Patient-level split stratified on the label, seed ${metrics.seed}: ${s.train} train / ${s.validation} validation / ${s.test} test ` +
        `(${s.positives.train} / ${s.positives.validation} / ${s.positives.test} with disease); ids in models/heart-disease/split.json.`,
      training:
        'Inputs: continuous and binary fields standardised with training-split means and SDs (stored in preprocess.json next to the ' +
        'weights), categorical fields one-hot, plus missingness indicators for chol, fbs, slope, ca and thal. During training each of ' +
        'those five fields is hidden at random (p = 0.25 per example per epoch) so the model learns to do without them. Adam ' +
        `(lr 0.005), balanced class weights, L2 1e-3, dropout 0.2, fixed initialiser seeds; early stopping on validation AUROC ` +
        `(best epoch ${metrics.training.bestEpoch} of ${metrics.training.history.length}). Training took ${fmt(metrics.trainingSeconds, 1)} s on the ` +
        `${metrics.backend} back end.`,
      limits:
        `The test split holds only ${s.test} patients, so confidence intervals are wide. ` +
        'No external validation has been run in this repository: the Hungarian, Swiss and Long Beach files are held out elsewhere; ' +
        '`npm run evaluate -- --model heart-disease --data processed.<site>.data` scores them. The training population is 68 % male and ' +
        'mostly 40–70 years old; women and the elderly are under-represented. The label is angiographic, from a referral population: ' +
        'prevalence (46 %) is far above that of primary care, so probabilities are not transferable to unselected patients.',
    },
    metricsTable: [
      { model: 'MLP (shipped)', report: mlp.overall },
      { model: 'Logistic regression', report: lr.overall },
    ],
    subgroups: mlp,
    extraFindings: [
      `Test AUROC with slope, ca and thal removed for every patient (as at sites that do not record them): MLP ${fmt(metrics.testWithoutSlopeCaThal.mlpAuroc)}, logistic regression ${fmt(metrics.testWithoutSlopeCaThal.baselineAuroc)}.`,
      `Target AUROC ≥ 0.88 on another hospital's patients: not measured here (no external data in the repository).`,
      `Quantised variant (uint8 weights, models/heart-disease/quantized): ${metrics.quantized.weightBytes} bytes vs ${metrics.quantized.float32WeightBytes} float32; test AUROC ${fmt(metrics.quantized.testAuroc)} (Δ ${fmt(metrics.quantized.aurocDelta, 4)}).`,
      `Thresholds (validation split): moderate ≥ ${fmt(metrics.thresholds.moderate)}, high ≥ ${fmt(metrics.thresholds.high)}. ${metrics.thresholds.rule}`,
    ],
    calibrationSvg: reliabilitySvg(mlp.overall.reliability, 'heart-disease MLP, test split'),
    hti1: buildHti1({
      developer: 'Vigil open-source project (see repository README for maintainers and issue tracker).',
      funding: 'No external funding; volunteer open-source development.',
      outputValue: 'Probability (0–1) of angiographic coronary artery disease, with a low / moderate / high band.',
      outputType: 'Prediction (probability) with a classification into risk bands.',
      intendedUse: 'Inform the decision to pursue cardiology work-up in adults with suspected coronary disease.',
      intendedPopulation: 'Adults (about 30–77 years in the training data) referred for evaluation of suspected coronary artery disease.',
      intendedUsers: 'Physicians and advanced practice clinicians ordering cardiac investigations.',
      decisionRole: 'Informs; does not replace clinical judgement or guideline-based pre-test probability assessment.',
      cautionedUse: 'Asymptomatic screening, acute chest pain, children, pregnancy, patients with known prior revascularisation.',
      knownRisks: 'Small single-centre 1980s training set; over-estimation in low-prevalence settings; wide confidence intervals.',
      inclusionExclusion: 'All 303 Cleveland patients of the UCI processed file; no exclusions; 6 missing values (ca, thal) kept as missing.',
      demographicInputs: 'Sex (Patient.gender) and age (from date of birth) are inputs. Race, ethnicity, language, sexual orientation, gender identity, social determinants and health status assessments are not used.',
      demographicRepresentativeness: `Training split: sex and age only are recorded in the source (about two thirds male). Test-split subgroup sizes are in the tables above.`,
      trainingRelevance: 'Referral population of a tertiary US centre (1981–84); relevance to current practice must be confirmed by local validation.',
      fairnessApproach: 'Performance reported per sex and age band on the test split; no group-specific thresholds.',
      biasManagement: 'Stratified patient-level split; subgroup reporting; training-time hiding of inputs that other sites often lack, to avoid penalising sites with fewer tests.',
      externalDataSource: 'None run in this repository. Intended: UCI Hungarian, Swiss and Long Beach VA files.',
      externalTester: 'Not yet performed.',
      externalRepresentativeness: 'Not yet available.',
      externalProcess: '`npm run evaluate` on the other sites’ processed files, same metrics and subgroups as the internal test.',
      internalValidity: `MLP test AUROC ${fmtInterval(mlp.overall.auroc)}; Brier ${fmt(mlp.overall.brier)}.`,
      internalFairness: Object.entries({ ...mlp.bySex, ...mlp.byAgeBand }).map(([g, r]) => `${g}: AUROC ${fmt(r.auroc.estimate)} (n=${r.n})`).join('; '),
      externalValidity: 'Not measured.',
      externalFairness: 'Not measured.',
      outcomeEvaluations: 'None: no study of effect on patient outcomes exists.',
      validityMonitoring: 'Deployers should re-run `npm run evaluate` on local outcomes at least yearly and after any change in referral pattern.',
      localValidity: 'Not available until a deploying site runs the evaluation on its own data.',
      fairnessMonitoring: 'Same schedule as validity; the evaluation CLI reports sex and age-band subgroups.',
      localFairness: 'Not available until a deploying site runs the evaluation on its own data.',
      updateProcess: 'Retraining with `npm run train -- --model heart-disease` (fixed seed, reproducible); a new version ships in a new image and goes out by rolling update (the server does not hot-reload models; docs/deploy.md §Updating a model).',
      correctionFrequency: 'When local evaluation shows AUROC or calibration outside the internal test CIs; no fixed schedule yet.',
    }),
    generatedAt,
  };
}
