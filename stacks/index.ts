// The Pulumi program: `pulumi up` runs this, and so does the offline plan under mocks.
import { readPulumiConfig } from "./config/load";
import { parseConfig } from "./config/validate";
import { declareStack } from "./haha";

export = (async () => {
  const { raw, secrets } = readPulumiConfig();
  const config = parseConfig(raw, "stack config");
  return declareStack(config, secrets);
})();
