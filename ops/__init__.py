"""Operator commands (``python -m ops …``): what on-call and the network operations centre run by hand.

Development and operations tooling on top of the data layer; never shipped to Lambda.
"""
