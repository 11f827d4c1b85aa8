"""Switchboard's routing brain: ticket in, routing decision out, no AWS inside."""
