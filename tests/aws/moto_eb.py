"""Elastic Beanstalk actions moto's server lacks, added to it for the test harness only.

moto 5 implements applications, environments (with placeholder ids, no CNAMEs and no version),
solution stacks and tags. This module adds, on moto's own ``EBResponse`` class, one method per
missing action (and replaces the few whose placeholders would make a driver untestable), each
returning an ``ActionResult`` that moto serialises from botocore's service model. Requests come in
through moto's query-protocol parser, so every recorded exchange is a real HTTP exchange that
botocore parses like any AWS reply.

State the extension needs lives on moto's own backend and application objects, so moto's reset
(``POST /moto-api/reset``) clears it with everything else.

Lifecycle: create, update and terminate answer with ``Launching`` / ``Updating`` / ``Terminating``
and the environment settles (``Ready`` or ``Terminated``) at the next read (a Describe* call), as
if the work had finished in between; until then another change is refused as EB refuses it (the
environment "is in an invalid state for this operation"). Events record each step. Call :func:`install` before the server starts.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.elasticbeanstalk import models as eb_models
from moto.elasticbeanstalk.exceptions import InvalidParameterValueError
from moto.elasticbeanstalk.responses import SOLUTION_STACK_DETAILS, EBResponse
from moto.elasticbeanstalk.utils import make_arn

ENV_VARS = "aws:elasticbeanstalk:application:environment"

#: Option settings every new environment starts with (a small subset of EB's real defaults).
DEFAULT_OPTIONS: dict[tuple[str, str], str] = {
    ("aws:autoscaling:asg", "MinSize"): "1",
    ("aws:autoscaling:asg", "MaxSize"): "4",
    ("aws:autoscaling:launchconfiguration", "InstanceType"): "t3.micro",
    ("aws:elasticbeanstalk:environment", "EnvironmentType"): "LoadBalanced",
}

_installed = False


class InvalidParameterCombinationError(ServiceException):
    """EB's error for arguments that do not fit together (also used for unreadable bundles)."""

    code = "InvalidParameterCombination"
    # moto looks up an error's service model through the exception's module path.
    __module__ = "moto.elasticbeanstalk.exceptions"


def _now() -> datetime:
    return datetime.now(UTC)


