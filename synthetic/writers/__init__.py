"""One module per source-native format; each turns the model of a person into that source's files."""
