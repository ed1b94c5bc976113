/**
 * Card building and the output guard every service response passes through — CDS Hooks 2.0.1
 * §CDS Service Response, §Card Attributes, §Source, §Suggestion, §Action, §Link
 * (https://cds-hooks.hl7.org/2.0/#cds-service-response).
 *
 * The guard repairs what is safe to repair and warns (missing card/suggestion uuids, which feedback
 * needs; a summary of 140+ characters; a missing selectionBehavior, defaulted to the conservative
 * "at-most-one"; empty optional arrays; unusable links and source URLs, dropped). What cannot be repaired
 * without guessing clinical meaning — a missing summary, an unknown indicator, no source label, a malformed
 * suggestion or action — throws ServiceOutputError, which the router answers as a generic 500.
 */
import { randomUUID } from 'node:crypto';
import type { FhirResource } from 'fhir/r4';
import { VigilError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isNonEmptyString, isRecord } from './json-guards.js';
import type {
  Card,
  CardAction,
  CardLink,
  CardSource,
  CardSuggestion,
  CdsResponse,
  Coding,
  Indicator,
} from './types.js';

/** §Card Attributes: summary is "<140-character". */
export const SUMMARY_MAX = 139;
const INDICATORS: readonly Indicator[] = ['info', 'warning', 'critical'];
const ACTION_TYPES: readonly CardAction['type'][] = ['create', 'update', 'delete'];
const SELECTION_BEHAVIORS: readonly NonNullable<Card['selectionBehavior']>[] = ['at-most-one', 'any'];

/** A service returned something that is not a valid CDS Hooks response. Internal: answered as 500. */
export class ServiceOutputError extends VigilError {
  override readonly code = 'invalid_service_output';
}

type Warn = (message: string) => void;

function isAbsoluteHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** Shortens to SUMMARY_MAX characters (by code point, so emoji and accents survive) with an ellipsis. */
export function truncateSummary(summary: string): string {
  const chars = [...summary];
  if (chars.length <= SUMMARY_MAX) return summary;
  return `${chars.slice(0, SUMMARY_MAX - 1).join('').trimEnd()}…`;
}

function guardCoding(value: unknown, path: string, requireDisplay: boolean): Coding {
  if (!isRecord(value) || !isNonEmptyString(value.code) || !isNonEmptyString(value.system)) {
    throw new ServiceOutputError(`${path} must be a Coding with code and system`);
  }
  if (requireDisplay && !isNonEmptyString(value.display)) throw new ServiceOutputError(`${path} needs a display`);
  const coding: Coding = { system: value.system, code: value.code };
  if (isNonEmptyString(value.display)) coding.display = value.display;
  return coding;
}

function guardSource(value: unknown, path: string, warn: Warn): CardSource {
  if (!isRecord(value) || !isNonEmptyString(value.label)) throw new ServiceOutputError(`${path}.label is required`);
  const source: CardSource = { label: value.label };
  for (const field of ['url', 'icon'] as const) {
    if (value[field] === undefined) continue;
    if (isAbsoluteHttpUrl(value[field])) source[field] = value[field];
    else warn(`${path}.${field} dropped: not an absolute URL`);
  }
  if (value.topic !== undefined) source.topic = guardCoding(value.topic, `${path}.topic`, false);
  return source;
}

/** §Action (also used for systemActions). */
export function guardAction(value: unknown, path: string): CardAction {
  if (!isRecord(value) || !ACTION_TYPES.includes(value.type as CardAction['type'])) {
    throw new ServiceOutputError(`${path}.type must be create, update or delete`);
  }
  if (!isNonEmptyString(value.description)) throw new ServiceOutputError(`${path}.description is required`);
  const action: CardAction = { type: value.type as CardAction['type'], description: value.description };
  const hasResource = isRecord(value.resource) && isNonEmptyString(value.resource.resourceType);
  if (value.resource !== undefined && !hasResource) throw new ServiceOutputError(`${path}.resource must be a FHIR resource`);
  if ((action.type === 'create' || action.type === 'update') && !hasResource) {
    throw new ServiceOutputError(`${path}.resource is required for ${action.type}`);
  }
  if (hasResource) action.resource = value.resource as unknown as FhirResource;
  if (value.resourceId !== undefined) {
    if (!isNonEmptyString(value.resourceId)) throw new ServiceOutputError(`${path}.resourceId must be a string`);
    action.resourceId = value.resourceId;
  }
  if (action.type === 'delete' && !action.resourceId && !hasResource) {
    throw new ServiceOutputError(`${path}.resourceId is required for delete`);
  }
  return action;
}

