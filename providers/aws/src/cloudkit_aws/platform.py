"""The platform family on AWS Elastic Beanstalk.

* A version's bundle is uploaded to S3 first (through boto3's transfer manager) into Elastic
  Beanstalk's own storage bucket (``CreateStorageLocation``) or the bucket named by the
  ``platform_bucket`` setting, under ``<application>/<label>.zip``; then
  ``CreateApplicationVersion`` points at it. If registering fails, the upload is deleted again.
* ``deploy`` is ``UpdateEnvironment`` to a version label, waited on with boto3's
  ``environment_updated`` waiter; launches and terminations use ``environment_exists`` and
  ``environment_terminated``.
* Neutral :class:`EnvironmentSettings` map to option settings: ``env_vars`` are options of
  ``aws:elasticbeanstalk:application:environment``; ``min_instances`` / ``max_instances`` are
  ``MinSize`` / ``MaxSize`` of ``aws:autoscaling:asg`` (``instance_count`` alone sets both, and reads
  back as ``MinSize``, the number Elastic Beanstalk launches); ``instance_type`` is
  ``aws:autoscaling:launchconfiguration:InstanceType``; every other option is
  ``"namespace:OptionName"`` (the namespace is everything before the last colon).
  ``update_settings`` changes what it names and leaves the rest as it is, as Elastic Beanstalk does.
* ``stack`` is a solution stack name, or a language such as ``python`` / ``node.js 20``: the newest
  Amazon Linux stack running it is chosen.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudkit import validation as v
from cloudkit.errors import AlreadyExists, Conflict, InvalidInput, NotFound, ProviderError, Timeout
from cloudkit.models.platform import (
    Application,
    AppVersion,
    ConfigurationTemplate,
    Environment,
    EnvironmentSettings,
    Event,
    InstanceLog,
    Stack,
)
from cloudkit.provider import follow as follow_events
from cloudkit.services.platform import PlatformService
from cloudkit_aws._session import PROVIDER, AwsSession
from cloudkit_aws.errors import AwsErrors, mapped

ENV_VARS = "aws:elasticbeanstalk:application:environment"
ASG = "aws:autoscaling:asg"
LAUNCH = "aws:autoscaling:launchconfiguration"

_STATUS = {
    "Launching": "launching",
    "Updating": "updating",
    "Ready": "ready",
    "Terminating": "terminating",
    "Terminated": "terminated",
    "Aborting": "updating",
    "LinkingFrom": "updating",
    "LinkingTo": "updating",
}
#: The most bytes downloaded for one instance's log sample.
MAX_LOG_BYTES = 256 * 1024 * 1024
_LIVE = ("Launching", "Updating", "Ready", "Aborting", "LinkingFrom", "LinkingTo")


def make_service(settings: Mapping[str, Any]) -> AwsPlatform:
    """The aws provider's platform service (the plugin calls this)."""
    return AwsPlatform(settings)


# --------------------------------------------------------------------------- option settings


def to_option_settings(settings: EnvironmentSettings) -> list[dict[str, str]]:
    """Elastic Beanstalk ``OptionSettings`` for neutral ``settings``."""
    out = [{"Namespace": ENV_VARS, "OptionName": k, "Value": val} for k, val in sorted(settings.env_vars.items())]
    low, high = settings.scaling()
    if low is not None:
        out.append({"Namespace": ASG, "OptionName": "MinSize", "Value": str(low)})
    if high is not None:
        out.append({"Namespace": ASG, "OptionName": "MaxSize", "Value": str(high)})
    if settings.instance_type is not None:
        out.append({"Namespace": LAUNCH, "OptionName": "InstanceType", "Value": settings.instance_type})
    taken = {name for name, value in (("MinSize", low), ("MaxSize", high)) if value is not None}
    for key, val in sorted(settings.options.items()):
        namespace, _, option = key.rpartition(":")
        if namespace == ASG and option in taken:
            continue  # the neutral range given alongside wins (one value per option)
        out.append({"Namespace": namespace, "OptionName": option, "Value": val})
    return out


