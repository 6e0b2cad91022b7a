"""Match data: loaders, the canonical schema, quarantine and the synthetic league."""
