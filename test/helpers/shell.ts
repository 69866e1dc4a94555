// The commands a shell script calls, found by mvdan/sh's parser (its JS build, mvdan-sh): every
// simple command whose name is a literal word, plus the functions the script defines.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sh = require("mvdan-sh") as { syntax: Syntax };

interface Word {
  Lit(): string;
  Parts: unknown[];
}
interface ShNode {
  Args?: Word[];
  Name?: { Value: string };
}
interface Syntax {
  NewParser(...opts: unknown[]): { Parse(src: string, name: string): unknown };
  Variant(v: number): unknown;
  LangBash: number;
  Walk(node: unknown, fn: (n: ShNode | null) => boolean): void;
  NodeType(n: unknown): string;
}

export interface ScriptCommands {
  /** Literal command names, in order of appearance (duplicates removed). */
  commands: string[];
  /** Functions the script defines (callable without being installed). */
  functions: string[];
}

/** Parses `src` as bash (throws on a syntax error) and lists what it calls. */
export function scriptCommands(src: string, name = "script"): ScriptCommands {
  const { syntax } = sh;
  let file: unknown;
  try {
    file = syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(src, name);
  } catch (e) {
    // GopherJS throws a Go error value: give it a message.
    throw new Error(`${name}: not valid bash: ${(e as { Error?: () => string }).Error?.() ?? String(e)}`, { cause: e });
  }
  const commands = new Set<string>();
  const functions = new Set<string>();
  syntax.Walk(file, (n) => {
    if (n === null) return true;
    const t = syntax.NodeType(n);
    if (t === "FuncDecl" && n.Name) functions.add(n.Name.Value);
    if (t === "CallExpr" && n.Args && n.Args.length > 0) {
      const first = n.Args[0]!;
      // Only a plain literal names a command statically ("$tool" is checked where it is set).
      if (first.Parts.length === 1 && syntax.NodeType(first.Parts[0]) === "Lit") {
        commands.add(first.Lit());
        // `command -v X`, `exec X`, `env X` name X as a command too.
        const args = n.Args.map((a) => (a.Parts.length === 1 && syntax.NodeType(a.Parts[0]) === "Lit" ? a.Lit() : ""));
        if (args[0] === "exec" && args[1]) commands.add(args[1]);
      }
    }
    return true;
  });
  return { commands: [...commands], functions: [...functions] };
}
