"""The compiled-template cache of streamstack.aws.warm_controller (plugin_utils/template_code.py):
ansible-core's templating renders the same with it, a template compiled once is not parsed again
(in this process or, from the folder, in the next), and what changes the compiled code
(delimiters, backslash escaping) is part of the key."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jinja2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[7]))  # the repository's collections/
from ansible._internal._templating._engine import TemplateEngine, TemplateOptions
from ansible._internal._templating._jinja_bits import TemplateOverrides
from ansible.template import trust_as_template
from ansible_collections.streamstack.aws.plugins.plugin_utils import template_code

COLLECTIONS = str(Path(__file__).resolve().parents[7])


def render(source: str, variables: dict, options: TemplateOptions | None = None):
    engine = TemplateEngine(variables=variables)
    return engine.template(trust_as_template(source), options=options or TemplateOptions.DEFAULT)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(template_code, "_folder", template_code._folder)  # put back after
    monkeypatch.setattr(template_code, "_memory", {})
    return Path(template_code.install(str(tmp_path / "template-code")))


def parses(monkeypatch) -> list[str]:
    seen: list[str] = []
    parse = jinja2.Environment._parse

    def counted(self, source, *args, **kwargs):
        seen.append(source)
        return parse(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "_parse", counted)
    return seen


def test_renders_as_before_and_compiles_each_source_once(cache, monkeypatch):
    seen = parses(monkeypatch)
    template = "{{ greeting }}, {{ names | join(' and ') }}!{% if loud %} (loud){% endif %}"
    for loud in (False, True, True):
        want = "hi, a and b!" + (" (loud)" if loud else "")
        assert render(template, {"greeting": "hi", "names": ["a", "b"], "loud": loud}) == want
    assert seen.count(template) == 1
    assert render("{{ n + 1 }}", {"n": 41}) == 42  # native types still
    assert render("{{ n + 1 }}", {"n": 1}) == 2
    assert seen.count("{{ n + 1 }}") <= 1
    assert len(list(cache.rglob("*"))) > 1  # kept in the folder too


def test_a_conditional_is_an_expression_parsed_once(cache, monkeypatch):
    parsed: list[int] = []
    parse = jinja2.parser.Parser.parse_expression

    def counted(self, *args, **kwargs):
        parsed.append(1)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.parser.Parser, "parse_expression", counted)
    condition = trust_as_template("a > 1 and b is defined")
    answers = [
        TemplateEngine(variables=variables).evaluate_conditional(condition)
        for variables in ({"a": 2, "b": 0}, {"a": 0, "b": 0}, {"a": 2})
    ]
    assert answers == [True, False, False]
    assert len(parsed) == 1


def test_other_delimiters_are_another_key(cache):
    overrides = TemplateOverrides.from_kwargs(
        {"variable_start_string": "[[", "variable_end_string": "]]"}
    )
    options = TemplateOptions(overrides=overrides)
    assert render("[[ x ]] {{ x }}", {"x": 1}, options) == "1 {{ x }}"
    assert render("[[ x ]] {{ x }}", {"x": 1}) == "[[ x ]] 1"


def test_a_syntax_error_is_not_kept(cache):
    with pytest.raises(Exception, match="unexpected"):
        render("{{ x + }}", {"x": 1})
    assert not template_code._memory


def test_the_next_process_reads_the_folder(tmp_path):
    """A second interpreter (the next run, or a worker) renders from the kept code: no parse."""
    folder = tmp_path / "template-code"
    program = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {COLLECTIONS!r})
        import jinja2
        from ansible._internal._templating._engine import TemplateEngine
        from ansible.template import trust_as_template
        from ansible_collections.streamstack.aws.plugins.plugin_utils import template_code
        template_code.install({str(folder)!r})
        parsed = []
        parse = jinja2.Environment._parse
        def counted(self, s, *a, **k):
            parsed.append(s)
            return parse(self, s, *a, **k)
        jinja2.Environment._parse = counted
        out = TemplateEngine(variables={{"x": 20}}).template(trust_as_template("{{{{ x * 2 }}}}!"))
        print(out, len(parsed))
        """
    )
    runs = [
        subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["40!", "1"], ["40!", "0"]]


def test_a_folder_open_to_others_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "open"
    folder.mkdir()
    os.chmod(folder, 0o777)  # noqa: S103 - what the cache must refuse
    monkeypatch.setattr(template_code, "_folder", template_code._folder)
    monkeypatch.setattr(template_code, "_memory", {})
    assert template_code.install(str(folder)) == ""
    assert render("{{ 1 + 1 }}", {}) == 2  # memory only
