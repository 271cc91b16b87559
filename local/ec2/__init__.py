"""The local EC2: a podman host for each instance the emulator runs (hosts.py), kept in step
in the background by `python -m local.ec2`."""
