function formatPrice(amount, currency = "$") {
  return currency + amount.toFixed(2);
}

module.exports = { formatPrice };
