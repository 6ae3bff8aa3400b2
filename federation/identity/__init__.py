"""Identity federation: which stored Patients are one person (normalise, compare, block), linking them into persons
with golden records, Patient/$match, and the data steward's decisions."""
