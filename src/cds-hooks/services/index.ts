/**
 * The one place Vigil's CDS services are registered. Adding a service: write
 * src/cds-hooks/services/<id>/index.ts exporting a factory that returns a CdsService, then add it
 * to the list below (discovery lists services in this order).
 */
import type { CdsService } from '../types.js';
import type { ModelServiceDeps } from '../../explanations/service-deps.js';
import { createDeteriorationService } from './deterioration/index.js';
import { createHeartDiseaseServices } from './heart-disease/index.js';
import { createNews2Service } from './news2/index.js';
import { createEcgRhythmService } from './ecg-rhythm/index.js';
import { createEcgFiledService } from './ecg-rhythm/filed.js';
import { createSepsisBundleService } from './sepsis-bundle/index.js';

/** NEWS2 always; the model services (deterioration, heart disease, ECG rhythm on patient-view and on filing, the sepsis bundle check at signing) when their dependencies are given. */
export function createServices(models?: ModelServiceDeps): CdsService[] {
  if (!models) return [createNews2Service()];
  return [createNews2Service(), createDeteriorationService(models), ...createHeartDiseaseServices(models), createEcgRhythmService(models), createEcgFiledService(models), createSepsisBundleService(models)];
}
