// Typed handles on what @pulumi/policy exports untyped: its published typings re-export
// `unknownCheckingProxy` and `UnknownValueError` from a module whose declarations are stripped.
import * as policySdk from "@pulumi/policy";

/** Thrown by the engine's proxy when a policy reads a value that is unknown during preview. */
export interface UnknownValueErrorLike extends Error {
  /** Property path of the unknown value. */
  props: PropertyKey[];
}

/** Wraps resource props so that reading an unknown preview value throws UnknownValueError, as the engine does. */
export const unknownCheckingProxy = policySdk.unknownCheckingProxy as <T extends object>(props: T) => T;

const UnknownValueError = policySdk.UnknownValueError as new (...args: unknown[]) => UnknownValueErrorLike;

export function isUnknownValueError(e: unknown): e is UnknownValueErrorLike {
  return e instanceof UnknownValueError;
}
