"""The platform's scaling settings read back the same on local and on aws (moto, replayed).

Settings given as a range, as a fixed count, and widened afterwards must come back with the same
``instance_count`` / ``min_instances`` / ``max_instances`` and environment variables everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _harness as h  # tests/aws is put on sys.path by this folder's conftest
import moto_eb

import cloudkit
from cloudkit.models.platform import EnvironmentSettings
from cloudkit.testing.platform import sample_app
from cloudkit.testing.portability import assert_portable

if moto_eb.install not in h.MotoServer.setup_hooks:
    h.MotoServer.setup_hooks.append(moto_eb.install)

#: Fields each provider fills from its own defaults.
PROVIDER_DECIDES = {
    "*.options": "aws reports Elastic Beanstalk's own default options; local only the options it honours",
    "*.instance_type": "aws starts environments on t3.micro by default; local sets no limit unless asked",
}


def scaling_job(cloud: cloudkit.Cloud) -> dict[str, Any]:
    p = cloud.platform
    p.create_application("portable-app")
    p.create_version("portable-app", "v1", source=sample_app("one"))
    env = p.create_environment("portable-app", "portable-env", version="v1", stack="python",
                               settings=EnvironmentSettings(min_instances=2, max_instances=3, env_vars={"MODE": "a"}))
    out: dict[str, Any] = {"ranged": p.get_settings(env)}
    p.update_settings(env, EnvironmentSettings(instance_count=1))
    out["fixed"] = p.get_settings(env)
    p.update_settings(env, EnvironmentSettings(max_instances=4, env_vars={"MODE": "b"}))
    out["widened"] = p.get_settings(env)
    p.delete_application("portable-app", terminate_environments=True)
    return out


def test_scaling_settings_read_back_the_same(
    local_cloud: cloudkit.Cloud, run_on_aws: Callable[[Callable[[cloudkit.Cloud], Any]], Any],
) -> None:
    local = scaling_job(local_cloud)
    aws = run_on_aws(scaling_job)
    for result in (local, aws):
        counts = {k: (s.instance_count, s.min_instances, s.max_instances) for k, s in result.items()}
        assert counts == {"ranged": (2, 2, 3), "fixed": (1, 1, 1), "widened": (1, 1, 4)}
    assert_portable(local, aws, PROVIDER_DECIDES, names=("local", "aws"))
