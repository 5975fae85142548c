function capitalize(word) {
  return word.toUpperCase();
}

module.exports = { capitalize };
