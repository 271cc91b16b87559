# StreamStack: `make up` brings the platform up on the local emulator, `make test` tests it all.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
PYTEST_ARGS ?=

.PHONY: help deps venv up down test test-fleet test-beanstalk test-molecule test-ee ee lint lock docs bundle plan apply bake patch bench-provision bench-provision-realistic bench-patch bench-roles bench-app bench-up bench-asg

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## Install Debian packages and the venv (idempotent, fast when nothing changed)
	@scripts/bootstrap

venv: ## Only the venv (no Debian packages): what lint and deployments need
	@scripts/bootstrap venv

up: deps ## The platform on this machine: emulator, PostgreSQL, podman hosts, load balancer, samples (UP_* vars: local/README.md)
	@python -m local up

down: deps ## Remove everything `make up` started (containers, LB, emulator, PostgreSQL, state; caches stay)
	@python -m local down

test: deps ## Lint, then run every test: the podman-marked half and the others at once (tests/harness/halves.py)
	@$(MAKE) --no-print-directory lint
	python -m tests.harness.halves $(PYTEST_ARGS)

test-fleet: deps ## Only the whole-fleet end-to-end tests (part of make test): make up, a browser plays the samples, make down; make up UP_HOSTING=beanstalk
	pytest --durations=30 -m fleet $(PYTEST_ARGS)

test-beanstalk: deps ## Only the Elastic Beanstalk proofs (part of make test): emulation, modules, bundle, resources, platform update; the local stand-in's on podman (instances, rolling, make up UP_HOSTING=beanstalk)
	pytest --durations=10 -m beanstalk $(PYTEST_ARGS)

test-molecule: deps ## One role's Molecule scenario: make test-molecule SCENARIO=nginx (the pipelines' matrix)
	pytest --durations=30 "tests/roles/test_molecule.py::test_molecule_scenario[$(SCENARIO)]" $(PYTEST_ARGS)

ee: deps ## The execution environment image, built offline with podman (execution-environment.yml; README)
	python scripts/ee.py build

test-ee: ee ## The image's test (not in make test): ansible-navigator runs provision.yml in it against the emulator
	pytest --durations=10 -m ee $(PYTEST_ARGS)

lint: ## yamllint, ansible-lint (production profile), ruff, parliament on the rendered IAM policies, the CI pipelines
	yamllint --strict .
	ansible-lint -q
	ruff check .
	ruff format --check .
	python -m tests.harness.iam_render lint
	actionlint .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml

# What the pipelines run against an environment (README "Run from CI"), with its CI role's
# credentials: make plan|apply|bake|patch ENV=staging (patch: PATCH_BATCH, PATCH_LIMIT, PATCH_CHECK).
plan: ## provision.yml --check --diff of ENV, the plan as Markdown (job summary, plan.md)
	scripts/deploy plan $(ENV)

apply: ## provision.yml on ENV, then beanstalk_migrate.yml (app_hosting: beanstalk)
	scripts/deploy apply $(ENV)

bake: ## bake.yml on ENV: golden images when the hosts' sources changed, instance refresh
	scripts/deploy bake $(ENV)

patch: ## patch.yml on ENV: rolling patch (PATCH_BATCH, PATCH_LIMIT, PATCH_CHECK=true)
	scripts/deploy patch $(ENV)

bundle: deps ## The app as an Elastic Beanstalk source bundle in build/beanstalk/ (BUNDLE_INVENTORY, default inventories/local)
	ansible-playbook -i $(or $(BUNDLE_INVENTORY),inventories/local) playbooks/bundle.yml

lock: ## Re-pin requirements.txt from requirements.in and app/pyproject.toml
	@scripts/lock

docs: deps ## Render the diagrams (docs/*.dot, graphviz) and the benchmark plot (docs/benchmarks.json)
	for f in docs/*.dot; do dot -Tsvg "$$f" -o "$${f%.dot}.svg"; done
	python bench/plot.py

bench-provision: deps ## Provision on the emulator: first run, no-op, --check --diff; ours beside the naive anchor (bench/anchor)
	python bench/provision.py

bench-provision-realistic: deps ## First provision in the emulator's realistic mode (AWS's durations) beside its critical path and the sequential sum; draws docs/provision_timeline.svg
	python bench/provision_realistic.py $(BENCH_ARGS)

bench-roles: deps ## Host roles on a fresh podman host (web and worker node): converge, no-op re-converge, --check
	python bench/roles.py

bench-app: deps ## Ladder (single-decode vs per-rung ffmpeg) and API latency (200 req/s) benchmarks
	rc=0; python bench/ladder.py || rc=1; python bench/api.py || rc=1; exit $$rc

bench-patch: deps ## Rolling patch wall time: 3 and 6 podman hosts, serial 1 and 2
	python bench/patch.py

bench-up: deps ## make up with no baked hosts, make down, make up again from the baked hosts (own fleet and state)
	python bench/up.py

bench-asg: deps ## Launch-to-serving seconds of the local Auto Scaling groups: scale-out and replacement (own fleet)
	python bench/asg.py
