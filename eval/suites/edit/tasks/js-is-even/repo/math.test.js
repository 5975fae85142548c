const assert = require("node:assert");
const { square, isEven } = require("./math");

assert.strictEqual(square(3), 9);
assert.strictEqual(isEven(4), true);
assert.strictEqual(isEven(7), false);
