"""Switchboard's REST API (Chalice blueprint) and the AWS-side plumbing it shares with the workers."""
