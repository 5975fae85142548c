const assert = require("node:assert");
const { countLines } = require("./lines");

assert.strictEqual(countLines("a\nb"), 2);
assert.strictEqual(countLines("a\nb\n"), 2);
assert.strictEqual(countLines(""), 0);
