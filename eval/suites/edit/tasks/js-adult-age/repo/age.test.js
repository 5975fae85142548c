const assert = require("node:assert");
const { isAdult } = require("./age");

assert.strictEqual(isAdult(18), true);
assert.strictEqual(isAdult(17), false);
assert.strictEqual(isAdult(40), true);
