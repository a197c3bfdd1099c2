/**
 * Colour with meaning — warnings red, push owed yellow, resolved green, NotNow magenta — and none at all when
 * NO_COLOR is set (https://no-color.org), decided once at startup and passed down.
 */
export interface Theme {
  warning?: string;
  owed?: string;
  resolved?: string;
  notnow?: string;
  dim: boolean;
  accent?: string;
}

export function theme(color = !('NO_COLOR' in process.env) || process.env.NO_COLOR === ''): Theme {
  return color ? { warning: 'red', owed: 'yellow', resolved: 'green', notnow: 'magenta', accent: 'cyan', dim: true } : { dim: false };
}
