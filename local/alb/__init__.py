"""The local load balancer: haproxy in the ALB's place (haproxy.py), run in the background by
`python -m local.alb` with its pool following the emulator's target group."""
