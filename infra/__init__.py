"""Resource definitions, provisioning, packaging and the local stack: development and deployment tooling, never
shipped to Lambda."""
