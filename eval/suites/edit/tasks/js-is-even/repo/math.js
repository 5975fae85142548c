function square(n) {
  return n * n;
}

module.exports = { square };
