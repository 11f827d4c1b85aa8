"""The agent tier: a strands-agents agent (Bedrock or an OpenAI-compatible endpoint) for the tickets the fast
router is unsure of. Only ``routing_agent``, ``providers`` and ``tools`` import strands."""
