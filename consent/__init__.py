"""Who may see what: consent semantics, enforcement filter, authorisation, audit (grows with issue 7)."""
