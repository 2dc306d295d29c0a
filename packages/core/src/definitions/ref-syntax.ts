/**
 * The syntax of feature refs (`view:feature`, `view:*`, `view@2:feature`, `view@2:*`) and view
 * refs (`view`, `view@2`). Pure parsing; resolution against a registry lives in registry/refs.ts.
 */
import { TesseraError } from '../errors.js';
import { quoteInput } from '../quote.js';
import { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH } from './names.js';

/** A parsed `view` or `view@version`; version 0 means "latest". */
export interface ViewRef {
  readonly view: string;
  /** Pinned version (1, 2, …), or 0 for the latest version. */
  readonly version: number;
}

/** A parsed feature ref; `feature` is `*` for every feature of the view. */
export interface FeatureRef extends ViewRef {
  readonly feature: string;
}

/**
 * Longest ref accepted, in characters: a view and a feature name of {@link MAX_IDENTIFIER_LENGTH}
 * each, `@` and a version of up to 9 digits, and the colon fit well within it. Checked before any
 * parsing or lookup, so an oversized ref costs nothing and is never echoed whole.
 */
export const MAX_REF_LENGTH = 2 * MAX_IDENTIFIER_LENGTH + 16;

/** Throws INVALID_ARGUMENT when `text` is longer than {@link MAX_REF_LENGTH}; `what` names the field. */
export function checkRefLength(text: string, what: string): void {
  if (text.length > MAX_REF_LENGTH) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${what} ${quoteInput(text, 40)} is longer than ${MAX_REF_LENGTH} characters (MAX_REF_LENGTH)`,
    );
  }
}

const VIEW_REF = /^([a-z_][a-z0-9_]*)(?:@([1-9][0-9]{0,8}))?$/;

/** Parses `customer_stats` or `customer_stats@2`; throws INVALID_ARGUMENT when malformed. */
export function parseViewRef(text: string): ViewRef {
  checkRefLength(text, 'View ref');
  const match = VIEW_REF.exec(text);
  if (match === null) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Malformed view ref ${quoteInput(text)}: expected "view" or "view@version" (e.g. customer_stats or customer_stats@2)`,
    );
  }
  return { view: match[1] ?? '', version: match[2] === undefined ? 0 : Number(match[2]) };
}

/** Parses `view:feature`, `view:*`, `view@2:feature` or `view@2:*`; throws INVALID_ARGUMENT when malformed. */
export function parseFeatureRef(text: string): FeatureRef {
  checkRefLength(text, 'Feature ref');
  const colon = text.indexOf(':');
  const feature = colon < 0 ? '' : text.slice(colon + 1);
  const viewPart = colon < 0 ? text : text.slice(0, colon);
  const view = VIEW_REF.exec(viewPart);
  if (colon < 0 || view === null || (feature !== '*' && !IDENTIFIER_PATTERN.test(feature))) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Malformed feature ref ${quoteInput(text)}: expected "view:feature", "view:*", "view@2:feature" or "view@2:*"`,
    );
  }
  return { view: view[1] ?? '', version: view[2] === undefined ? 0 : Number(view[2]), feature };
}

/** `view@2:feature` for a pinned ref, `view:feature` for an unpinned one. */
export function formatFeatureRef(ref: FeatureRef): string {
  return ref.version === 0 ? `${ref.view}:${ref.feature}` : `${ref.view}@${ref.version}:${ref.feature}`;
}