def _rand(n: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


class _Env(eb_models.Environment):
    """An environment with the fields moto leaves as placeholders."""

    # moto's model metaclass files each model under the service named by its module path.
    __module__ = "moto.elasticbeanstalk.models"

    def __init__(self, app: eb_models.Application, name: str, stack: str, tags: dict[str, str]) -> None:
        super().__init__(app, name, stack, tags)
        self.solution_stack_name = stack
        self.environment_id = "e-" + _rand(10)
        self.version_label: str | None = None  # type: ignore[assignment]
        self.template_name: str | None = None
        self.description: str | None = None
        self.cname = ""
        self.endpoint_url = f"awseb-{self.environment_id}-{_rand(8)}.{app.region}.elb.amazonaws.com"
        self.status = "Launching"
        self.health = "Grey"
        self.options: dict[tuple[str, str], str] = dict(DEFAULT_OPTIONS)
        self.settle_to: str | None = "Ready"
        self.settle_message = "createEnvironment completed successfully."
        self.terminated_at: datetime | None = None


# --------------------------------------------------------------------------- state helpers


def _backend(resp: EBResponse) -> eb_models.EBBackend:
    return resp.elasticbeanstalk_backend


def _events(backend: eb_models.EBBackend) -> list[dict[str, Any]]:
    if not hasattr(backend, "ck_events"):
        backend.ck_events = []  # type: ignore[attr-defined]
    return backend.ck_events  # type: ignore[attr-defined,no-any-return]


def _versions(app: eb_models.Application) -> dict[str, dict[str, Any]]:
    if not hasattr(app, "ck_versions"):
        app.ck_versions = {}  # type: ignore[attr-defined]
    return app.ck_versions  # type: ignore[attr-defined,no-any-return]


def _templates(app: eb_models.Application) -> dict[str, dict[str, Any]]:
    if not hasattr(app, "ck_templates"):
        app.ck_templates = {}  # type: ignore[attr-defined]
    return app.ck_templates  # type: ignore[attr-defined,no-any-return]


def _event(backend: eb_models.EBBackend, message: str, *, app: str | None = None, env: _Env | None = None,
           version: str | None = None, template: str | None = None, severity: str = "INFO") -> None:
    # No RequestId: moto rewrites every <RequestId> of a reply with one greedy pattern.
    item: dict[str, Any] = {"EventDate": _now(), "Message": message, "Severity": severity}
    if env is not None:
        item["EnvironmentName"] = env.environment_name
        item["ApplicationName"] = env.application_name
        item["ck_env_id"] = env.environment_id
        if env.version_label:
            item["VersionLabel"] = env.version_label
    if app is not None:
        item["ApplicationName"] = app
    if version is not None:
        item["VersionLabel"] = version
    if template is not None:
        item["TemplateName"] = template
    _events(backend).append(item)


def _app(resp: EBResponse, name: str | None) -> eb_models.Application:
    backend = _backend(resp)
    if not name or name not in backend.applications:
        raise InvalidParameterValueError(f"No Application named '{name}' found.")
    return backend.applications[name]


def _all_envs(backend: eb_models.EBBackend) -> list[_Env]:
    envs: list[_Env] = []
    for app in backend.applications.values():
        envs.extend(e for e in app.environments.values() if isinstance(e, _Env))
    for env in getattr(backend, "ck_orphans", []):
        envs.append(env)
    return envs


def _settle(backend: eb_models.EBBackend) -> None:
    """Finish every operation in progress (the work happened between two calls)."""
    for env in _all_envs(backend):
        if env.settle_to is None:
            continue
        env.status = env.settle_to
        env.health = "Green" if env.status == "Ready" else "Grey"
        env.date_updated = _now()
        if env.status == "Terminated":
            env.terminated_at = env.date_updated
        _event(backend, env.settle_message, env=env)
        env.settle_to = None


def _find_env(resp: EBResponse, env_id: str | None, env_name: str | None, *, live: bool = True) -> _Env:
    backend = _backend(resp)
    for env in reversed(_all_envs(backend)):
        if live and env.status in ("Terminating", "Terminated"):
            continue
        if (env_id and env.environment_id == env_id) or (env_name and not env_id and env.environment_name == env_name):
            return env
    if not env_id and not env_name:
        raise InvalidParameterValueError("Either EnvironmentName or EnvironmentId must be specified.")
    raise InvalidParameterValueError(f"No Environment found for {'EnvironmentId' if env_id else 'EnvironmentName'} = '{env_id or env_name}'.")


def _stack(name: str | None) -> str:
    names = [s["SolutionStackName"] for s in SOLUTION_STACK_DETAILS]
    if name not in names:
        raise InvalidParameterValueError(f"No Solution Stack named '{name}' found.")
    return name


def _option_list(options: dict[tuple[str, str], str]) -> list[dict[str, str]]:
    return [{"Namespace": ns, "OptionName": opt, "Value": val} for (ns, opt), val in sorted(options.items())]


def _parse_options(raw: list[dict[str, Any]] | None) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for item in raw or []:
        ns, opt = item.get("Namespace"), item.get("OptionName")
        if not ns or not opt:
            raise InvalidParameterValueError("Each option setting needs a Namespace and an OptionName.")
        out[(ns, opt)] = str(item.get("Value", ""))
    return out


def _check_instance_counts(options: dict[tuple[str, str], str]) -> None:
    lo = options.get(("aws:autoscaling:asg", "MinSize"), "1")
    hi = options.get(("aws:autoscaling:asg", "MaxSize"), "4")
    if not (lo.isdigit() and hi.isdigit()) or int(lo) > int(hi):
        raise InvalidParameterValueError(f"MinSize ({lo}) must be a number not greater than MaxSize ({hi}).")


def _env_description(env: _Env) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EnvironmentName": env.environment_name,
        "EnvironmentId": env.environment_id,
        "ApplicationName": env.application_name,
        "SolutionStackName": env.solution_stack_name,
        "EndpointURL": env.endpoint_url,
        "CNAME": env.cname,
        "DateCreated": env.date_created,
        "DateUpdated": env.date_updated,
        "Status": env.status,
        "AbortableOperationInProgress": env.status in ("Updating",),
        "Health": env.health,
        "HealthStatus": "Ok" if env.health == "Green" else "No Data",
        "Tier": env.tier,
        "EnvironmentArn": env.environment_arn,
    }
    for key, value in (("VersionLabel", env.version_label), ("TemplateName", env.template_name),
                       ("Description", env.description)):
        if value:
            out[key] = value
    return out


