/** The rules the analyzer runs, in order. The two push-deadline rules live with the obligations they judge. */
import type { RuleFactory } from './rule.js';
import { notNowNotResent } from './not-resent.js';
import { notNowRetryStorm } from './retry-storm.js';
import { notNowUnexpected } from './unexpected.js';
import { chronicNotNow } from './chronic.js';
import { malformedBody } from './malformed.js';
import { pushRejected } from './push-rejected.js';
import { pushUnknownToken } from './push-unknown-token.js';
import { pushMagicMismatch } from './push-magic-mismatch.js';

export const RULES: readonly RuleFactory[] = [
  notNowRetryStorm,
  notNowUnexpected,
  notNowNotResent,
  chronicNotNow,
  malformedBody,
  pushRejected,
  pushUnknownToken,
  pushMagicMismatch,
];
