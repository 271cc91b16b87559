"""STAND-IN for Elastic Beanstalk's Python platform (issue 20): what runs the app's source
bundle on this machine when an environment of the emulated Elastic Beanstalk is Ready with a
deployed version. Not AWS's platform: podman hosts built like the test hosts, with our own
stand-ins for the platform's deployment engine and the worker tier's SQS daemon.

image.py builds the instance image, platform/ holds what goes into it (engine, sqsd, nginx),
instances.py launches stand-in instances and deploys bundles onto them. README.md describes it
and what it does not reproduce.
"""