def _version_description(app: eb_models.Application, v: dict[str, Any]) -> dict[str, Any]:
    return {k: val for k, val in v.items() if val is not None}


def _template_description(app: eb_models.Application, t: dict[str, Any]) -> dict[str, Any]:
    out = {
        "ApplicationName": app.application_name,
        "TemplateName": t["TemplateName"],
        "SolutionStackName": t["SolutionStackName"],
        "DateCreated": t["DateCreated"],
        "DateUpdated": t["DateUpdated"],
        "OptionSettings": _option_list(t["options"]),
    }
    if t.get("Description"):
        out["Description"] = t["Description"]
    return out


# --------------------------------------------------------------------------- actions


def create_application(self: EBResponse) -> ActionResult:
    """CreateApplication, keeping the description and creation date moto drops."""
    name = self._get_param("ApplicationName")
    app = _backend(self).create_application(application_name=name)
    app.description = self._get_param("Description")  # type: ignore[attr-defined]
    app.date_created = app.date_updated = _now()  # type: ignore[attr-defined]
    _event(_backend(self), "createApplication completed successfully.", app=name)
    return ActionResult({"Application": _app_description(app)})


def _app_description(app: eb_models.Application) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ApplicationArn": app.arn,
        "ApplicationName": app.application_name,
        "DateCreated": getattr(app, "date_created", None),
        "DateUpdated": getattr(app, "date_updated", None),
        "Versions": list(reversed(list(_versions(app)))),
        "ConfigurationTemplates": list(_templates(app)),
    }
    if getattr(app, "description", None):
        out["Description"] = app.description  # type: ignore[attr-defined]
    return {k: v for k, v in out.items() if v is not None}


def describe_applications(self: EBResponse) -> ActionResult:
    """DescribeApplications with the ``ApplicationNames`` filter moto ignores."""
    wanted = self._get_param("ApplicationNames") or []
    apps = [a for a in _backend(self).applications.values() if not wanted or a.application_name in wanted]
    return ActionResult({"Applications": [_app_description(a) for a in apps]})


def delete_application(self: EBResponse) -> ActionResult:
    """DeleteApplication: refuses while environments run unless ``TerminateEnvByForce``."""
    backend = _backend(self)
    app = _app(self, self._get_param("ApplicationName"))
    _settle(backend)
    live = [e for e in app.environments.values() if isinstance(e, _Env) and e.status != "Terminated"]
    if live and not self._get_param("TerminateEnvByForce"):
        raise InvalidParameterValueError(
            f"Unable to delete application {app.application_name} because it has running environments."
        )
    for env in live:
        env.status, env.settle_to = "Terminating", "Terminated"
        env.settle_message = "terminateEnvironment completed successfully."
    orphans = getattr(backend, "ck_orphans", [])
    orphans.extend(e for e in app.environments.values() if isinstance(e, _Env))
    backend.ck_orphans = orphans  # type: ignore[attr-defined]
    backend.delete_application(application_name=app.application_name)
    return EmptyResult()


def create_application_version(self: EBResponse) -> ActionResult:
    """CreateApplicationVersion: the source bundle must already be in S3 (moto's S3 backend)."""
    backend = _backend(self)
    name = self._get_param("ApplicationName")
    if name not in backend.applications and self._get_param("AutoCreateApplication"):
        create_application(self)
    app = _app(self, name)
    label = self._get_param("VersionLabel")
    if not label:
        raise InvalidParameterValueError("VersionLabel is required.")
    if label in _versions(app):
        raise InvalidParameterValueError(f"Application Version {label} already exists.")
    bundle = self._get_param("SourceBundle") or {}
    bucket, key = bundle.get("S3Bucket"), bundle.get("S3Key")
    if bucket and key:
        _require_s3_object(self, bucket, key)
    elif bucket or key:
        raise InvalidParameterCombinationError("SourceBundle needs both S3Bucket and S3Key.")
    now = _now()
    version = {
        "ApplicationVersionArn": make_arn(app.region, app.account_id, "applicationversion", f"{name}/{label}"),
        "ApplicationName": name,
        "Description": self._get_param("Description"),
        "VersionLabel": label,
        "SourceBundle": {"S3Bucket": bucket, "S3Key": key} if bucket else None,
        "DateCreated": now,
        "DateUpdated": now,
        "Status": "PROCESSED" if self._get_param("Process") else "UNPROCESSED",
    }
    _versions(app)[label] = version
    _event(backend, f"Created new Application Version: {label}.", app=name, version=label)
    return ActionResult({"ApplicationVersion": _version_description(app, version)})


