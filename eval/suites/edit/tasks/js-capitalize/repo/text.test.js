const assert = require("node:assert");
const { capitalize } = require("./text");

assert.strictEqual(capitalize("hello"), "Hello");
assert.strictEqual(capitalize("iPhone"), "IPhone");
