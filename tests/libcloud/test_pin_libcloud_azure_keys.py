"""libcloud:azure_blobs: what Azure would store under another name, or sign wrongly, is refused up front."""

from __future__ import annotations

import pytest

import cloudkit
from cloudkit.errors import InvalidInput, NotSupported


def test_backslash_keys_are_refused_before_any_request(azure_cloud: cloudkit.Cloud) -> None:
    storage = azure_cloud.storage
    with pytest.raises(InvalidInput) as err:
        storage.put_object("any-bucket", "dir\\file", b"x")  # Azure would keep it as 'dir/file'
    assert err.value.field == "key" and "'\\'" in str(err.value)
    with pytest.raises(InvalidInput) as err:
        storage.copy_object("any-bucket", "src", "any-bucket", "dir\\copy")
    assert err.value.field == "dst_key"


def test_presigning_a_key_that_needs_escaping_is_visibly_unsupported(azure_cloud: cloudkit.Cloud) -> None:
    with pytest.raises(NotSupported) as err:
        azure_cloud.storage.presign_url("any-bucket", "spaces in name.txt")
    assert "URL escaping" in str(err.value)
