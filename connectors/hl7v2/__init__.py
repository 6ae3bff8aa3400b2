"""HL7 v2.5 connector: files or streams of messages (batches too), parsed with python-hl7 and mapped to JP Core.

The parsing (parser.py) and the mapping (mapping.py) are shared with the SS-MIX2 connector, whose storage
holds one such message per file.
"""
