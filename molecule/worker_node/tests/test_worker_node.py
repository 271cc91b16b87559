"""A worker node: the roles together (each role's own scenario tests it in depth)."""


def test_agent_running_and_enabled(host):
    service = host.service("amazon-cloudwatch-agent")
    assert service.is_running
    assert service.is_enabled


def test_ffmpeg_encodes_as_the_service_user(host):
    out = host.run(
        "runuser -u streamstack -- ffmpeg -hide_banner -nostdin -v error -f lavfi "
        "-i testsrc2=size=160x120:rate=10 -t 1 -c:v libx264 -f null -"
    )
    assert out.rc == 0, out.stderr


def test_worker_running_and_enabled(host):
    service = host.service("streamapp-worker")
    assert service.is_running
    assert service.is_enabled
    pid = host.check_output("systemctl show -p MainPID --value streamapp-worker")
    assert host.check_output(f"ps -o user= -p {pid}") == "streamapp"


def test_worker_node_runs_no_api(host):
    assert not host.service("streamapp-api").is_running
    assert not host.socket("tcp://127.0.0.1:8000").is_listening


def test_app_env_file_mode(host):
    env = host.file("/etc/streamapp/streamapp.env")
    assert (env.user, env.group, env.mode) == ("root", "streamapp", 0o640)


def test_no_nginx_on_a_worker(host):
    assert not host.package("nginx").is_installed


def test_no_failed_units(host):
    assert host.check_output("systemctl --failed --no-legend --plain") == ""
