"""The ticketing systems final decisions are written back to, one module per system behind one interface.

``base`` holds the interface (``TicketingSystem.apply``), what is applied (``DecisionUpdate``) and the errors
whose class tells the sync worker what to do next; ``note`` writes the private comment every system gets;
``zendesk`` is the reference adapter (Zendesk Support API). Another system is one more module next to it.
"""
