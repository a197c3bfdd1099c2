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
import { deviceRejected } from './device-rejected.js';
import { commandRedelivered } from './command-redelivered.js';
import { pushNoCheckin } from './push-no-checkin.js';
import { notNowNoReturn } from './notnow-no-return.js';

export const RULES: readonly RuleFactory[] = [
  notNowRetryStorm,
  notNowUnexpected,
  notNowNotResent,
  chronicNotNow,
  commandRedelivered,
  deviceRejected,
  malformedBody,
  pushRejected,
  pushUnknownToken,
  pushMagicMismatch,
  pushNoCheckin,
  notNowNoReturn,
];
