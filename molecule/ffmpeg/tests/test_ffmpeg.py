"""ffmpeg: distribution package, version, encoders, a real encode of generated media."""

import json

import pytest


@pytest.mark.parametrize("tool", ["ffmpeg", "ffprobe"])
def test_tools_installed(host, tool):
    assert host.exists(tool)
    assert host.run(f"{tool} -hide_banner -version").rc == 0


def test_distribution_package(host):
    pkg = host.package("ffmpeg")
    assert pkg.is_installed
    assert pkg.version.split(":")[-1] >= "5.1"


@pytest.mark.parametrize("encoder", ["libx264", "aac"])
def test_encoders(host, encoder):
    assert f" {encoder} " in host.check_output("ffmpeg -hide_banner -encoders")


def test_hls_encode_and_probe(host):
    """Two seconds of generated media into an HLS rendition, read back with ffprobe."""
    out = "/root/ffmpeg-verify"
    host.check_output(
        f"rm -rf {out} && mkdir -p {out} && ffmpeg -hide_banner -nostdin -v error "
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440 -t 2 "
        "-c:v libx264 -preset veryfast -c:a aac -f hls -hls_time 1 -hls_playlist_type vod "
        f"{out}/index.m3u8"
    )
    assert host.file(f"{out}/index.m3u8").contains("#EXT-X-ENDLIST")
    probe = json.loads(
        host.check_output(
            f"ffprobe -v error -show_entries stream=codec_name -of json {out}/index.m3u8"
        )
    )
    assert {s["codec_name"] for s in probe["streams"]} == {"h264", "aac"}