def _require_s3_object(resp: EBResponse, bucket: str, key: str) -> None:
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    s3 = s3_backends[resp.current_account][get_partition(resp.region)]
    try:
        found = s3.get_object(bucket, key)
    except Exception:  # moto raises its own S3 errors for a missing bucket
        found = None
    if found is None:
        raise InvalidParameterCombinationError(
            f"Unable to download from S3 location (Bucket: {bucket} Key: {key}). Reason: Not Found"
        )


def describe_application_versions(self: EBResponse) -> ActionResult:
    """DescribeApplicationVersions, newest first, paged with ``MaxRecords``/``NextToken``."""
    backend = _backend(self)
    name = self._get_param("ApplicationName")
    labels = self._get_param("VersionLabels") or []
    apps = [_app(self, name)] if name else list(backend.applications.values())
    items = []
    for app in apps:
        for v in reversed(list(_versions(app).values())):
            if not labels or v["VersionLabel"] in labels:
                items.append(_version_description(app, v))
    page, token = _page(items, self._get_param("MaxRecords"), self._get_param("NextToken"))
    out: dict[str, Any] = {"ApplicationVersions": page}
    if token:
        out["NextToken"] = token
    return ActionResult(out)


def _page(items: list[Any], max_records: Any, token: Any) -> tuple[list[Any], str | None]:
    start = int(token) if token else 0
    size = int(max_records) if max_records else 1000
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def delete_application_version(self: EBResponse) -> ActionResult:
    """DeleteApplicationVersion: refuses a version an environment runs."""
    backend = _backend(self)
    app = _app(self, self._get_param("ApplicationName"))
    label = self._get_param("VersionLabel")
    if label not in _versions(app):
        raise InvalidParameterValueError(f"No Application Version named '{label}' found.")
    users = [e.environment_name for e in app.environments.values()
             if isinstance(e, _Env) and e.version_label == label and e.status != "Terminated"]
    if users:
        raise InvalidParameterValueError(
            f"Unable to delete application version {label} because it is being used by an environment: {', '.join(users)}."
        )
    version = _versions(app).pop(label)
    bundle = version.get("SourceBundle")
    if bundle and self._get_param("DeleteSourceBundle"):
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        s3_backends[self.current_account][get_partition(self.region)].delete_object(bundle["S3Bucket"], bundle["S3Key"])
    _event(backend, f"Deleted Application Version: {label}.", app=app.application_name, version=label)
    return EmptyResult()


def _resolve_settings(self: EBResponse, app: eb_models.Application) -> tuple[str, str | None, dict[tuple[str, str], str]]:
    template_name = self._get_param("TemplateName")
    stack_name = self._get_param("SolutionStackName")
    options = dict(DEFAULT_OPTIONS)
    if template_name:
        if stack_name:
            raise InvalidParameterCombinationError("You cannot specify both a TemplateName and a SolutionStackName.")
        template = _templates(app).get(template_name)
        if template is None:
            raise InvalidParameterValueError(f"No Configuration Template named '{app.application_name}/{template_name}' found.")
        stack_name = template["SolutionStackName"]
        options.update(template["options"])
    stack = _stack(stack_name)
    options.update(_parse_options(self._get_param("OptionSettings")))
    _check_instance_counts(options)
    return stack, template_name, options


