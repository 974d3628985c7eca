"""The local platform's parts: shared state, bundles, workers and routing, rollouts (see ``cloudkit_local.platform``)."""
