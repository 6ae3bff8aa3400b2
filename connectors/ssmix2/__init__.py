"""SS-MIX2 標準化ストレージ connector: the storage tree, its file names and condition flags.

The messages in the files are HL7 v2.5 and go through the hl7v2 family's parser and mapping.
"""