def create_environment(self: EBResponse) -> ActionResult:
    """CreateEnvironment with a real id, CNAME, version, template and option settings."""
    backend = _backend(self)
    app = _app(self, self._get_param("ApplicationName"))
    name = self._get_param("EnvironmentName")
    if not name:
        raise InvalidParameterValueError("EnvironmentName is required.")
    _settle(backend)
    if any(e.environment_name == name and e.status != "Terminated" for e in _all_envs(backend)):
        raise InvalidParameterValueError(f"Environment {name} already exists.")
    label = self._get_param("VersionLabel")
    if label and label not in _versions(app):
        raise InvalidParameterValueError(f"No Application Version named '{label}' found.")
    stack, template_name, options = _resolve_settings(self, app)
    tags = {t["Key"]: t["Value"] for t in self._get_param("Tags", [])}
    env = _Env(app, name, stack, tags)
    env.version_label = label
    env.template_name = template_name
    env.description = self._get_param("Description")
    env.options = options
    prefix = self._get_param("CNAMEPrefix") or name
    env.cname = f"{prefix}.eba-{_rand(8)}.{app.region}.elasticbeanstalk.com"
    app.environments[name] = env
    _event(backend, "createEnvironment is starting.", env=env)
    return ActionResult(_env_description(env))


def describe_environments(self: EBResponse) -> ActionResult:
    """DescribeEnvironments with EB's filters; terminated environments show unless ``IncludeDeleted`` is false."""
    backend = _backend(self)
    _settle(backend)
    app_name = self._get_param("ApplicationName")
    label = self._get_param("VersionLabel")
    ids = self._get_param("EnvironmentIds") or []
    names = self._get_param("EnvironmentNames") or []
    include_deleted = self._get_param("IncludeDeleted")
    include_deleted = True if include_deleted is None else str(include_deleted).lower() == "true"
    back_to = self._get_param("IncludedDeletedBackTo")
    out = []
    for env in _all_envs(backend):
        if app_name and env.application_name != app_name:
            continue
        if label and env.version_label != label:
            continue
        if ids and env.environment_id not in ids:
            continue
        if names and env.environment_name not in names:
            continue
        if env.status == "Terminated":
            if not include_deleted:
                continue
            if back_to and env.terminated_at and env.terminated_at < _as_datetime(back_to):
                continue
        out.append(_env_description(env))
    return ActionResult({"Environments": out})


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def update_environment(self: EBResponse) -> ActionResult:
    """UpdateEnvironment: deploy a version label and/or change option settings (only when Ready)."""
    backend = _backend(self)
    env = _find_env(self, self._get_param("EnvironmentId"), self._get_param("EnvironmentName"))
    if env.status != "Ready":
        raise InvalidParameterValueError(
            f"Environment named {env.environment_name} is in an invalid state for this operation. Must be Ready."
        )
    app = env.application
    label = self._get_param("VersionLabel")
    if label and label not in _versions(app):  # type: ignore[arg-type]
        raise InvalidParameterValueError(f"No Application Version named '{label}' found.")
    options = dict(env.options)
    template_name = self._get_param("TemplateName")
    if template_name:
        template = _templates(app).get(template_name)  # type: ignore[arg-type]
        if template is None:
            raise InvalidParameterValueError(f"No Configuration Template named '{template_name}' found.")
        options.update(template["options"])
        env.template_name = template_name
    for item in self._get_param("OptionsToRemove") or []:
        options.pop((item.get("Namespace"), item.get("OptionName")), None)
    options.update(_parse_options(self._get_param("OptionSettings")))
    _check_instance_counts(options)
    stack = self._get_param("SolutionStackName")
    if stack:
        env.solution_stack_name = _stack(stack)
    if self._get_param("Description") is not None:
        env.description = self._get_param("Description")
    env.options = options
    env.status, env.settle_to = "Updating", "Ready"
    env.date_updated = _now()
    _event(backend, "Environment update is starting.", env=env)
    if label:
        env.version_label = label
        _event(backend, f"Deploying new version to instance(s): {label}.", env=env)
        env.settle_message = "New application version was deployed to running EC2 instances."
    else:
        env.settle_message = "Environment update completed successfully."
    return ActionResult(_env_description(env))


def terminate_environment(self: EBResponse) -> ActionResult:
    """TerminateEnvironment: ``Terminating`` now, ``Terminated`` at the next read."""
    backend = _backend(self)
    env = _find_env(self, self._get_param("EnvironmentId"), self._get_param("EnvironmentName"))
    env.status, env.settle_to = "Terminating", "Terminated"
    env.settle_message = "terminateEnvironment completed successfully."
    env.date_updated = _now()
    _event(backend, "terminateEnvironment is starting.", env=env)
    return ActionResult(_env_description(env))


