#!/usr/bin/env python3
"""STAND-IN for Elastic Beanstalk's deployment engine (eb-engine) on the Amazon Linux 2023
Python platform, run on a stand-in instance (local/beanstalk/): not AWS's code.

    engine.py deploy    # the bundle and settings in /opt/elasticbeanstalk/deployment/incoming/

What an instance of the AL2023 Python platform does with a source bundle, in its order
(Elastic Beanstalk Developer Guide, "Instance deployment workflow"):

 1. the bundle is extracted into /var/app/staging/
 2. .platform/hooks/prebuild/* run (executable files, in lexical order; cwd the staging folder)
 3. the Python dependencies: requirements.txt into a new virtualenv, /var/app/venv/staging-*/
 4. the proxy: .platform/nginx/nginx.conf replaces nginx's main file, .platform/nginx/conf.d/*
    join /etc/nginx/conf.d/ (its elasticbeanstalk/ folder holds the platform's own server
    parts); `nginx -t` must pass
 5. .platform/hooks/predeploy/* run
 6. /var/app/staging/ becomes /var/app/current/ (the previous one goes)
 7. the Procfile's processes run as systemd units (``web.service``, ``<name>.service`` for
    others; their output in /var/log/<name>.stdout.log) as user webapp, with the environment
    properties in their environment (/opt/elasticbeanstalk/deployment/env) and the venv's bin
    first on PATH; nginx (re)loads;
    the worker tier's SQS daemon (aws-sqsd.service) starts with its settings
 8. .platform/hooks/postdeploy/* run
Hooks get the deployment's environment properties from get-config (platform/get_config.py)
and write their output to /var/log/eb-hooks.log.
A failing step fails the deployment (exit status 1, the step in /var/log/eb-engine.log); the
previous /var/app/current keeps running when it fails before step 6.

incoming/config.json: {"tier": "WebServer"|"Worker", "version_label", "platform_arn",
"environment": {name: value} (aws:elasticbeanstalk:application:environment), "sqsd":
{option: value} (aws:elasticbeanstalk:sqsd, the worker's)}; incoming/bundle.zip.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

EB = Path("/opt/elasticbeanstalk")
INCOMING = EB / "deployment" / "incoming"
ENV_FILE = EB / "deployment" / "env"
DEPLOYED = EB / "deployment" / "deployed.json"
STAGING = Path("/var/app/staging")
CURRENT = Path("/var/app/current")
VENVS = Path("/var/app/venv")
NGINX = Path("/etc/nginx")
UNITS = Path("/etc/systemd/system")
LOG = Path("/var/log/eb-engine.log")
HOOKS_LOG = Path("/var/log/eb-hooks.log")
SQSD_CONFIG = Path("/etc/aws-sqsd.d/default.json")
USER = "webapp"


class StepFailed(RuntimeError):
    pass


def log(message: str) -> None:
    line = f"{time.strftime('%Y/%m/%d %H:%M:%S')} [INFO] {message}"
    with LOG.open("a") as handle:
        handle.write(line + "\n")
    print(line, flush=True)


def run(argv: list[str], step: str, output: Path = LOG, **kwargs) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    with output.open("a") as handle:
        handle.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise StepFailed(
            f"{step}: {' '.join(argv)} exited {proc.returncode}: {proc.stderr[-1500:]}"
        )


def hooks(kind: str, folder: Path) -> None:
    """The executable files of .platform/hooks/<kind>/, in lexical order."""
    hook_dir = folder / ".platform" / "hooks" / kind
    if not hook_dir.is_dir():
        return
    for hook in sorted(p for p in hook_dir.iterdir() if p.is_file()):
        if not os.access(hook, os.X_OK):
            log(f"hook {kind}/{hook.name} is not executable: skipped (as the platform does)")
            continue
        log(f"running hook {kind}/{hook.name}")
        run([str(hook)], f"{kind} hook {hook.name}", output=HOOKS_LOG, cwd=folder)


def extract(bundle: Path) -> None:
    shutil.rmtree(STAGING, ignore_errors=True)
    STAGING.mkdir(parents=True)
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            archive.extract(info, STAGING)
            mode = info.external_attr >> 16
            if mode:
                (STAGING / info.filename).chmod(mode & 0o7777)
    log(f"extracted {bundle} into {STAGING}")


def dependencies() -> Path:
    """A new virtualenv with requirements.txt (the platform's Python; pip's cache is kept)."""
    venv = VENVS / f"staging-{os.urandom(4).hex()}"
    run([sys.executable, "-m", "venv", str(venv)], "create the virtualenv")
    requirements = STAGING / "requirements.txt"
    if requirements.is_file():
        log(f"installing requirements.txt into {venv}")
        pip = [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check"]
        run([*pip, "-r", str(requirements)], "install dependencies", cwd=STAGING)
    return venv


def proxy() -> None:
    """The bundle's .platform/nginx over the platform's nginx configuration."""
    ours = STAGING / ".platform" / "nginx"
    for old in (NGINX / "conf.d").glob("*.conf"):
        old.unlink()  # the previous bundle's
    if (ours / "nginx.conf").is_file():
        shutil.copy(ours / "nginx.conf", NGINX / "nginx.conf")
    else:
        shutil.copy(EB / "platform" / "nginx.conf", NGINX / "nginx.conf")
    for conf in sorted((ours / "conf.d").glob("*.conf")) if (ours / "conf.d").is_dir() else []:
        shutil.copy(conf, NGINX / "conf.d" / conf.name)
    extra = ours / "conf.d" / "elasticbeanstalk"
    if extra.is_dir():
        for conf in sorted(extra.glob("*.conf")):
            shutil.copy(conf, NGINX / "conf.d" / "elasticbeanstalk" / conf.name)
    run(["nginx", "-t"], "nginx configuration")


def processes(venv: Path, environment: dict[str, str]) -> list[str]:
    """A systemd unit per Procfile process (web: the one nginx proxies to)."""
    procfile = CURRENT / "Procfile"
    commands: dict[str, str] = {}
    if procfile.is_file():
        for line in procfile.read_text().splitlines():
            name, sep, command = line.partition(":")
            if sep and name.strip() and not line.lstrip().startswith("#"):
                commands[name.strip()] = command.strip()
    if "web" not in commands:
        # The platform's default without a Procfile: gunicorn on application:application.
        commands["web"] = "gunicorn --bind 127.0.0.1:8000 application:application"
    lines = [f"{k}={v}" for k, v in sorted(environment.items())]
    lines.append(f"PATH={venv}/bin:/usr/local/bin:/usr/bin:/bin")
    ENV_FILE.write_text("\n".join(lines) + "\n")
    ENV_FILE.chmod(0o640)
    shutil.chown(ENV_FILE, "root", USER)
    units = []
    for name, command in commands.items():
        unit = UNITS / f"{name}.service"
        unit.write_text(
            "# Written by the Elastic Beanstalk stand-in's engine (local/beanstalk/).\n"
            f"[Unit]\nDescription=This is {name} daemon\nAfter=network.target\n\n"
            f"[Service]\nUser={USER}\nGroup={USER}\nWorkingDirectory={CURRENT}\n"
            f"EnvironmentFile={ENV_FILE}\n"
            f"ExecStart=/bin/sh -c {shlex.quote('exec ' + command)}\n"
            # The platform's log of the process (its stdout and stderr).
            f"StandardOutput=append:/var/log/{name}.stdout.log\nStandardError=inherit\n"
            "Restart=always\nKillMode=mixed\nTimeoutStopSec=30\n\n"
            "[Install]\nWantedBy=multi-user.target\n"
        )
        units.append(f"{name}.service")
    return units


def deploy() -> int:
    config = json.loads((INCOMING / "config.json").read_text())
    log(f"deploying {config.get('version_label')} ({config.get('tier')})")
    try:
        extract(INCOMING / "bundle.zip")
        hooks("prebuild", STAGING)
        venv = dependencies()
        proxy()
        hooks("predeploy", STAGING)
        old = CURRENT.with_name("current.old")
        shutil.rmtree(old, ignore_errors=True)
        if CURRENT.exists():
            CURRENT.rename(old)
        STAGING.rename(CURRENT)
        shutil.rmtree(old, ignore_errors=True)
        run(["chown", "-R", f"{USER}:{USER}", str(CURRENT)], "own the app")
        units = processes(venv, config.get("environment") or {})
        run(["systemctl", "daemon-reload"], "systemd")
        run(["systemctl", "enable", *units], "enable the processes")
        run(["systemctl", "restart", *units], "start the processes")
        run(["systemctl", "reload-or-restart", "nginx"], "nginx")
        if config.get("tier") == "Worker":
            SQSD_CONFIG.parent.mkdir(parents=True, exist_ok=True)
            SQSD_CONFIG.write_text(json.dumps(config.get("sqsd") or {}, indent=2))
            run(["systemctl", "enable", "aws-sqsd.service"], "enable the SQS daemon")
            run(["systemctl", "restart", "aws-sqsd.service"], "start the SQS daemon")
        hooks("postdeploy", CURRENT)
        for stale in VENVS.glob("staging-*"):
            if stale != venv:
                shutil.rmtree(stale, ignore_errors=True)
    except (StepFailed, OSError, zipfile.BadZipFile, ValueError) as exc:
        log(f"[ERROR] Instance deployment failed: {exc}")
        return 1
    DEPLOYED.write_text(
        json.dumps(
            {
                "version_label": config.get("version_label"),
                "platform_arn": config.get("platform_arn"),
                "deployed_at": time.time(),
            }
        )
    )
    log("Instance deployment completed successfully.")
    return 0


def main(argv: list[str]) -> int:
    if argv[1:] != ["deploy"]:
        print(__doc__, file=sys.stderr)
        return 2
    return deploy()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
