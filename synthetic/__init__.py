"""A synthetic region: a municipality's people and the records its institutions keep about them (issue 4).

Nothing here reads the platform: the ground truth comes from the generator's own model of the people.
"""
