"""The documented kit run catches what a port gets wrong: truncated listings, foreign exceptions, wrong types.

Each case writes a small plugin beside a copy of the documented run (``pytest --pyargs
cloudkit.testing``) and runs it in a fresh pytest process, as a plugin author would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
import cloudkit
from cloudkit_local.storage import LocalStorage

MODE = {mode!r}


class Ported(LocalStorage):
    """Local storage served under another name, with one deliberate fault."""

    def __init__(self, settings):
        super().__init__(settings)
        self.provider = {provider!r}

    def _list_objects(self, bucket, prefix, delimiter, start_after):
        for i, item in enumerate(super()._list_objects(bucket, prefix, delimiter, start_after)):
            if MODE == "truncate" and i == 1000:  # one page and no more
                return
            yield item

    def _get_bucket(self, name):
        if MODE == "foreign":
            raise KeyError(name)  # a native error let through
        if MODE == "wrong-type":
            return {{"name": name}}  # a dict where a Bucket is due
        return super()._get_bucket(name)


class PortedPlugin:
    @cloudkit.hookimpl
    def cloudkit_providers(self):
        return [cloudkit.ProviderInfo(name="ported", families={{"storage"}}, description="local storage, renamed")]

    @cloudkit.hookimpl(tryfirst=True)
    def cloudkit_make_service(self, provider, family, settings):
        if provider == {provider!r} and family == "storage":
            return Ported(settings)
        return None


cloudkit.register_plugin(PortedPlugin(), name="ported-storage")
'''


def run_kit(tmp_path: Path, mode: str, provider: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the documented kit (storage suite) in a fresh pytest process with the plugin loaded."""
    (tmp_path / "ported_plugin.py").write_text(textwrap.dedent(PLUGIN.format(mode=mode, provider=provider)))
    root = Path(tempfile.mkdtemp(prefix="root-", dir=tmp_path))  # a fresh root per run
    config = tmp_path / "cloudkit.toml"
    config.write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "CLOUDKIT_LOCAL_ROOT": str(root), "CLOUDKIT_CONFIG": str(config)}
    env.pop("CLOUDKIT_PROFILE", None)
    env.pop("CLOUDKIT_PROVIDER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "ported_plugin", "--rootdir", str(tmp_path),
         "--pyargs", "cloudkit.testing.test_suite", "-k", "TestStorageConformance", *args],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )


def summary(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else proc.stderr[-2000:]


@pytest.mark.slow
def test_listing_past_1000_keys_runs_by_default_on_local(tmp_path: Path) -> None:
    proc = run_kit(tmp_path, "truncate", "local", "-k", "many_keys")
    assert "1 failed" in summary(proc), proc.stdout[-4000:]
    assert "test_list_many_keys" in proc.stdout


@pytest.mark.slow
def test_listing_past_1000_keys_runs_elsewhere_behind_the_documented_option(tmp_path: Path) -> None:
    skipped = run_kit(tmp_path, "truncate", "ported", "--cloudkit-provider=ported", "-k", "many_keys", "-rs")
    assert "1 skipped" in summary(skipped), skipped.stdout[-4000:]
    assert "--cloudkit-many-keys" in skipped.stdout  # the skip reason names the switch
    failed = run_kit(tmp_path, "truncate", "ported", "--cloudkit-provider=ported", "--cloudkit-many-keys", "-k", "many_keys")
    assert "1 failed" in summary(failed), failed.stdout[-4000:]
    honest = run_kit(tmp_path, "none", "ported", "--cloudkit-provider=ported", "--cloudkit-many-keys", "-k", "many_keys")
    assert "1 passed" in summary(honest), honest.stdout[-4000:]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("foreign", "raised builtins.KeyError, not a cloudkit error"),
        ("wrong-type", "returned a value of the wrong type"),
    ],
)
def test_a_driver_breaking_the_boundary_fails_the_kit_naming_the_driver_method(tmp_path: Path, mode: str,
                                                                               expected: str) -> None:
    proc = run_kit(tmp_path, mode, "ported", "--cloudkit-provider=ported", "-k", "bucket_lifecycle")
    assert "1 failed" in summary(proc), proc.stdout[-4000:]
    assert "ported_plugin.Ported._get_bucket" in proc.stdout  # the driver method, named
    assert "cloudkit conformance kit" in proc.stdout and expected in proc.stdout, proc.stdout[-4000:]


def test_an_honest_port_passes_the_same_test(tmp_path: Path) -> None:
    proc = run_kit(tmp_path, "none", "ported", "--cloudkit-provider=ported", "-k", "bucket_lifecycle")
    assert "1 passed" in summary(proc), proc.stdout[-4000:]
