"""The backfill consumer as a chain of Arroyo strategies.

decode → lookup → hashing → seer → onward → commit. Each stage has its own
module; `factory.py` wires them together.
"""
