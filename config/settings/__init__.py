"""Settings per environment: base (shared), local (development and demo), test, production."""
