// Counts handed to the library (iterations, batch sizes): 0, −5 or NaN would run no step, or never stop, and
// still hand back a model as if trained; they are refused by name before any work.

/** `value` is a whole number ≥ min, else a RangeError naming `what`. */
export function checkCount(what: string, value: number, min = 1): void {
  if (!(Number.isInteger(value) && value >= min))
    throw new RangeError(`${what} must be a whole number ≥ ${min}, got ${value}`);
}
