/**
 * Every rule the analyzer runs, in the order its hooks are called. Adding a rule is one file under rules/ and
 * one line here; its id, severity, docs line and settings come from its definition.
 */
import type { RuleDefinition } from './rule.js';
import { notNowNoPush } from './notnow-no-push.js';
import { interruptedNoPush } from './interrupted-no-push.js';
import { notNowNotResent } from './notnow-not-resent.js';
import { notNowRetryStorm } from './notnow-retry-storm.js';
import { commandRedelivered } from './command-redelivered.js';
import { notNowUnexpected } from './notnow-unexpected.js';
import { chronicNotNow } from './chronic-notnow.js';
import { malformedBody } from './malformed-body.js';
import { pushRejected } from './push-rejected.js';
import { pushUnknownToken } from './push-unknown-token.js';
import { pushMagicMismatch } from './push-magic-mismatch.js';
import { pushNoCheckin } from './push-no-checkin.js';
import { notNowNoReturn } from './notnow-no-return.js';
import { deviceRejected } from './device-rejected.js';
import { ddmDeclarationInvalid } from './ddm-declaration-invalid.js';
import { ddmSyncStalled } from './ddm-sync-stalled.js';
import { ddmNotNowSetup } from './ddm-notnow-setup.js';

export const RULES: readonly RuleDefinition[] = [
  notNowNoPush,
  interruptedNoPush,
  notNowNotResent,
  notNowRetryStorm,
  commandRedelivered,
  notNowUnexpected,
  chronicNotNow,
  malformedBody,
  pushRejected,
  pushUnknownToken,
  pushMagicMismatch,
  pushNoCheckin,
  notNowNoReturn,
  deviceRejected,
  ddmDeclarationInvalid,
  ddmSyncStalled,
  ddmNotNowSetup,
];
