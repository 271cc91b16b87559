"""The local hosts: podman containers standing in for EC2 instances.

image.py builds the test-host image (a systemd Debian 12, the AMI's stand-in), fleet.py runs a
fleet's containers from it, bake.py saves configured hosts as images (the local golden images).
"""

# The podman label naming a host's fleet (and, with ".role", its role): how the fleet, the
# bakes and `make down` find the containers, never by name.
FLEET_LABEL = "org.streamstack.fleet"
