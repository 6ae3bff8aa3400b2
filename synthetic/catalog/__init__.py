"""Static tables the generator draws from: names, places, conditions, drugs, lab tests, care codes."""