function guardSuggestion(value: unknown, path: string, warn: Warn): CardSuggestion {
  if (!isRecord(value) || !isNonEmptyString(value.label)) throw new ServiceOutputError(`${path}.label is required`);
  const suggestion: CardSuggestion = { label: value.label, uuid: isNonEmptyString(value.uuid) ? value.uuid : randomUUID() };
  if (!isNonEmptyString(value.uuid)) warn(`${path}.uuid was missing; assigned one`);
  if (value.isRecommended !== undefined) suggestion.isRecommended = value.isRecommended === true;
  if (value.actions !== undefined) {
    if (!Array.isArray(value.actions)) throw new ServiceOutputError(`${path}.actions must be an array`);
    if (value.actions.length) suggestion.actions = value.actions.map((a, i) => guardAction(a, `${path}.actions[${i}]`));
  }
  return suggestion;
}

function guardLink(value: unknown, path: string, warn: Warn): CardLink | undefined {
  if (!isRecord(value) || !isNonEmptyString(value.label)) {
    warn(`${path} dropped: no label`);
    return undefined;
  }
  if (value.type !== 'absolute' && value.type !== 'smart') {
    warn(`${path} dropped: type must be absolute or smart`);
    return undefined;
  }
  if (!isAbsoluteHttpUrl(value.url)) {
    warn(`${path} dropped: url is not an absolute http(s) URL`);
    return undefined;
  }
  const link: CardLink = { label: value.label, url: value.url, type: value.type };
  if (value.appContext !== undefined) {
    // §Link: appContext "is not valid for absolute links".
    if (value.type === 'smart' && typeof value.appContext === 'string') link.appContext = value.appContext;
    else warn(`${path}.appContext dropped: only a string on smart links`);
  }
  return link;
}

/** Checks and repairs one card; see the module comment for what is repaired and what throws. */
export function guardCard(value: unknown, path: string, warn: Warn): Card {
  if (!isRecord(value)) throw new ServiceOutputError(`${path} must be an object`);
  if (!isNonEmptyString(value.summary)) throw new ServiceOutputError(`${path}.summary is required`);
  if (!INDICATORS.includes(value.indicator as Indicator)) {
    throw new ServiceOutputError(`${path}.indicator must be info, warning or critical`);
  }
  const summary = truncateSummary(value.summary);
  if (summary !== value.summary) warn(`${path}.summary truncated to ${SUMMARY_MAX} characters`);
  const card: Card = {
    uuid: isNonEmptyString(value.uuid) ? value.uuid : randomUUID(),
    summary,
    indicator: value.indicator as Indicator,
    source: guardSource(value.source, `${path}.source`, warn),
  };
  if (value.detail !== undefined) {
    if (typeof value.detail !== 'string') throw new ServiceOutputError(`${path}.detail must be a string`);
    if (value.detail !== '') card.detail = value.detail;
  }
  if (value.suggestions !== undefined) {
    if (!Array.isArray(value.suggestions)) throw new ServiceOutputError(`${path}.suggestions must be an array`);
    if (value.suggestions.length) {
      card.suggestions = value.suggestions.map((s, i) => guardSuggestion(s, `${path}.suggestions[${i}]`, warn));
    }
  }
  if (card.suggestions) {
    if (value.selectionBehavior === undefined) {
      warn(`${path}.selectionBehavior missing with suggestions; set to at-most-one`);
      card.selectionBehavior = 'at-most-one';
    } else if (SELECTION_BEHAVIORS.includes(value.selectionBehavior as 'any')) {
      card.selectionBehavior = value.selectionBehavior as NonNullable<Card['selectionBehavior']>;
    } else {
      throw new ServiceOutputError(`${path}.selectionBehavior must be at-most-one or any`);
    }
  }
  if (value.overrideReasons !== undefined) {
    if (!Array.isArray(value.overrideReasons)) throw new ServiceOutputError(`${path}.overrideReasons must be an array`);
    if (value.overrideReasons.length) {
      card.overrideReasons = value.overrideReasons.map((r, i) => guardCoding(r, `${path}.overrideReasons[${i}]`, true));
    }
  }
  if (value.links !== undefined) {
    if (!Array.isArray(value.links)) throw new ServiceOutputError(`${path}.links must be an array`);
    const links = value.links
      .map((l, i) => guardLink(l, `${path}.links[${i}]`, warn))
      .filter((l): l is CardLink => l !== undefined);
    if (links.length) card.links = links;
  }
  return card;
}

