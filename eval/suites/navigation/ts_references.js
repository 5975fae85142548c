// The TypeScript compiler's own references (its language service, as editors use it) for each
// definition given on stdin: [{"id", "path", "line", "column"}] (1-based) -> {id: ["path:line:col", ...]}.
// Usage: node ts_references.js TYPESCRIPT_PACKAGE_DIR REPO_ROOT < cases.json
const fs = require("fs");
const path = require("path");
const ts = require(path.join(process.argv[2], "lib", "typescript.js"));
const root = path.resolve(process.argv[3]);

function walk(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules") walk(full, out);
    else if (entry.isFile() && /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

const files = walk(root, []);
const host = {
  getScriptFileNames: () => files,
  getScriptVersion: () => "1",
  getScriptSnapshot: (f) => (fs.existsSync(f) ? ts.ScriptSnapshot.fromString(fs.readFileSync(f, "utf8")) : undefined),
  getCurrentDirectory: () => root,
  getCompilationSettings: () => ({ target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS, strict: true,
                                   lib: ["lib.es2020.d.ts", "lib.dom.d.ts"], baseUrl: root }),
  getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
  fileExists: ts.sys.fileExists,
  readFile: ts.sys.readFile,
  readDirectory: ts.sys.readDirectory,
};
const service = ts.createLanguageService(host, ts.createDocumentRegistry());
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const result = {};
for (const c of cases) {
  const file = path.join(root, c.path);
  const source = service.getProgram().getSourceFile(file);
  const pos = source.getPositionOfLineAndCharacter(c.line - 1, c.column - 1);
  const found = [];
  for (const symbol of service.findReferences(file, pos) || []) {
    for (const ref of symbol.references) {
      if (ref.isDefinition || !ref.fileName.startsWith(root)) continue;
      const sf = service.getProgram().getSourceFile(ref.fileName);
      const lc = sf.getLineAndCharacterOfPosition(ref.textSpan.start);
      found.push(`${path.relative(root, ref.fileName)}:${lc.line + 1}:${lc.character + 1}`);
    }
  }
  result[c.id] = [...new Set(found)].sort();
}
process.stdout.write(JSON.stringify(result));
