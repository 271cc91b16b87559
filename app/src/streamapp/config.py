"""Configuration from ``STREAMAPP_*`` environment variables (the file the Ansible role writes).

Secrets may come inline (``STREAMAPP_X``), from Secrets Manager (``STREAMAPP_X_SECRET_ARN``) or
from SSM Parameter Store (``STREAMAPP_X_PARAMETER``); see :mod:`streamapp.secrets`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class VideoRung:
    height: int
    video_kbps: int

    @property
    def name(self) -> str:
        return f"{self.height}p"


@dataclass(frozen=True)
class AudioRung:
    kbps: int

    @property
    def name(self) -> str:
        return f"a{self.kbps}k"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STREAMAPP_", extra="ignore")

    # Database: the URL may omit the password, which then comes from a secret (RDS-managed
    # secrets hold JSON with a "password" key; that is understood too, and the JSON's
    # "username", when present, is the user: Secrets Manager's alternating-users rotation
    # switches between two users). A connection refused for its credentials reads the secret
    # again (a rotation changed them) and retries once.
    database_url: str = "postgresql+psycopg://streamapp@127.0.0.1:5432/streamapp"
    database_password: str | None = None
    database_password_secret_arn: str | None = None
    database_password_parameter: str | None = None
    database_connect_timeout: int = 3
    # TLS to the database (libpq's sslmode and root certificates): on AWS verify-full with the
    # RDS CA bundle, so the server must prove it is the endpoint named in the URL.
    database_sslmode: Literal[
        "disable", "allow", "prefer", "require", "verify-ca", "verify-full"
    ] = "prefer"
    database_sslrootcert: str | None = None

    # AWS: empty endpoint on real AWS; the emulator's URL locally.
    aws_region: str = Field(
        default_factory=lambda: (
            os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
        )
    )
    aws_endpoint_url: str | None = None
    # Named by provisioning (<platform>-<env>-media, -sessions): no guessed default; the API and
    # the worker refuse to start without them (require_resources), migrations need neither.
    media_bucket: str = ""
    # Key prefixes in the bucket (the provisioning's media_prefixes; each ends with "/").
    source_prefix: str = Field(default="sources/", pattern=r"^[A-Za-z0-9_.-]+/$")
    hls_prefix: str = Field(default="hls/", pattern=r"^[A-Za-z0-9_.-]+/$")
    thumbs_prefix: str = Field(default="thumbs/", pattern=r"^[A-Za-z0-9_.-]+/$")
    sessions_table: str = ""
    jobs_queue_url: str = ""
    jobs_dlq_url: str | None = None

    # Playback signing.
    signing_mode: Literal["local", "cloudfront"] = "local"
    url_ttl_seconds: int = Field(default=900, ge=10, le=7 * 24 * 3600)
    public_media_base_url: str = "http://127.0.0.1"
    signing_secret: str | None = None
    signing_secret_secret_arn: str | None = None
    signing_secret_parameter: str | None = None
    cloudfront_domain: str | None = None
    cloudfront_key_pair_id: str | None = None
    cloudfront_private_key: str | None = None
    cloudfront_private_key_secret_arn: str | None = None
    cloudfront_private_key_parameter: str | None = None

    # Accounts.
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)  # from sign-in, at most
    session_idle_seconds: int = Field(default=24 * 3600, ge=60)  # unused this long: ended
    session_cache_seconds: float = Field(default=5.0, ge=0, le=60)  # in-process lookup cache
    session_cookie_name: str = "streamapp_session"
    session_cookie_secure: bool = False
    default_role: Literal["viewer", "uploader"] = "viewer"
    # Sign-in attempts per e-mail address (streamapp.lockout): this many at once, then each
    # waits 1, 2, 4 ... seconds, at most the maximum; a count idle this long starts over.
    login_free_attempts: int = Field(default=5, ge=1)
    login_backoff_max_seconds: int = Field(default=900, ge=1)
    login_window_seconds: int = Field(default=3600, ge=60)

    # Catalog searches one client may make per minute and API process (streamapp.ratelimit).
    search_rate_per_minute: int = Field(default=30, ge=1)

    # Upload and media.
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1024)
    # Per user within any 24 hours (streamapp.quotas): uploads, their bytes, retries; and the
    # retries of one item.
    uploads_per_day: int = Field(default=20, ge=1)
    upload_bytes_per_day: int = Field(default=10 * 1024**3, ge=1024)
    retries_per_day: int = Field(default=10, ge=1)
    retries_per_item: int = Field(default=3, ge=0)
    upload_tmp_dir: str | None = None
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    probe_timeout_seconds: int = 30
    # Untrusted media: the ffmpeg demuxers an upload may be (never a playlist or list format
    # such as hls, dash or concat, whose entries ffmpeg would open as files or URLs), and caps
    # checked before anything is stored or transcoded.
    accepted_formats: str = "mov,matroska,webm,mpegts,avi,mpeg,mp3,aac,wav,flac,ogg"
    max_width: int = Field(default=3840, ge=16)  # the picture's long side
    max_height: int = Field(default=2160, ge=16)  # its short side
    max_duration_seconds: int = Field(default=3 * 3600, ge=1)
    max_fps: float = Field(default=120.0, gt=0)
    max_streams: int = Field(default=8, ge=1)
    # ffprobe/trial decodes one API process runs at a time (more uploads wait, then get 503).
    max_concurrent_probes: int = Field(default=2, ge=1)
    # Address space a probe (ffprobe, trial decode) may map, bytes (0: no limit); also its own
    # cgroup's memory.max where it gets one (below).
    probe_memory_limit: int = Field(default=4 * 1024**3, ge=0)
    # In a delegated cgroup (systemd Delegate=; streamapp.cgroups) every ffmpeg/ffprobe that
    # reads an upload runs in a cgroup of its own: the ladder's ffmpeg with at most this memory
    # (bytes, or with K/M/G/T, or a percentage of the host's RAM; 0: the unit's limit only),
    # each with at most this share of all the CPUs (percent; 0: the unit's) and this many tasks
    # (threads; 0: the unit's). Below the unit's own limits, so the worker keeps room to report.
    ffmpeg_memory_max: str = Field(
        default="70%", pattern=r"^(0|[1-9][0-9]*[KMGT]?|([1-9][0-9]?|100)%)$"
    )
    ffmpeg_cpu_quota_percent: int = Field(default=90, ge=0, le=100)
    ffmpeg_tasks_max: int = Field(default=192, ge=0)
    video_rungs: str = "1080:5000,720:2800,480:1400,360:800"  # height:video kbps
    audio_rungs: str = "192,128,64"  # AAC kbps
    hls_segment_seconds: int = Field(default=4, ge=1, le=30)
    x264_preset: str = "veryfast"
    ffmpeg_threads: int = 0

    # Worker.
    worker_wait_seconds: int = Field(default=20, ge=0, le=20)
    worker_visibility_timeout: int = Field(default=120, ge=10)
    job_max_attempts: int = Field(default=3, ge=1)  # = the queue's redrive maxReceiveCount
    retry_delay_seconds: int = Field(default=30, ge=0, le=43200)
    transcode_timeout_seconds: int = Field(default=4 * 3600, ge=10)
    work_dir: str | None = None
    # Elastic Beanstalk's worker environment: the path its SQS daemon (sqsd) POSTs each job to
    # (the environment's aws:elasticbeanstalk:sqsd HttpPath; streamapp.api.sqsd). Empty: no
    # such route, as on the web tier, which must never run jobs a viewer posts.
    sqsd_path: str = Field(default="", pattern=r"^(/[A-Za-z0-9._~-]+)*$")

    # Operations.
    # /metrics, /docs, /redoc and /openapi.json: "internal" serves them only to requests made
    # on this host straight to the app's port (a proxy such as nginx adds X-Forwarded-For:
    # never through it), "off" to no one, "public" to anyone (development only).
    ops_endpoints: Literal["internal", "off", "public"] = "internal"
    log_level: str = "INFO"
    # Diagnostics: append each AWS (service, operation) this process calls to this file.
    aws_call_log: str | None = None
    log_file: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=2, ge=1)

    @field_validator(
        "aws_endpoint_url",
        "jobs_dlq_url",
        "log_file",
        "work_dir",
        "upload_tmp_dir",
        "aws_call_log",
        "database_sslrootcert",
    )
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("cloudfront_domain")
    @classmethod
    def _cloudfront_domain(cls, value: str | None) -> str | None:
        """The distribution's domain (or alias): viewers reach it over HTTPS. A plain http://
        base is a local CloudFront stand-in on this machine's loopback only (the emulator's
        edge, for the local Elastic Beanstalk stand-in), never a real viewer's address."""
        if value and value.startswith("http://"):
            host = urlsplit(value).hostname or ""
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise ValueError(
                    "STREAMAPP_CLOUDFRONT_DOMAIN is the distribution's domain (viewers use "
                    f"HTTPS); http:// is for a local stand-in on 127.0.0.1 only (got {value})"
                )
        return value or None

    def video_ladder(self) -> list[VideoRung]:
        rungs = []
        for part in filter(None, (p.strip() for p in self.video_rungs.split(","))):
            height, kbps = part.split(":")
            rungs.append(VideoRung(int(height), int(kbps)))
        return sorted(rungs, key=lambda r: r.height, reverse=True)

    def audio_ladder(self) -> list[AudioRung]:
        rungs = [AudioRung(int(p)) for p in self.audio_rungs.split(",") if p.strip()]
        return sorted(rungs, key=lambda r: r.kbps, reverse=True)


def require_resources(settings: Settings) -> None:
    """The AWS resources the API and the worker use are named: a missing name is an error at
    start, naming the variable, not a call to a bucket or table of a guessed name."""
    missing = [
        f"STREAMAPP_{name.upper()}"
        for name in ("media_bucket", "sessions_table")
        if not getattr(settings, name)
    ]
    if missing:
        raise ValueError(f"{' and '.join(missing)} must be set (provisioning's outputs name them)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env_file = os.environ.get("STREAMAPP_ENV_FILE")
    return Settings(_env_file=env_file) if env_file else Settings()  # type: ignore[call-arg]