def swap_environment_cnames(self: EBResponse) -> ActionResult:
    """SwapEnvironmentCNAMEs between two running environments."""
    backend = _backend(self)
    src = _find_env(self, self._get_param("SourceEnvironmentId"), self._get_param("SourceEnvironmentName"))
    dst = _find_env(self, self._get_param("DestinationEnvironmentId"), self._get_param("DestinationEnvironmentName"))
    if src is dst:
        raise InvalidParameterValueError("Source and destination environments must differ.")
    src.cname, dst.cname = dst.cname, src.cname
    for env in (src, dst):
        _event(backend, "Completed swapping CNAMEs for environments "
               f"'{src.environment_name}' and '{dst.environment_name}'.", env=env)
    return EmptyResult()


def describe_events(self: EBResponse) -> ActionResult:
    """DescribeEvents, newest first, with EB's filters and paging."""
    backend = _backend(self)
    _settle(backend)
    filters = {
        "ApplicationName": self._get_param("ApplicationName"),
        "VersionLabel": self._get_param("VersionLabel"),
        "TemplateName": self._get_param("TemplateName"),
        "EnvironmentName": self._get_param("EnvironmentName"),
    }
    env_id = self._get_param("EnvironmentId")
    severity_order = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
    min_sev = self._get_param("Severity")
    start, end = self._get_param("StartTime"), self._get_param("EndTime")
    items = []
    for e in reversed(_events(backend)):
        if any(val and e.get(k) != val for k, val in filters.items()):
            continue
        if env_id and e.get("ck_env_id") != env_id:
            continue
        if min_sev and severity_order.index(e["Severity"]) < severity_order.index(min_sev):
            continue
        if start and e["EventDate"] < _as_datetime(start):
            continue
        if end and e["EventDate"] >= _as_datetime(end):
            continue
        items.append({k: v for k, v in e.items() if not k.startswith("ck_")})
    page, token = _page(items, self._get_param("MaxRecords"), self._get_param("NextToken"))
    out: dict[str, Any] = {"Events": page}
    if token:
        out["NextToken"] = token
    return ActionResult(out)


def create_configuration_template(self: EBResponse) -> ActionResult:
    """CreateConfigurationTemplate from a stack, another template or a running environment."""
    backend = _backend(self)
    _settle(backend)
    app = _app(self, self._get_param("ApplicationName"))
    name = self._get_param("TemplateName")
    if not name:
        raise InvalidParameterValueError("TemplateName is required.")
    if name in _templates(app):
        raise InvalidParameterValueError(f"Configuration Template {name} already exists.")
    stack_name = self._get_param("SolutionStackName")
    options: dict[tuple[str, str], str] = dict(DEFAULT_OPTIONS)
    env_id = self._get_param("EnvironmentId")
    source = self._get_param("SourceConfiguration") or {}
    if env_id:
        env = _find_env(self, env_id, None)
        options = dict(env.options)
        stack_name = stack_name or env.solution_stack_name
    elif source.get("TemplateName"):
        src_app = _app(self, source.get("ApplicationName") or app.application_name)
        tpl = _templates(src_app).get(source["TemplateName"])
        if tpl is None:
            raise InvalidParameterValueError(f"No Configuration Template named '{source['TemplateName']}' found.")
        options = dict(tpl["options"])
        stack_name = stack_name or tpl["SolutionStackName"]
    if not stack_name:
        raise InvalidParameterValueError("A SolutionStackName, a SourceConfiguration or an EnvironmentId is required.")
    options.update(_parse_options(self._get_param("OptionSettings")))
    _check_instance_counts(options)
    now = _now()
    template = {
        "TemplateName": name,
        "SolutionStackName": _stack(stack_name),
        "Description": self._get_param("Description"),
        "DateCreated": now,
        "DateUpdated": now,
        "options": options,
    }
    _templates(app)[name] = template
    _event(backend, f"Created configuration template: {name}.", app=app.application_name, template=name)
    return ActionResult(_template_description(app, template))


