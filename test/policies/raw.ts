// Raw provider resources declared for real under Pulumi's mocks and handed to the policies the
// way the plan hands them: inputs with secrets unwrapped, the top-level keys that held a secret,
// and each resource's parent. Independent of the program, so only the resources a test declares
// are recorded. One recording per test process: the Pulumi runtime's state is global.
import type { OfflineResource } from "../../policies/evaluate";
import { recordUnderMocks } from "../../plan/mocks";
import { toOfflineResource } from "../../plan/policy";

export async function recordRaw(declare: () => void, preview = false): Promise<OfflineResource[]> {
  const { resources } = await recordUnderMocks("test", preview, () => undefined, async () => {
    declare();
    return {};
  });
  // The stack resource itself is the runtime's, not the test's.
  return resources.filter((r) => r.type !== "pulumi:pulumi:Stack").map(toOfflineResource);
}
