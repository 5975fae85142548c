function max(numbers) {
  if (numbers.length === 0) {
    throw new Error("max of an empty array");
  }
  return Math.max(...numbers);
}

module.exports = { max };
