"""Identity linking: which stored Patients are the same person, from their demographics."""
