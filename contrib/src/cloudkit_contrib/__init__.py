"""Add-ons built only on cloudkit's provider-neutral API, so each works on every provider.

* :mod:`cloudkit_contrib.backup`: full, incremental and differential folder backups into a bucket,
  point-in-time restore, chain-aware retention, bucket lifecycle rules, and DNS zone backups.
* :mod:`cloudkit_contrib.bootstrap`: cloud-init user data that fetches a bootstrap script and its
  files from a bucket through presigned URLs, checks their SHA-256 and runs the script.
"""

__version__ = "0.1.0"
