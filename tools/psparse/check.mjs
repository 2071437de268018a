// Syntax check of PowerShell scripts with the tree-sitter PowerShell
// grammar: node check.mjs FILE... prints one JSON line per file,
// {"file": ..., "ok": bool, "errors": [{"row", "column", "text"}]}, and
// exits 1 when any file does not parse. The tests of the documents package
// run it on every generated script.
import { readFileSync } from "node:fs";
import Parser from "tree-sitter";
import PowerShell from "tree-sitter-powershell";

const parser = new Parser();
parser.setLanguage(PowerShell);

function problems(node, out) {
  if (node.isError || node.isMissing) {
    out.push({
      row: node.startPosition.row + 1,
      column: node.startPosition.column + 1,
      text: node.isMissing ? "missing " + node.type : node.text.slice(0, 60),
    });
    return;
  }
  for (const child of node.children) {
    if (child.hasError || child.isError || child.isMissing) problems(child, out);
  }
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const tree = parser.parse(readFileSync(file, "utf8"), null, { bufferSize: 1 << 22 });
  const errors = [];
  if (tree.rootNode.hasError) {
    problems(tree.rootNode, errors);
    if (errors.length === 0) errors.push({ row: 0, column: 0, text: "syntax error" });
    failed = true;
  }
  console.log(JSON.stringify({ file, ok: !tree.rootNode.hasError, errors }));
}
process.exit(failed ? 1 : 0);
