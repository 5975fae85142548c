function square(n) {
  return n * n;
}

function isEven(n) {
  return n % 2 === 0;
}

module.exports = { square, isEven };
