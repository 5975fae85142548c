const assert = require("node:assert");
const { formatPrice } = require("./price");

assert.strictEqual(formatPrice(3), "$3.00");
assert.strictEqual(formatPrice(2.5, "€"), "€2.50");
