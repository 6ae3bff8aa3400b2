"""Who is signed in: one account per OpenID Connect issuer and subject, with its role and what the role is tied to."""
