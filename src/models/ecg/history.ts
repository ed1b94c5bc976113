/**
 * Earlier ecg-rhythm configurations (models/ecg-rhythm/history.json), so the model card can show the shipped
 * model next to what came before and disclose every configuration that was ever scored on the test split
 * (Mitchell et al. 2019, "Model Cards", §4.6 quantitative analyses; the disclosure is ours). Entries are
 * appended by hand from the runs' own output files, never retyped figures: the 1.0.0 entry is
 * that version's metrics.json test report, the candidates' entries are their validation-only runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MulticlassReport } from './metrics.js';

export interface EcgHistoryEntry {
  /** Short name used in tables, e.g. "CNN 1.0.0 (previous)". */
  label: string;
  version?: string;
  /** The configuration, in words. */
  description: string;
  /** Why it was (not) shipped, in words. */
  outcome: string;
  validation: { challengeF1: number; afVsNormalAuroc?: number };
  /** Present only when the configuration was scored on the test split. */
  test?: { challengeF1: number; afVsNormalAuroc: number; report?: MulticlassReport };
}

export const HISTORY_FILE = 'history.json';

/** The history of a model folder; none when the file is absent. */
export function readEcgHistory(modelDir: string): EcgHistoryEntry[] {
  const file = path.join(modelDir, HISTORY_FILE);
  if (!existsSync(file)) return [];
  return JSON.parse(readFileSync(file, 'utf8')) as EcgHistoryEntry[];
}