def describe_configuration_settings(self: EBResponse) -> ActionResult:
    """DescribeConfigurationSettings of a template or of an environment."""
    backend = _backend(self)
    _settle(backend)
    app = _app(self, self._get_param("ApplicationName"))
    template_name = self._get_param("TemplateName")
    env_name = self._get_param("EnvironmentName")
    if template_name and env_name:
        raise InvalidParameterCombinationError("Specify a TemplateName or an EnvironmentName, not both.")
    if template_name:
        tpl = _templates(app).get(template_name)
        if tpl is None:
            raise InvalidParameterValueError(f"No Configuration Template named '{app.application_name}/{template_name}' found.")
        return ActionResult({"ConfigurationSettings": [_template_description(app, tpl)]})
    if not env_name:
        raise InvalidParameterValueError("Either TemplateName or EnvironmentName must be specified.")
    env = _find_env(self, None, env_name)
    desc = {
        "ApplicationName": app.application_name,
        "EnvironmentName": env.environment_name,
        "SolutionStackName": env.solution_stack_name,
        "DeploymentStatus": "deployed",
        "DateCreated": env.date_created,
        "DateUpdated": env.date_updated,
        "OptionSettings": _option_list(env.options),
    }
    if env.template_name:
        desc["TemplateName"] = env.template_name
    return ActionResult({"ConfigurationSettings": [desc]})


def delete_configuration_template(self: EBResponse) -> ActionResult:
    """DeleteConfigurationTemplate."""
    backend = _backend(self)
    app = _app(self, self._get_param("ApplicationName"))
    name = self._get_param("TemplateName")
    if _templates(app).pop(name, None) is None:
        raise InvalidParameterValueError(f"No Configuration Template named '{app.application_name}/{name}' found.")
    _event(backend, f"Deleted configuration template: {name}.", app=app.application_name, template=name)
    return EmptyResult()


def create_storage_location(self: EBResponse) -> ActionResult:
    """CreateStorageLocation: EB's bucket for source bundles, created in moto's S3 when missing."""
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    name = f"elasticbeanstalk-{self.region}-{self.current_account}"
    s3 = s3_backends[self.current_account][get_partition(self.region)]
    if name not in s3.buckets:
        s3.create_bucket(name, self.region)
    return ActionResult({"S3Bucket": name})


# --------------------------------------------------------------------------- logs and rebuilds

LOG_FILES = ("var/log/eb-engine.log", "var/log/web.stdout.log")


def _instances(env: _Env) -> list[str]:
    """The environment's simulated EC2 instances: ``MinSize`` of them, made on first use, replaced by a rebuild."""
    want = int(env.options.get(("aws:autoscaling:asg", "MinSize"), "1") or 1)
    ids: list[str] = getattr(env, "ck_instances", [])
    while len(ids) < want:
        ids.append("i-" + _rand(17))
    env.ck_instances = ids[:want]  # type: ignore[attr-defined]
    return env.ck_instances  # type: ignore[attr-defined,no-any-return]


def _log_text(backend: eb_models.EBBackend, env: _Env, instance: str, path: str) -> str:
    """What the simulated instance wrote: its environment's events, one line each, in ``path``'s style."""
    lines = []
    for e in _events(backend):
        if e.get("ck_env_id") != env.environment_id:
            continue
        stamp = e["EventDate"].strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
        if path.endswith("web.stdout.log"):
            lines.append(f"{stamp} {instance} web[1]: {e['Message']}")
        else:
            lines.append(f"{stamp} [{e['Severity']}] {e['Message']}")
    return "\n".join(lines) + "\n"


