"""Queue consumers of Switchboard: the routing worker and the local stand-ins for Lambda's SQS plumbing."""
