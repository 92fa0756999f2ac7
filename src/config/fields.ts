import { Type } from '@sinclair/typebox';

/** A duration setting in whole seconds, with the message operators see when it is wrong. */
export const Seconds = (defaultValue: number, description: string, minimum = 1) =>
  Type.Integer({
    minimum,
    default: defaultValue,
    description,
    errorMessage: 'must be a whole number of seconds',
  });

/** A count setting (attempts, limits). */
export const Count = (defaultValue: number, description: string, minimum = 1) =>
  Type.Integer({
    minimum,
    default: defaultValue,
    description,
    errorMessage: `must be a whole number ≥ ${minimum}`,
  });
