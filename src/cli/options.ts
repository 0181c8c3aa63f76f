// Strict parsing of numeric command-line values. Number('0x10') is 16, Number('') is 0 and Number('1e3') is 1000:
// a typo must not silently become another run, so only plain decimal digits pass, within the option's range.
// No commander import: the test suites (bundled for browsers too) check these parsers directly.

/**
 * A value commander reports as "option '--x <n>' argument 'v' is invalid. <message>" (its InvalidArgumentError
 * is recognised by this code; the message names the option itself for callers outside commander).
 */
export class OptionError extends Error {
  readonly code = 'commander.invalidArgument';
  readonly exitCode = 1;
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option} ${message}`);
    this.name = 'OptionError';
  }
}

/** A whole number in plain decimal digits, min ≤ n ≤ max; anything else is an OptionError naming the option. */
export function parseInteger(option: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const range = max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
  if (!/^\d+$/.test(value)) throw new OptionError(option, `must be ${range} in decimal digits, not '${value}'`);
  const n = Number(value);
  if (!(n >= min && n <= max)) throw new OptionError(option, `must be ${range}, not ${value}`);
  return n;
}

/** A commander option parser for parseInteger. */
export const integerOption =
  (option: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  (value: string) =>
    parseInteger(option, value, min, max);

/** A TCP port for a local server: 0 (any free port) to 65535. */
export const parsePort = (value: string) => parseInteger('port', value, 0, 65535);
