"""The database conformance suite on aws (RDS), replayed from cassettes recorded against moto."""

from __future__ import annotations

import _harness as h
import moto_rds

from cloudkit.testing.database import DatabaseConformance

h.MotoServer.setup_hooks.append(moto_rds.install)


class TestAwsDatabaseConformance(DatabaseConformance):
    """Every database conformance test on aws."""

    parameter_group_family = "postgres16"
