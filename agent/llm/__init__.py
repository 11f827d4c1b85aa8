"""The agent tier: a strands agent decides the tickets the fast router is unsure of (issue 9).

A worker hands ``RoutingAgent.decide`` an ``AgentContext`` (the ticket and everything cheap to know about it) and
gets back an ``AgentAnswer`` (a verdict checked against the taxonomy, with its tokens, calls and cost) or one of
the ``AgentError`` subclasses, whose class and ``cause`` say what to do next.

One concern per module, as strands lays out its own: ``verdict`` (the answer's schema, built from the taxonomy),
``prompt`` (system prompt and first message), ``context``, ``masking`` (personal data out of everything the model
reads), ``tools`` (the seven tools over the fast path's functions and the stores), ``providers/`` (one file per
model provider), ``routing_agent`` (the runner), ``errors``, ``answer``, ``pricing`` and ``logs`` (what must never
reach a log). Only ``routing_agent``, ``tools`` and ``providers`` import strands, which costs half a second and
more; the rest import nothing heavy, so the fast path and a worker's error handling never pay for it.
"""
