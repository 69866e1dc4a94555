// The HAHA policy pack. Only constructs the pack (constructing it starts the engine's gRPC
// server): the policies live in their own modules, listed in registry.ts.
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, packPolicies } from "./registry";

new PolicyPack(PACK_NAME, {
  description: "Refuses USB passthrough and every single point of failure in a HAHA stack (see docs/policies.md).",
  enforcementLevel: "mandatory",
  policies: packPolicies(),
});