def from_option_settings(options: list[Mapping[str, Any]]) -> EnvironmentSettings:
    """Neutral settings for Elastic Beanstalk ``OptionSettings`` (options without a value are left out)."""
    values: dict[tuple[str, str], str] = {}
    for item in options:
        if item.get("Value") is None or item.get("Namespace") is None:
            continue
        values[(item["Namespace"], item["OptionName"])] = str(item["Value"])
    env_vars = {opt: val for (ns, opt), val in values.items() if ns == ENV_VARS}
    lo, hi = values.get((ASG, "MinSize")), values.get((ASG, "MaxSize"))
    low = int(lo) if lo is not None and lo.isdigit() else None
    high = int(hi) if hi is not None and hi.isdigit() else None
    itype = values.get((LAUNCH, "InstanceType"))
    rest = {}
    for (ns, opt), val in values.items():
        if ns == ENV_VARS or (ns, opt) == (LAUNCH, "InstanceType"):
            continue
        if ((ns, opt) == (ASG, "MinSize") and low is not None) or ((ns, opt) == (ASG, "MaxSize") and high is not None):
            continue
        rest[f"{ns}:{opt}"] = val
    settings = EnvironmentSettings(env_vars=env_vars, instance_type=itype, options=rest)
    return settings.with_scaling(low, high) if low is not None or high is not None else settings


def _environment(d: Mapping[str, Any]) -> Environment:
    status = str(d.get("Status", ""))
    return Environment(
        id=d["EnvironmentId"],
        name=d["EnvironmentName"],
        application=d.get("ApplicationName", ""),
        status=_STATUS.get(status, status.lower()),
        health=str(d.get("Health") or "Grey").lower(),
        version=d.get("VersionLabel"),
        stack=d.get("SolutionStackName"),
        url=d.get("CNAME") or d.get("EndpointURL") or None,
        created_at=d.get("DateCreated"),
        updated_at=d.get("DateUpdated"),
        extra=d,
    )


def _version(d: Mapping[str, Any]) -> AppVersion:
    bundle = d.get("SourceBundle") or {}
    source = f"s3://{bundle['S3Bucket']}/{bundle['S3Key']}" if bundle.get("S3Bucket") else None
    return AppVersion(
        application=d["ApplicationName"],
        label=d["VersionLabel"],
        description=d.get("Description"),
        source=source,
        created_at=d.get("DateCreated"),
        extra=d,
    )


def _stack_language(name: str) -> str | None:
    m = re.search(r" running (.+)$", name)
    return m.group(1).strip().lower() if m else None


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


