"""Switchboard's data layer: the shared types, settings, AWS clients, tables, stores and events.

The REST API (``chalice_app``), the queue consumers (``workers``) and the routing brain's tools (``agent``) all
reach DynamoDB and EventBridge through this package, and it imports nothing else of ours: a ticket's path through
the tree is api → data layer → workers → agent.
"""
