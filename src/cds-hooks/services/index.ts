/**
 * The one place Vigil's CDS services are registered. Adding a service: write
 * src/cds-hooks/services/<id>/index.ts exporting a factory that returns a CdsService, then add it
 * to the list below (discovery lists services in this order).
 */
import type { CdsService } from '../types.js';
import { createNews2Service } from './news2/index.js';

export function createServices(): CdsService[] {
  return [createNews2Service()];
}