class AwsPlatform(AwsErrors, PlatformService):
    """Elastic Beanstalk applications, versions, environments, templates and events."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self._aws = AwsSession(self.settings)
        bucket = self.settings.get("platform_bucket")
        self._bucket: str | None = None if bucket is None else v.bucket_name(bucket, "platform_bucket")
        self._poll = float(self.settings.get("platform_poll_seconds", 5 if self._aws.waiter_delay is None else self._aws.waiter_delay))

    @property
    def native(self) -> Any:
        """The boto3 Elastic Beanstalk client."""
        return self._aws.client("elasticbeanstalk")

    @property
    def eb(self) -> Any:
        """The boto3 Elastic Beanstalk client."""
        return self._aws.client("elasticbeanstalk")

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._aws.close()

    # ------------------------------------------------------------------ helpers
    def _wait(self, name: str, operation: str, timeout: float, env_id: str) -> None:
        waiter = self.eb.get_waiter(name)
        with mapped(operation):
            waiter.wait(EnvironmentIds=[env_id], IncludeDeleted=True, WaiterConfig=self._aws.waiter_config(waiter, timeout))

    def _describe_env(self, ref: str, operation: str) -> Mapping[str, Any]:
        """An environment by id (``e-...``) or name; a live one is preferred over terminated namesakes."""
        keys = ["EnvironmentNames"]
        if re.match(r"^e-[a-z0-9]+$", ref):
            keys.insert(0, "EnvironmentIds")  # an id-like name is still looked up as a name
        found: list[Any] = []
        for key in keys:
            with mapped(operation):
                found = self.eb.describe_environments(**{key: [ref]}, IncludeDeleted=True)["Environments"]
            if found:
                break
        if not found:
            raise NotFound(f"{operation}: no environment {ref!r}", provider=PROVIDER)
        envs: list[dict[str, Any]] = [dict(e) for e in found]
        live = [e for e in envs if e.get("Status") in _LIVE]
        if live:
            return live[0]
        return max(envs, key=lambda e: e.get("DateUpdated") or datetime.min.replace(tzinfo=UTC))

    def _live_env(self, ref: str, operation: str) -> Mapping[str, Any]:
        d = self._describe_env(ref, operation)
        if d.get("Status") not in _LIVE:
            raise NotFound(f"{operation}: environment {ref!r} is terminated", provider=PROVIDER)
        return d

    def _stack_name(self, stack: str, operation: str) -> str:
        with mapped(operation):
            names = list(self.eb.list_available_solution_stacks()["SolutionStacks"])
        if stack in names:
            return stack
        wanted = stack.strip().lower()
        matches = [n for n in names if (_stack_language(n) or "").startswith(wanted)]
        if not matches:
            raise InvalidInput("stack", f"no solution stack runs {stack!r}; see list_stacks()", provider=PROVIDER)

        def rank(name: str) -> tuple[Any, ...]:
            platform = name.split(" running ")[0]
            return ("Amazon Linux 2023" in platform, "Amazon Linux 2 " in platform + " ",
                    _numbers(_stack_language(name) or ""), _numbers(platform))

        return str(max(matches, key=rank))

    # ------------------------------------------------------------------ applications
    def _application(self, d: Mapping[str, Any]) -> Application:
        return Application(name=d["ApplicationName"], description=d.get("Description") or None,
                           created_at=d.get("DateCreated"), extra=d)

    def _describe_app(self, name: str, operation: str) -> Mapping[str, Any]:
        with mapped(operation):
            found = self.eb.describe_applications(ApplicationNames=[name])["Applications"]
        if not found:
            raise NotFound(f"{operation}: no application {name!r}", provider=PROVIDER)
        return dict(found[0])

    def _create_application(self, name: str, description: str | None) -> Application:
        args: dict[str, Any] = {"ApplicationName": name}
        if description:
            args["Description"] = description
        made = self.eb.create_application(**args)["Application"]
        return self._application(made)

    def _get_application(self, name: str) -> Application:
        return self._application(self._describe_app(name, "platform.get_application"))

    def _list_applications(self) -> Iterator[Application]:
        apps = self.eb.describe_applications()["Applications"]
        for d in apps:
            yield self._application(d)

    def _delete_application(self, name: str, terminate_environments: bool) -> None:
        op = "platform.delete_application"
        self._describe_app(name, op)
        envs = self.eb.describe_environments(ApplicationName=name, IncludeDeleted=False)["Environments"]
        live = [e for e in envs if e.get("Status") in _LIVE]
        if live and not terminate_environments:
            names = ", ".join(e["EnvironmentName"] for e in live)
            raise Conflict(f"{op}: {name!r} still runs environments ({names}); terminate them first "
                           "or pass terminate_environments=True", provider=PROVIDER)
        self.eb.delete_application(ApplicationName=name, TerminateEnvByForce=bool(terminate_environments))

    # ------------------------------------------------------------------ versions
    def _storage_bucket(self) -> str:
        if self._bucket is None:
            with mapped("platform.create_version"):
                self._bucket = str(self.eb.create_storage_location()["S3Bucket"])
        return self._bucket

    def _create_version(self, application: str, label: str, source: Path | bytes, description: str | None) -> AppVersion:
        op = "platform.create_version"
        self._describe_app(application, op)
        existing = self.eb.describe_application_versions(ApplicationName=application, VersionLabels=[label])
        if existing.get("ApplicationVersions"):
            raise AlreadyExists(f"{op}: {application!r} already has a version {label!r}", provider=PROVIDER)
        with tempfile.TemporaryDirectory(prefix="cloudkit-bundle-") as tmp:
            bundle = self._bundle(source, Path(tmp))
            bucket = self._storage_bucket()
            key = f"{application}/{label}.zip"  # the label is unique in the application (checked above)
            s3 = self._aws.client("s3")
            with mapped(op), open(bundle, "rb") as fh:
                s3.upload_fileobj(fh, bucket, key, Config=self._aws.transfer_config())
        args: dict[str, Any] = {
            "ApplicationName": application,
            "VersionLabel": label,
            "SourceBundle": {"S3Bucket": bucket, "S3Key": key},
            "Process": False,
        }
        if description:
            args["Description"] = description
        try:
            with mapped(op):
                made = self.eb.create_application_version(**args)["ApplicationVersion"]
        except BaseException:
            with mapped(op):  # nothing half-made stays behind
                s3.delete_object(Bucket=bucket, Key=key)
            raise
        return _version(made)

    @staticmethod
    def _bundle(source: Path | bytes, tmp: Path) -> Path:
        """A zip file on disk for ``source`` (a zip file, a folder to zip, or zip bytes)."""
        if isinstance(source, bytes):
            path = tmp / "bundle.zip"
            path.write_bytes(source)
            return path
        if source.is_dir():
            path = tmp / "bundle.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for root, dirs, files in os.walk(source):
                    dirs.sort()
                    for fname in sorted(files):
                        full = Path(root) / fname
                        zf.write(full, full.relative_to(source).as_posix())
            return path
        if not zipfile.is_zipfile(source):
            raise InvalidInput("source", f"{str(source)!r} is neither a folder nor a zip archive")
        return source

    def _list_versions(self, application: str) -> Iterator[AppVersion]:
        op = "platform.list_versions"
        self._describe_app(application, op)
        for page in self._aws.pages("elasticbeanstalk", "describe_application_versions", op, ApplicationName=application):
            for d in page.get("ApplicationVersions", []):
                yield _version(d)

    def _delete_version(self, application: str, label: str) -> None:
        op = "platform.delete_version"
        found = self.eb.describe_application_versions(ApplicationName=application, VersionLabels=[label])
        if not found.get("ApplicationVersions"):
            raise NotFound(f"{op}: {application!r} has no version {label!r}", provider=PROVIDER)
        users = self.eb.describe_environments(ApplicationName=application, VersionLabel=label, IncludeDeleted=False)
        running = [e["EnvironmentName"] for e in users["Environments"] if e.get("Status") in _LIVE]
        if running:
            raise Conflict(f"{op}: version {label!r} runs in {', '.join(running)}", provider=PROVIDER)
        self.eb.delete_application_version(ApplicationName=application, VersionLabel=label, DeleteSourceBundle=True)

    def _list_stacks(self) -> Iterator[Stack]:
        reply = self.eb.list_available_solution_stacks()
        details = {d["SolutionStackName"]: d for d in reply.get("SolutionStackDetails", [])}
        for name in reply.get("SolutionStacks", []):
            yield Stack(name=name, language=_stack_language(name), extra=details.get(name, {}))

    # ------------------------------------------------------------------ environments
    def _create_environment(self, application: str, name: str, **kw: Any) -> Environment:
        op = "platform.create_environment"
        args: dict[str, Any] = {"ApplicationName": application, "EnvironmentName": name, "VersionLabel": kw["version"]}
        if kw.get("template"):
            args["TemplateName"] = kw["template"]
        else:
            args["SolutionStackName"] = self._stack_name(kw["stack"], op)
        if kw.get("settings") is not None:
            args["OptionSettings"] = to_option_settings(kw["settings"])
        made = self.eb.create_environment(**args)
        if not kw.get("wait", True):
            return _environment(made)
        self._wait("environment_exists", op, float(kw["timeout"]), made["EnvironmentId"])
        return _environment(self._describe_env(made["EnvironmentId"], op))

    def _get_environment(self, env_id_or_name: str) -> Environment:
        return _environment(self._describe_env(env_id_or_name, "platform.get_environment"))

    def _list_environments(self, application: str | None, include_terminated: bool) -> Iterator[Environment]:
        args: dict[str, Any] = {"IncludeDeleted": include_terminated}
        if application:
            args["ApplicationName"] = application
        for page in self._aws.pages("elasticbeanstalk", "describe_environments", "platform.list_environments", **args):
            for d in page.get("Environments", []):
                yield _environment(d)

    def _update(self, env: str, op: str, wait: bool, timeout: float, **changes: Any) -> Environment:
        d = self._live_env(env, op)
        with mapped(op):
            result = self.eb.update_environment(EnvironmentId=d["EnvironmentId"], **changes)
        if not wait:
            return _environment(result)
        self._wait("environment_updated", op, timeout, d["EnvironmentId"])
        return _environment(self._describe_env(d["EnvironmentId"], op))

    def _deploy(self, env: str, label: str, wait: bool, timeout: float) -> Environment:
        op = "platform.deploy"
        started = datetime.now().astimezone()
        done = self._update(env, op, wait, timeout, VersionLabel=label)
        if wait and done.version != label:
            errors = [e.message for e in self._events(None, done.id, started, False, timeout) if e.severity in ("ERROR", "FATAL")]
            detail = "; ".join(errors[-3:]) or "the environment kept its previous version"
            raise ProviderError(f"{op}: deploying {label!r} to {done.name!r} was rolled back: {detail}", provider=PROVIDER)
        return done

    def _update_settings(self, env: str, settings: EnvironmentSettings, wait: bool, timeout: float) -> Environment:
        return self._update(env, "platform.update_settings", wait, timeout, OptionSettings=to_option_settings(settings))

    def _get_settings(self, env: str) -> EnvironmentSettings:
        op = "platform.get_settings"
        d = self._live_env(env, op)
        found = self.eb.describe_configuration_settings(
            ApplicationName=d["ApplicationName"], EnvironmentName=d["EnvironmentName"]
        )["ConfigurationSettings"]
        return from_option_settings(found[0].get("OptionSettings", []) if found else [])

    def _swap_urls(self, env_a: str, env_b: str) -> None:
        op = "platform.swap_urls"
        a, b = self._live_env(env_a, op), self._live_env(env_b, op)
        if a["EnvironmentId"] == b["EnvironmentId"]:
            raise InvalidInput("environment_b", "must be another environment than environment_a", provider=PROVIDER)
        self.eb.swap_environment_cnames(SourceEnvironmentId=a["EnvironmentId"], DestinationEnvironmentId=b["EnvironmentId"])

    def _terminate_environment(self, env: str, wait: bool, timeout: float) -> Environment:
        op = "platform.terminate_environment"
        d = self._live_env(env, op)
        result = self.eb.terminate_environment(EnvironmentId=d["EnvironmentId"])
        if not wait:
            return _environment(result)
        self._wait("environment_terminated", op, timeout, d["EnvironmentId"])
        return _environment(self._describe_env(d["EnvironmentId"], op))

    def _rebuild(self, env: str, wait: bool, timeout: float) -> Environment:
        op = "platform.rebuild"
        d = self._live_env(env, op)
        with mapped(op):
            self.eb.rebuild_environment(EnvironmentId=d["EnvironmentId"])
        if wait:
            self._wait("environment_updated", op, timeout, d["EnvironmentId"])
        return _environment(self._describe_env(d["EnvironmentId"], op))

    # ------------------------------------------------------------------ logs
    def _environment_info(self, env: str, info_type: str, op: str, timeout: float) -> list[dict[str, Any]]:
        """Ask every instance for its logs (``RequestEnvironmentInfo``) and wait for the new samples."""
        env_id = self._live_env(env, op)["EnvironmentId"]
        with mapped(op):
            before = self.eb.retrieve_environment_info(EnvironmentId=env_id, InfoType=info_type)["EnvironmentInfo"]
            old = {(i.get("Ec2InstanceId"), i.get("Message")) for i in before}
            self.eb.request_environment_info(EnvironmentId=env_id, InfoType=info_type)
        deadline = time.monotonic() + timeout
        while True:
            with mapped(op):
                found = self.eb.retrieve_environment_info(EnvironmentId=env_id, InfoType=info_type)["EnvironmentInfo"]
            fresh = [dict(i) for i in found if (i.get("Ec2InstanceId"), i.get("Message")) not in old]
            if fresh:
                newest: dict[str, dict[str, Any]] = {}
                for item in sorted(fresh, key=lambda i: i.get("SampleTimestamp") or datetime.min.replace(tzinfo=UTC)):
                    newest[str(item.get("Ec2InstanceId"))] = item
                return [newest[k] for k in sorted(newest)]
            if time.monotonic() >= deadline:
                raise Timeout(f"{op}: the instances did not deliver their logs within {timeout:g}s", provider=PROVIDER)
            time.sleep(self._poll)

    def _download(self, url: str, op: str) -> bytes:
        """The body at a log URL Elastic Beanstalk handed out (a presigned S3 URL), at most ``MAX_LOG_BYTES``."""
        if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
            raise ProviderError(f"{op}: Elastic Beanstalk returned a log location that is not a URL", provider=PROVIDER)
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                data = bytes(resp.read(MAX_LOG_BYTES + 1))
        except (OSError, http.client.HTTPException) as exc:
            raise ProviderError(f"{op}: could not download the logs ({type(exc).__name__})", provider=PROVIDER) from None
        if len(data) > MAX_LOG_BYTES:
            raise ProviderError(f"{op}: the logs are larger than {MAX_LOG_BYTES} bytes", provider=PROVIDER)
        return data

    def _logs(self, env: str, tail: int, timeout: float) -> list[InstanceLog]:
        op = "platform.logs"
        out = []
        for item in self._environment_info(env, "tail", op, timeout):
            text = self._download(str(item["Message"]), op).decode("utf-8", "replace")
            lines = text.splitlines(keepends=True)[-tail:]
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            out.append(InstanceLog(instance=str(item["Ec2InstanceId"]), text="".join(lines),
                                   timestamp=item.get("SampleTimestamp") or datetime.now(UTC),
                                   extra={k: val for k, val in item.items() if k != "Message"}))
        return out

    def _log_bundle(self, env: str, timeout: float) -> bytes:
        op = "platform.log_bundle"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for item in self._environment_info(env, "bundle", op, timeout):
                instance = str(item["Ec2InstanceId"])
                data = self._download(str(item["Message"]), op)
                try:
                    with zipfile.ZipFile(io.BytesIO(data)) as zf:
                        for info in zf.infolist():
                            name = info.filename.lstrip("/")
                            if info.is_dir() or ".." in Path(name).parts:
                                continue
                            out.writestr(f"{instance}/{name}", zf.read(info))
                except zipfile.BadZipFile:
                    raise ProviderError(f"{op}: the log bundle of {instance} is not a zip archive", provider=PROVIDER) from None
        return buf.getvalue()

    # ------------------------------------------------------------------ templates
    def _template(self, application: str, d: Mapping[str, Any]) -> ConfigurationTemplate:
        return ConfigurationTemplate(
            application=application,
            name=d["TemplateName"],
            stack=d.get("SolutionStackName"),
            settings=from_option_settings(d.get("OptionSettings", [])),
            description=d.get("Description") or None,
            extra=d,
        )

    def _create_template(
        self, application: str, name: str, environment: str | None, stack: str | None,
        settings: EnvironmentSettings | None, description: str | None,
    ) -> ConfigurationTemplate:
        op = "platform.create_template"
        args: dict[str, Any] = {"ApplicationName": application, "TemplateName": name}
        if environment is not None:
            args["EnvironmentId"] = self._live_env(environment, op)["EnvironmentId"]
        if stack is not None:
            args["SolutionStackName"] = self._stack_name(stack, op)
        if settings is not None:
            args["OptionSettings"] = to_option_settings(settings)
        if description:
            args["Description"] = description
        made = self.eb.create_configuration_template(**args)
        return self._template(application, made)

    def _list_templates(self, application: str) -> Iterator[ConfigurationTemplate]:
        op = "platform.list_templates"
        for name in self._describe_app(application, op).get("ConfigurationTemplates", []):
            try:
                with mapped(op):
                    found = self.eb.describe_configuration_settings(ApplicationName=application, TemplateName=name)
            except NotFound:  # deleted while we were listing
                continue
            for d in found.get("ConfigurationSettings", []):
                yield self._template(application, d)

    def _delete_template(self, application: str, name: str) -> None:
        self.eb.delete_configuration_template(ApplicationName=application, TemplateName=name)

    # ------------------------------------------------------------------ events
    def _fetch_events(self, application: str | None, env_id: str | None, since: datetime | None) -> list[Event]:
        args: dict[str, Any] = {}
        if application:
            args["ApplicationName"] = application
        if env_id:
            args["EnvironmentId"] = env_id
        if since is not None:
            args["StartTime"] = since
        out: list[Event] = []
        for page in self._aws.pages("elasticbeanstalk", "describe_events", "platform.events", **args):
            for d in page.get("Events", []):
                out.append(Event(
                    timestamp=d["EventDate"],
                    message=d.get("Message", ""),
                    severity=d.get("Severity", "INFO"),
                    application=d.get("ApplicationName"),
                    environment=d.get("EnvironmentName"),
                    version=d.get("VersionLabel"),
                ))
        out.reverse()  # Elastic Beanstalk answers newest first
        return out

    def _events(self, application: str | None, environment: str | None, since: datetime | None, follow: bool, timeout: float) -> Iterator[Event]:
        env_id = None if environment is None else self._describe_env(environment, "platform.events")["EnvironmentId"]
        cursor = since

        def fetch() -> Iterator[Event]:
            nonlocal cursor
            for event in self._fetch_events(application, env_id, cursor):  # StartTime is inclusive: follow() dedupes
                cursor = event.timestamp if cursor is None or event.timestamp > cursor else cursor
                yield event

        return follow_events(fetch, follow=follow, timeout=timeout, interval=self._poll,
                             key=lambda e: (e.timestamp, e.message, e.environment, e.application))
