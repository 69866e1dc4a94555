// The Pulumi program that `pulumi preview` / `pulumi up` run (Pulumi.yaml: main stacks/).
import { program } from "./program";

export = program();
