def count_words(text):
    return len([w for w in text.split(" ") if w])