def _presign(host: str, region: str, bucket: str, key: str) -> str:
    """A presigned GET URL of the object on this moto server, as EB hands out (a placeholder key signs it)."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=f"http://{host}", region_name=region, aws_access_key_id="harness",
                      aws_secret_access_key="harness", config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    return str(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900))


def request_environment_info(self: EBResponse) -> ActionResult:
    """RequestEnvironmentInfo: each instance puts its ``tail`` (text) or ``bundle`` (zip) in EB's bucket at once."""
    import io
    import zipfile

    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    backend = _backend(self)
    _settle(backend)
    env = _find_env(self, self._get_param("EnvironmentId"), self._get_param("EnvironmentName"))
    info_type = self._get_param("InfoType")
    if info_type not in ("tail", "bundle"):
        raise InvalidParameterValueError(f"Invalid InfoType '{info_type}': must be tail or bundle.")
    if env.status != "Ready":
        raise InvalidParameterValueError(
            f"Environment named {env.environment_name} is in an invalid state for this operation. Must be Ready."
        )
    bucket = f"elasticbeanstalk-{self.region}-{self.current_account}"
    s3 = s3_backends[self.current_account][get_partition(self.region)]
    if bucket not in s3.buckets:
        s3.create_bucket(bucket, self.region)
    host = self.headers.get("Host") or "127.0.0.1"
    now = _now()
    found: list[dict[str, Any]] = []
    _event(backend, "requestEnvironmentInfo is starting.", env=env)
    for instance in _instances(env):
        texts = {path: _log_text(backend, env, instance, path) for path in LOG_FILES}
        if info_type == "tail":
            body = "".join(f"----------------------------------------\n/{path}\n----------------------------------------\n"
                           + "".join(text.splitlines(keepends=True)[-100:]) for path, text in texts.items()).encode()
            suffix = "txt"
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                for path, text in texts.items():
                    zf.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), text)
            body, suffix = buf.getvalue(), "zip"
        key = (f"resources/environments/logs/{info_type}/{env.environment_id}/{instance}/"
               f"{instance}-{now.strftime('%Y%m%dT%H%M%S')}-{_rand(6)}.{suffix}")
        s3.put_object(bucket, key, body)
        found.append({"InfoType": info_type, "Ec2InstanceId": instance, "SampleTimestamp": now,
                      "Message": _presign(host, self.region, bucket, key)})
    info: dict[str, list[dict[str, Any]]] = getattr(env, "ck_info", {})
    info[info_type] = found  # the newest sample replaces the previous one, instance by instance
    env.ck_info = info  # type: ignore[attr-defined]
    _event(backend, "Pulled logs for environment instances.", env=env)
    return EmptyResult()


def retrieve_environment_info(self: EBResponse) -> ActionResult:
    """RetrieveEnvironmentInfo: the last samples RequestEnvironmentInfo made, with their URLs."""
    backend = _backend(self)
    _settle(backend)
    env = _find_env(self, self._get_param("EnvironmentId"), self._get_param("EnvironmentName"))
    info_type = self._get_param("InfoType")
    if info_type not in ("tail", "bundle"):
        raise InvalidParameterValueError(f"Invalid InfoType '{info_type}': must be tail or bundle.")
    return ActionResult({"EnvironmentInfo": list(getattr(env, "ck_info", {}).get(info_type, []))})


def rebuild_environment(self: EBResponse) -> ActionResult:
    """RebuildEnvironment: every instance replaced (``Updating`` now, ``Ready`` at the next read)."""
    backend = _backend(self)
    _settle(backend)
    env = _find_env(self, self._get_param("EnvironmentId"), self._get_param("EnvironmentName"))
    if env.status != "Ready":
        raise InvalidParameterValueError(
            f"Environment named {env.environment_name} is in an invalid state for this operation. Must be Ready."
        )
    env.ck_instances = []  # type: ignore[attr-defined]
    _instances(env)
    env.status, env.settle_to = "Updating", "Ready"
    env.settle_message = "rebuildEnvironment completed successfully."
    env.date_updated = _now()
    _event(backend, "rebuildEnvironment is starting.", env=env)
    return EmptyResult()


ACTIONS = {
    "create_storage_location": create_storage_location,
    "create_application": create_application,
    "describe_applications": describe_applications,
    "delete_application": delete_application,
    "create_application_version": create_application_version,
    "describe_application_versions": describe_application_versions,
    "delete_application_version": delete_application_version,
    "create_environment": create_environment,
    "describe_environments": describe_environments,
    "update_environment": update_environment,
    "terminate_environment": terminate_environment,
    "swap_environment_cnam_es": swap_environment_cnames,  # moto's snake_case of SwapEnvironmentCNAMEs
    "describe_events": describe_events,
    "create_configuration_template": create_configuration_template,
    "describe_configuration_settings": describe_configuration_settings,
    "delete_configuration_template": delete_configuration_template,
    "request_environment_info": request_environment_info,
    "retrieve_environment_info": retrieve_environment_info,
    "rebuild_environment": rebuild_environment,
}


def install() -> None:
    """Add the actions to moto's Elastic Beanstalk response class (idempotent)."""
    global _installed
    if _installed:
        return
    for name, func in ACTIONS.items():
        setattr(EBResponse, name, func)
    _installed = True
