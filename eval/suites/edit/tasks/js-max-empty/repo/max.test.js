const assert = require("node:assert");
const { max } = require("./max");

assert.strictEqual(max([1, 5, 3]), 5);
assert.throws(() => max([]), Error);
