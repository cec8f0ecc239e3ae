/**
 * Output-aware validation (pulumi-eks' `validatedInput`): plain values are checked
 * at once by zod; values that are Outputs are checked inside `apply`, and the value
 * only flows on when the check passes.
 */
import * as pulumi from "@pulumi/pulumi";

export function validated<T>(input: pulumi.Input<T>, check: (value: pulumi.Unwrap<T>) => void): pulumi.Output<pulumi.Unwrap<T>> {
  return pulumi.output(input).apply((value) => {
    check(value);
    return value;
  });
}
