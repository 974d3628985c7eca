"""The local provider's plugin: announces ``local`` and builds its family services on demand.

Each family lives in its own module (``storage.py``, ``dns.py``, ...) exposing ``make_service``;
a module is imported only when its family is first used, so ``connect("local")`` stays light.
"""

from __future__ import annotations

import cloudkit
from cloudkit.provider import FamilyPlugin

ALL_FAMILIES = ("compute", "storage", "dns", "notification", "database", "platform", "loadbalancer")

S = cloudkit.Setting
#: Every setting the local provider reads (``connect("local", ...)``, profiles, ``cloudkit --set``).
SETTINGS = (
    S("root", "path", "Folder holding every resource (else CLOUDKIT_LOCAL_ROOT, else the user data folder).",
      "user data folder"),
    S("region", "str", "Accepted so portable code can pass a region; the local provider has one region."),
    S("name_servers", "list", "DNS: name servers reported for every zone.", "ns1/ns2.cloudkit.invalid."),
    S("postgres_bin", "path", "Database: folder of the PostgreSQL server binaries (else found on the machine)."),
    S("postgres_os_user", "str", "Database: system user PostgreSQL runs as when cloudkit runs as root.", "postgres"),
    S("postgres_data_root", "path", "Database: folder for the PostgreSQL data directories.", "under root"),
    S("mysql_os_user", "str", "Database: system user MariaDB (engine mysql) runs as when cloudkit runs as root.", "mysql"),
    S("mysql_data_root", "path", "Database: folder for the MariaDB (engine mysql) data directories.", "under root"),
    S("backup_check_interval", "float", "Database: seconds between checks for due automated backups.", 3600),
    S("durable_backups", "bool", "Database: fsync snapshots and WAL archives.", True),
    S("delivery_attempts", "int", "Notification: delivery attempts per message and subscription.", 5),
    S("delivery_backoff", "float", "Notification: seconds before the first retry (doubled each time).", 1.0),
    S("delivery_max_backoff", "float", "Notification: longest wait between retries, in seconds.", 300.0),
    S("delivery_timeout", "float", "Notification: seconds allowed for one HTTP or SMTP delivery.", 10.0),
    S("delivery_workers", "int", "Notification: concurrent deliveries.", 4),
    S("delivery_poll", "float", "Notification: seconds between looks for due deliveries.", 0.5),
    S("delivery_ca_bundle", "path", "Notification: CA bundle for https subscriptions (else the system's)."),
    S("smtp_host", "str", "Notification: SMTP server for email subscriptions.", "localhost"),
    S("smtp_port", "int", "Notification: SMTP port.", 25),
    S("smtp_username", "str", "Notification: SMTP user name."),
    S("smtp_password", "str", "Notification: SMTP password (never shown)."),
    S("smtp_starttls", "bool", "Notification: STARTTLS after connecting.", False),
    S("smtp_ssl", "bool", "Notification: SMTP over TLS from the start.", False),
    S("smtp_sender", "str", "Notification: the From address.", "cloudkit@localhost"),
    S("haproxy_bin", "path", "Load balancer: the HAProxy binary (else haproxy on PATH or in /usr/sbin)."),
)


class LocalPlugin(FamilyPlugin):
    """Serves the ``local`` provider: ``cloudkit_local.<family>.make_service(settings)``, imported on first use."""

    def __init__(self) -> None:
        super().__init__("local", "cloudkit_local", families=ALL_FAMILIES,
                         description="Everything on this machine: no account, no network (the default).",
                         distribution="cloudkit-local", settings=SETTINGS)


plugin = LocalPlugin()
