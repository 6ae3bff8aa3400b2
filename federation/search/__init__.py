"""Reading the store: selectors (the one read path) and matching criteria."""