/**
 * Validates and repairs a service's response before it goes to the EHR (§HTTP Response).
 * @throws ServiceOutputError when the response cannot be made valid without guessing.
 */
export function guardCdsResponse(value: unknown, opts: { logger?: Logger; serviceId?: string } = {}): CdsResponse {
  const warn: Warn = (message) => opts.logger?.warn({ serviceId: opts.serviceId }, `service output repaired: ${message}`);
  if (!isRecord(value) || !Array.isArray(value.cards)) throw new ServiceOutputError('response must have a cards array');
  const response: CdsResponse = { cards: value.cards.map((c, i) => guardCard(c, `cards[${i}]`, warn)) };
  if (value.systemActions !== undefined) {
    if (!Array.isArray(value.systemActions)) throw new ServiceOutputError('systemActions must be an array');
    if (value.systemActions.length) {
      response.systemActions = value.systemActions.map((a, i) => guardAction(a, `systemActions[${i}]`));
    }
  }
  return response;
}

// ---- Builders services use -------------------------------------------------------------------------

export interface CardInput {
  summary: string;
  indicator: Indicator;
  source: CardSource;
  detail?: string;
  suggestions?: CardSuggestion[];
  selectionBehavior?: Card['selectionBehavior'];
  overrideReasons?: Coding[];
  links?: CardLink[];
  /** Defaults to a random UUID (feedback refers to cards by it). */
  uuid?: string;
}

/** A card with a fresh uuid and a summary cut to fit; optional arrays only when non-empty. */
export function createCard(input: CardInput): Card {
  const card: Card = {
    uuid: input.uuid ?? randomUUID(),
    summary: truncateSummary(input.summary),
    indicator: input.indicator,
    source: input.source,
  };
  if (input.detail) card.detail = input.detail;
  if (input.suggestions?.length) {
    card.suggestions = input.suggestions;
    card.selectionBehavior = input.selectionBehavior ?? 'at-most-one';
  }
  if (input.overrideReasons?.length) card.overrideReasons = input.overrideReasons;
  if (input.links?.length) card.links = input.links;
  return card;
}

/** A suggestion with a fresh uuid (feedback's acceptedSuggestions refer to it). */
export function createSuggestion(label: string, actions: CardAction[] = [], opts: { isRecommended?: boolean } = {}): CardSuggestion {
  const suggestion: CardSuggestion = { label, uuid: randomUUID() };
  if (opts.isRecommended !== undefined) suggestion.isRecommended = opts.isRecommended;
  if (actions.length) suggestion.actions = actions;
  return suggestion;
}

/** §Link type "absolute": a plain web page. */
export function absoluteLink(label: string, url: string): CardLink {
  return { label, url, type: 'absolute' };
}

/** §Link type "smart": a SMART launch URL; appContext travels to the app with its token. */
export function smartLink(label: string, url: string, appContext?: string): CardLink {
  return appContext === undefined ? { label, url, type: 'smart' } : { label, url, type: 'smart', appContext };
}
